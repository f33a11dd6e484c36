"""What an SMS provider approves: a template registered once (its text fixed, the host of our links
in it) and, per message, only short variable values.

Alibaba Cloud SMS (and Tencent Cloud SMS likewise) refuse a variable that looks like a URL
(`isv.PARAM_NOT_SUPPORT_URL`: the domain belongs in the approved template text), a variable longer
than 35 characters or empty, and a message that leaves out a variable of its template
(`isv.TEMPLATE_MISSING_PARAMETERS`). So every kind's text (app.notify.texts) names its link as
`{site}/s/{link}`: `{site}` is our public address, fixed in the template; only `{link}`, a short code
(app.notify.short_links), is sent. `template_params` turns what a producer knows into exactly the
kind's variables, each made acceptable here, in one place: whitespace collapsed, anything that
looks like an address defused, 【】 (the signature's brackets) replaced, at most 35 characters (a
longer name, place, topic or reason ends in "…"), never empty ("无").
"""

from __future__ import annotations

import re
import string

from app.notify.texts import KINDS

VALUE_MAX = 35  # characters per variable (Alibaba Cloud SMS template rules)
EMPTY = "无"  # a variable may not be empty
ELLIPSIS = "…"
SITE = "site"  # fixed in the registered template text, never sent
NAME_SEPARATOR = "、"
# What a provider takes for an address: a scheme, www., or a dotted host name (letters after the dot).
URL_LIKE = re.compile(r"https?|www\.|://|[a-z0-9-]+\.[a-z]{2,}", re.IGNORECASE)


def variables(kind: str) -> tuple[str, ...]:
    """The template's variables in the order the text uses them (`{site}` is not one)."""
    found = []
    for name in _ordered(KINDS[kind].text):
        if name != SITE and name not in found:
            found.append(name)
    return tuple(found)


def _ordered(text: str) -> list[str]:
    return [field for _, field, _, _ in string.Formatter().parse(text) if field]


def sms_kinds() -> list[str]:
    """The kinds that may go out by SMS: each needs a template registered with the provider."""
    return [k for k, kind in KINDS.items() if "sms" in kind.channels]


def shorten(text: str, limit: int = VALUE_MAX) -> str:
    return text if len(text) <= limit else text[:limit - 1] + ELLIPSIS


def _defuse(text: str) -> str:
    """A name or place that reads like an address ("abc.com会议室") would make the provider refuse
    the whole message: its dots become middle dots and "http" full-width letters."""
    if not URL_LIKE.search(text):
        return text
    text = re.sub(r"(?i)http", lambda m: "".join(chr(ord(c) + 0xFEE0) for c in m.group()), text)
    return text.replace("://", "：//").replace(".", "·")


def sms_value(value) -> str:
    """One variable as the provider accepts it (see the module's docstring)."""
    text = " ".join(("" if value is None else str(value)).split())
    text = _defuse(text.replace("【", "〔").replace("】", "〕"))
    return shorten(text) or EMPTY


def template_params(kind: str, values: dict) -> dict[str, str]:
    """Exactly the kind's variables (no more: a provider refuses unknown ones too), each acceptable."""
    return {name: sms_value(values.get(name)) for name in variables(kind)}


def names_summary(names, limit: int = VALUE_MAX) -> str:
    """Names joined by "、", as many as fit, then "等N人" (so many in all): 张伟、李娜等12人."""
    names = [" ".join(n.split()) for n in names if n and n.strip()]
    whole = NAME_SEPARATOR.join(names)
    if len(whole) <= limit:
        return whole
    for shown in range(len(names) - 1, -1, -1):
        tail = f"等{len(names)}人"
        head = NAME_SEPARATOR.join(names[:shown]) if shown else shorten(names[0], limit - len(tail))
        if len(head) + len(tail) <= limit:
            return head + tail
    return shorten(whole, limit)


def problems(params: dict, kind: str | None = None) -> list[str]:
    """What a provider would refuse in these template parameters (empty: nothing)."""
    found = []
    for name, value in params.items():
        if not isinstance(value, str) or not 1 <= len(value) <= VALUE_MAX:
            found.append(f"{name}: {len(str(value))} characters (1–{VALUE_MAX})")
        elif URL_LIKE.search(value):
            found.append(f"{name}: looks like an address ({value})")
    if kind is not None:
        wanted = set(variables(kind))
        missing, extra = wanted - set(params), set(params) - wanted
        found += [f"{name}: missing" for name in sorted(missing)]
        found += [f"{name}: not a variable of the template" for name in sorted(extra)]
    return found


def registered_text(text: str, site: str) -> str:
    """A template's text as the operator registers it: `${name}` variables, the host written out."""
    return re.sub(r"\{(\w+)\}", lambda m: "${%s}" % m.group(1), text.replace("{site}", site))

