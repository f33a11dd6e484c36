"""Changing how notifications go out: the county's settings (county admins: quiet hours, required
channels, reminder offsets and switches, the mailbox weekday, the yearly report day, the county's own
wording per kind), a member's own channel choices, and sending failed messages again.

Services change the session (and audit the county's changes); they do not commit. Bad input raises
Refusal (its ``text()`` is shown), with nothing written.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Membership, User
from app.audit.services import record
from app.core.errors import Refusal
from app.core.i18n import catalogue, lazy
from app.notify.config import NotifySettings
from app.notify.models import Outbox
from app.notify.sms_templates import SITE, variables
from app.notify.texts import KINDS
from app.tenancy.config import config_row

TEXT_MAX = 300
LINK_FORM = "{site}/s/{link}"  # a link is our address, /s/ and the short code
EMAIL_MAX = 120
EMAIL_RE = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
OPTIONAL_CHANNELS = ("sms", "email")  # in-app is always on
# number fields: (lowest, highest, message when out of range)
NUMBERS = {
    "quiet_start": (0, 23, lazy("Quiet hours start at a whole hour from 0 to 23.")),
    "quiet_end": (0, 23, lazy("Quiet hours end at a whole hour from 0 to 23.")),
    "remind_liaison_days": (0, 60, lazy("The liaison officer's reminder comes 0 to 60 days before an activity (0: off).")),
    "remind_sms_days": (0, 60, lazy("The deputies' SMS reminder comes 0 to 60 days before an activity (0: off).")),
    "remind_eve_days": (0, 60, lazy("The gentle reminder comes 0 to 60 days before an activity (0: off).")),
    "case_due_soon_days": (0, 60, lazy("The due-soon reminder comes 0 to 60 days before a case is due (0: off).")),
    "mailbox_weekday": (0, 7, lazy("Please choose the weekday of the mailbox reminder, or no reminder.")),
    "yearly_report_day": (0, 31, lazy("The yearly report goes out on a day of January from 1 to 31 (0: off).")),
}
SWITCHES = ("notify_case_person", "notify_case_overdue", "notify_at_risk", "notify_work")
TEXT_TOO_LONG = lazy("The wording of “%(kind)s” may have at most %(n)s characters.")
TEXT_UNKNOWN = lazy("The wording of “%(kind)s” uses {%(name)s}, which this message does not know. It may use: %(known)s.")
TEXT_MISSING = lazy("The wording of “%(kind)s” must keep %(needed)s (it must keep: %(required)s).")
TEXT_BRACES = lazy("The wording of “%(kind)s” has a brace without its pair: write placeholders as {name}.")
EMAIL_BAD = lazy("“%(email)s” is not an e-mail address: please check it (e.g. name@example.com).")
EMAIL_NEEDED = lazy("To receive e-mail, please give your e-mail address.")
NOT_FAILED = lazy("This message has not failed: there is nothing to send again.")
NONE_FAILED = lazy("No message has failed: there is nothing to send again.")


# --- the county's settings ------------------------------------------------------------------------


def builtin_text(kind: str) -> str:
    """The built-in wording in Chinese (the county's own wording replaces it)."""
    source = KINDS[kind].text
    return catalogue("zh_Hans").get(source, source)


def allowed_placeholders(kind: str) -> list[str]:
    """The kind's variables (what its SMS template sends) and `{site}`, our address."""
    return [*variables(kind), SITE]


def required_placeholders(kind: str) -> list[str]:
    """What the county's wording must keep, as it must be written ({site}/s/{link} for the link)."""
    return [LINK_FORM if name == "link" else "{%s}" % name for name in KINDS[kind].required]


def check_text(kind: str, text: str) -> str:
    """The county's own wording (in-app and e-mail; an SMS says its registered template's text):
    only the kind's placeholders, and every required one kept."""
    text = " ".join((text or "").replace("\r\n", "\n").split())
    if not text:
        return ""
    if len(text) > TEXT_MAX:
        raise Refusal(TEXT_TOO_LONG, kind=KINDS[kind].name, n=TEXT_MAX)
    try:
        used = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
    except ValueError:
        raise Refusal(TEXT_BRACES, kind=KINDS[kind].name) from None
    known = allowed_placeholders(kind)
    for name in used:
        if name not in known:
            raise Refusal(TEXT_UNKNOWN, kind=KINDS[kind].name, name=name or "",
                          known="、".join("{%s}" % k for k in known))
    for needed in required_placeholders(kind):
        if needed not in text:
            raise Refusal(TEXT_MISSING, kind=KINDS[kind].name, needed=needed,
                          required="、".join(required_placeholders(kind)))
    return text


def form_of(config: NotifySettings) -> dict:
    """The settings page's fields from the saved settings."""
    form = {k: str(getattr(config, k)) for k in NUMBERS}
    form.update({k: bool(getattr(config, k)) for k in SWITCHES})
    form["required_channels"] = [c for c in OPTIONAL_CHANNELS if c in (config.required_channels or [])]
    form.update({f"text_{k}": (config.message_texts or {}).get(k, "") for k in KINDS})
    return form


def read_form(form) -> dict:
    """What the settings form sent, as strings (each field cut to a sane length)."""
    values = {k: str(form.get(k, ""))[:10] for k in NUMBERS}
    values.update({k: form.get(k) in ("1", "on", "true") for k in SWITCHES})
    values["required_channels"] = [c for c in OPTIONAL_CHANNELS if c in form.getall("required_channels", [])]
    values.update({f"text_{k}": str(form.get(f"text_{k}", ""))[:2000] for k in KINDS})
    return values


def _number(key: str, value: str) -> int:
    low, high, message = NUMBERS[key]
    text = str(value or "").strip()
    if not re.fullmatch(r"\d{1,3}", text) or not low <= int(text) <= high:
        raise Refusal(message)
    return int(text)


async def save_settings(db: AsyncSession, *, tenant_id: int, actor_id: int, values: dict,
                        client_addr: str | None = None) -> None:
    """Check every field (the first problem is refused), then save and audit."""
    numbers = {k: _number(k, values.get(k, "")) for k in NUMBERS}
    texts = {}
    for kind in KINDS:
        text = check_text(kind, values.get(f"text_{kind}", ""))
        if text:
            texts[kind] = text
    row = await config_row(db, tenant_id)
    for key, value in numbers.items():
        setattr(row, key, value)
    for key in SWITCHES:
        setattr(row, key, bool(values.get(key)))
    row.required_channels = [c for c in OPTIONAL_CHANNELS if c in values.get("required_channels", [])]
    row.message_texts = texts
    row.updated_at = func.now()
    await db.flush()
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="notify_settings_saved",
                 target="tenant_config", client_addr=client_addr,
                 details={**numbers, **{k: bool(values.get(k)) for k in SWITCHES},
                          "required_channels": row.required_channels, "own_wording": sorted(texts)})


# --- a member's channels --------------------------------------------------------------------------


@dataclass
class Choices:
    channels: list[str]  # the member's own choice (besides in-app)
    required: list[str]  # what the county requires: shown ticked and fixed
    email: str


async def my_choices(db: AsyncSession, membership: Membership, user: User, config: NotifySettings) -> Choices:
    channels = await db.scalar(select(Membership.channels).where(
        Membership.tenant_id == membership.tenant_id, Membership.id == membership.id))
    email = await db.scalar(select(User.email).where(User.id == user.id))
    return Choices(channels=[c for c in OPTIONAL_CHANNELS if c in (channels or [])],
                   required=[c for c in OPTIONAL_CHANNELS if c in (config.required_channels or [])], email=email or "")


async def save_choices(db: AsyncSession, *, membership: Membership, user: User, config: NotifySettings,
                       chosen: list[str], email: str) -> None:
    """The member's channels in this unit, and their e-mail address (one per person, for every unit).
    A channel the county requires keeps what the member had chosen before (it is on regardless)."""
    email = email.strip()
    if email and (len(email) > EMAIL_MAX or not EMAIL_RE.match(email)):
        raise Refusal(EMAIL_BAD, email=email[:EMAIL_MAX])
    required = set(config.required_channels or [])
    before = await my_choices(db, membership, user, config)
    wanted = {c for c in chosen if c in OPTIONAL_CHANNELS and c not in required}
    wanted |= {c for c in before.channels if c in required}
    if "email" in wanted | required and not email:
        raise Refusal(EMAIL_NEEDED)
    await db.execute(update(Membership).where(Membership.tenant_id == membership.tenant_id,
                                              Membership.id == membership.id)
                     .values(channels=[c for c in OPTIONAL_CHANNELS if c in wanted]))
    await db.execute(update(User).where(User.id == user.id).values(email=email or None))


# --- sending failed messages again ----------------------------------------------------------------


async def resend_failed(db: AsyncSession, *, tenant_id: int, actor_id: int, row: Outbox | None = None,
                        now: datetime | None = None, client_addr: str | None = None) -> int:
    """Failed messages (all of them, or one row) go back to the queue, due now; their attempts are
    kept. Audited. Refusal when there is nothing to send again."""
    now = now or datetime.now(timezone.utc)
    stmt = update(Outbox).where(Outbox.status == "failed")
    if row is not None:
        if row.status != "failed":
            raise Refusal(NOT_FAILED)
        stmt = stmt.where(Outbox.id == row.id)
    ids = list((await db.execute(
        stmt.values(status="pending", next_attempt_at=now, claimed_at=None)
        .returning(Outbox.id).execution_options(synchronize_session=False))).scalars().all())
    if not ids:
        raise Refusal(NONE_FAILED)
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="notifications_resent",
                 target=f"outbox:{row.id}" if row is not None else "outbox",
                 client_addr=client_addr, details={"count": len(ids), "ids": sorted(ids)[:100]})
    return len(ids)
