"""What each kind of message says. Built-in texts are English msgids translated by the catalogues
(Chinese by default); a county may write its own Chinese wording per kind (tenant_config.message_texts).
Placeholders are written {name}; an unknown placeholder renders empty rather than failing a send.

A kind that may go by SMS is also a template registered with the provider (docs/sms-templates.md,
app.notify.sms_templates): its variables are short values, and its link is `{site}/s/{link}` with
`{site}` (our public address) fixed in the template and only the short code `{link}` sent. An SMS
always says the registered (built-in Chinese) text; a county's own wording is for the in-app inbox
and e-mail, and must keep the kind's `required` placeholders."""

from __future__ import annotations

import string
from dataclasses import dataclass

from app.core.i18n import DEFAULT_LOCALE, LOCALES, catalogue, lazy
from app.notify import links


@dataclass(frozen=True)
class Kind:
    name: str  # the inbox title and the label in settings and the delivery log
    text: str  # English msgid with {placeholders}
    channels: tuple[str, ...]  # channels this kind may use; each recipient's choices narrow them
    required: tuple[str, ...] = ()  # placeholders a county's own wording must keep (the link as {site}/s/{link})


KINDS: dict[str, Kind] = {
    "activity_liaison": Kind(
        lazy("Upcoming activity: deputies to contact"),
        lazy("{station}: {kind} on {when} at {place}. Deputies due: {deputies}. Please contact them."),
        ("inapp", "sms", "email")),
    "activity_sms": Kind(
        lazy("Activity reminder"),
        lazy("Deputy {name}: {station} holds {kind} on {when} at {place} ({topic}). Sign in: {site}/s/{link}"),
        ("sms", "inapp", "email"), ("link",)),
    "activity_eve": Kind(
        lazy("Gentle activity reminder"),
        lazy("Deputy {name}, a gentle reminder: {kind} at {station} on {when}, at {place}."),
        ("inapp", "sms")),
    "activity_moved": Kind(
        lazy("Activity moved"),
        lazy("Deputy {name}: {kind} at {station} has moved to {when} at {place}. Sign in: {site}/s/{link}"),
        ("inapp", "sms", "email"), ("link",)),
    "activity_cancelled": Kind(
        lazy("Activity cancelled"),
        lazy("Deputy {name}: {kind} at {station} on {when} is cancelled. Reason: {reason}"),
        ("inapp", "sms", "email")),
    "case_receipt": Kind(
        lazy("Receipt for your opinion"),
        lazy("Your opinion has been registered. Receipt code {code}. Look up its progress at {site}/s/{link}"),
        ("sms",), ("code", "link")),
    "case_answer": Kind(
        lazy("Answer to your opinion"),
        lazy("Your opinion (receipt code {code}) has been answered: please see {site}/s/{link} "
             "To rate the answer, use your rating code {rating}."),
        ("sms",), ("code", "link", "rating")),
    "case_satisfaction": Kind(
        lazy("How satisfied are you?"),
        lazy("Please tell us how satisfied you are with the answer to opinion {code}: {site}/s/{link} "
             "Your rating code: {rating}"),
        ("sms",), ("link", "rating")),
    "case_due_soon": Kind(
        lazy("Case due soon"),
        lazy("Case {code} ({category}) is due on {due}: please reply in time. {site}/s/{link}"),
        ("inapp", "sms", "email"), ("link",)),
    "case_overdue": Kind(
        lazy("Case overdue: supervise"),
        lazy("Case {code} at {unit} was due on {due} and is overdue: please supervise. {site}/s/{link}"),
        ("inapp", "sms", "email"), ("link",)),
    "rule_at_risk": Kind(
        lazy("Rule at risk"),
        lazy("{rule}: {who} has {count} of {minimum} in {period}, which ends on {ends}."),
        ("inapp", "sms", "email")),
    "mailbox_weekly": Kind(
        lazy("Open the deputy mailbox"),
        lazy("{station}: please open the deputy mailbox this week and register what it holds. {site}/s/{link}"),
        ("inapp", "sms"), ("link",)),
    "yearly_report": Kind(
        lazy("Your yearly attendance report"),
        lazy("Deputy {name}: in {year} you attended {present} of {invited} activities. Report: {site}/s/{link}"),
        ("inapp", "sms", "email"), ("link",)),
    "points_published": Kind(
        lazy("Your duty points"),
        lazy("Deputy {name}: your duty points for {period} are {points}, rank {rank} of {peers} in {group}. "
             "Something wrong? Tell us: {site}/s/{link}"),
        ("inapp", "sms"), ("points", "link")),
    # A deputy without an account cannot open the points page: the same figures without a link.
    "points_published_no_account": Kind(
        lazy("Your duty points (deputies without an account)"),
        lazy("Deputy {name}: your duty points for {period} are {points}, rank {rank} of {peers} in {group}. "
             "Something wrong? Please tell your liaison station."),
        ("sms",), ("points",)),
    "appraisal_notice": Kind(
        lazy("Your duty appraisal result"),
        lazy("Deputy {name}: your duty appraisal for {year} is {grade} ({score} points). Please hand in your "
             "rectification report by {due}. Notice: {site}/s/{link}"),
        ("inapp", "sms"), ("grade", "due", "link")),
    # the notice of an appraisal that asks for no rectification report (the county's duty settings)
    "appraisal_result": Kind(
        lazy("Your duty appraisal result"),
        lazy("Deputy {name}: your duty appraisal for {year} is {grade} ({score} points). Notice: {site}/s/{link}"),
        ("inapp", "sms"), ("grade", "link")),
    "appraisal_report_due": Kind(
        lazy("Rectification report due"),
        lazy("Deputy {name}: please hand in your rectification report for the {year} duty appraisal by {due}: "
             "{site}/s/{link}"),
        ("inapp", "sms"), ("due", "link")),
    "delivery_failed": Kind(
        lazy("A message could not be sent"),
        lazy("A message ({what}) to {recipient} by {channel} failed: {error}"),
        ("inapp",)),
    "sms_quota_reached": Kind(
        lazy("SMS quota used up"),
        lazy("This month's {quota} SMS are used up: until next month messages go to the in-app inbox only."),
        ("inapp",)),
    # Notices of new work (app.notify.work_notices): one inbox row per item, and by SMS or e-mail one
    # digest per recipient, kind and half hour, saying how many items wait.
    "work_new_case": Kind(
        lazy("New opinion"),
        lazy("A new opinion has come in at {place} (receipt code {code}): {summary} Please see to it: {site}/s/{link}"),
        ("inapp",), ("link",)),
    "work_assigned": Kind(
        lazy("Case assigned to you"),
        lazy("Case {code} ({category}) has been assigned to {unit}, reply due on {due}. Please accept it: "
             "{site}/s/{link}"),
        ("inapp",), ("link",)),
    "work_sent_back": Kind(
        lazy("Case sent back to you"),
        lazy("Case {code} ({category}) has been sent back to {unit} to be handled again, reply due on {due}: "
             "{site}/s/{link}"),
        ("inapp",), ("link",)),
    "work_supervised": Kind(
        lazy("Case under supervision"),
        lazy("Case {code} at {unit} is under supervision: it was due on {due}. Please reply without delay: "
             "{site}/s/{link}"),
        ("inapp",), ("link",)),
    "work_station": Kind(
        lazy("Station waiting for you"),
        lazy("{station} is waiting for its next step: {step}. {site}/s/{link}"),
        ("inapp",), ("link",)),
    "digest_new_case": Kind(
        lazy("New opinions waiting"),
        lazy("New opinions waiting for you: {count}. Please sign in to see to them: {site}/s/{link}"),
        ("sms", "email"), ("count", "link")),
    "digest_assigned": Kind(
        lazy("Newly assigned cases waiting"),
        lazy("Newly assigned cases waiting for you to accept them: {count}. Please sign in: {site}/s/{link}"),
        ("sms", "email"), ("count", "link")),
    "digest_sent_back": Kind(
        lazy("Cases sent back waiting"),
        lazy("Cases sent back to you to be handled again: {count}. Please sign in: {site}/s/{link}"),
        ("sms", "email"), ("count", "link")),
    "digest_supervised": Kind(
        lazy("Cases under supervision waiting"),
        lazy("Cases under supervision waiting for your reply: {count}. Please sign in: {site}/s/{link}"),
        ("sms", "email"), ("count", "link")),
    "digest_station": Kind(
        lazy("Stations waiting for you"),
        lazy("Stations waiting for your approval, filing or putting into operation: {count}. Please sign in: "
             "{site}/s/{link}"),
        ("sms", "email"), ("count", "link")),
}


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


def render(kind: str, params: dict, *, locale: str | None = None, county_texts: dict | None = None) -> str:
    """The message in the recipient's language: the county's own wording (Chinese) when it has one,
    else the built-in text, in English where no translation exists. `{site}` is our public address."""
    locale = locale if locale in LOCALES else DEFAULT_LOCALE
    source = KINDS[kind].text
    text = (county_texts or {}).get(kind) if locale == DEFAULT_LOCALE else None
    if not text:
        text = catalogue(locale).get(source, source)
    values = _Blank({k: "" if v is None else v for k, v in params.items()})
    values["site"] = links.base_url()
    try:
        return text.format_map(values)[:600]
    except (ValueError, IndexError, AttributeError):
        # A county's text with a stray brace: send the built-in one rather than nothing.
        return catalogue(locale).get(source, source).format_map(values)[:600]


def sms_text(kind: str) -> str:
    """The text of the kind's SMS template as registered with the provider: the built-in Chinese."""
    source = KINDS[kind].text
    return catalogue(DEFAULT_LOCALE).get(source, source)


def render_sms(kind: str, params: dict) -> str:
    """An SMS says what its registered template says, whatever the county wrote for the inbox."""
    return render(kind, params, locale=DEFAULT_LOCALE)


def title(kind: str) -> str:
    from app.core.i18n import gettext

    return gettext(KINDS[kind].name)
