"""Digests of new work by SMS and e-mail: one message per recipient, kind and window saying how many
items wait (“您有5件新交办的群众意见待接收…”), however many come in — a busy unit gets one SMS, not fifty.

A digest is an ordinary outbox row (kind `digest_*`, subject "digest") due at the end of its window,
its dedupe key naming the recipient, channel and window. Each new item adds to the pending row of its
window (INSERT … ON CONFLICT DO UPDATE, only while the row is pending), and the body is written again
with the new count in the same transaction: the sweep sends a row's params and body as they are, so
what goes out is the count at the moment it is claimed. Once a window's row is being sent or sent,
new items start the next window's row.

Windows are half hours of local time. An SMS window that ends in the quiet hours ends when they do
(08:00): the evening's and the night's items make one SMS in the morning, not one per half hour. The
sweep's own quiet-hour hold never touches these rows (they are never due inside the quiet hours).
E-mail has no quiet hours.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Integer, Text, cast, func, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.notify import outbox
from app.notify.config import NotifySettings
from app.notify.models import Outbox
from app.notify.short_links import short_codes
from app.notify.texts import render, render_sms

WINDOW = timedelta(minutes=30)
SUBJECT = "digest"
DIGEST_KINDS = {"new_case": "digest_new_case", "case_assigned": "digest_assigned",
                "case_sent_back": "digest_sent_back", "case_supervised": "digest_supervised",
                "station_waiting": "digest_station"}
# Where a digest leads: the list the recipient works from (their scope narrows it).
LIST_PATHS = {"new_case": "/cases?state=registered", "case_assigned": "/cases?state=assigned",
              "case_sent_back": "/cases?state=assigned", "case_supervised": "/cases?overdue=1",
              "station_waiting": "/stations"}


def window_end(config: NotifySettings, at: datetime, channel: str) -> datetime:
    """The end of the window `at` falls in; for SMS moved out of the quiet hours."""
    local = at.astimezone(config.tz)
    start = local.replace(minute=local.minute - local.minute % 30, second=0, microsecond=0)
    return _out_of_quiet(config, start + WINDOW, channel)


def _out_of_quiet(config: NotifySettings, end: datetime, channel: str) -> datetime:
    if channel == "sms" and config.quiet_at(end.astimezone(config.tz).hour):
        return config.quiet_until(end).astimezone(config.tz)
    return end


def _body(config: NotifySettings, kind: str, channel: str, params: dict, who: outbox.Recipient) -> str:
    if channel == "sms":
        return render_sms(kind, params)
    return render(kind, params, locale=who.locale, county_texts=config.message_texts)


async def add(db: AsyncSession, config: NotifySettings, slug: str, waiting: dict, now: datetime) -> int:
    """Count new items into the recipients' digests. `waiting`: {(recipient, work kind): items};
    recipients accept SMS or e-mail as `outbox.members` says. Returns the digest rows touched."""
    paths = {kind: f"/t/{slug}{LIST_PATHS[kind]}" for _, kind in waiting}
    codes = await short_codes(db, config.tenant_id, paths.values(), now=now) if paths else {}
    touched = 0
    for (who, work_kind), count in waiting.items():
        kind = DIGEST_KINDS[work_kind]
        for channel, address in outbox.channels_for(kind, who):
            touched += await _count_in(db, config, kind, who, channel, address, count,
                                       codes[paths[work_kind]], now)
    return touched


async def _count_in(db: AsyncSession, config: NotifySettings, kind: str, who: outbox.Recipient, channel: str,
                    address: str | None, count: int, link: str, now: datetime) -> int:
    due = window_end(config, now, channel)
    for _ in range(3):  # this window's row already on its way: the next window's
        params = outbox.message_params(kind, {"count": count, "link": link}, who)
        row = dict(tenant_id=config.tenant_id, dedupe_key=outbox.dedupe_key(kind, SUBJECT, who, channel, due),
                   kind=kind, channel=channel, subject=SUBJECT, user_id=who.user_id, deputy_id=who.deputy_id,
                   address=address, params=params, body=_body(config, kind, channel, params, who), due_at=due,
                   next_attempt_at=due, status="pending")
        stmt = insert(Outbox).values(row)
        added = cast(cast(Outbox.params["count"].astext, Integer) + count, Text)
        stmt = stmt.on_conflict_do_update(
            index_elements=[Outbox.tenant_id, Outbox.dedupe_key],
            set_={"params": Outbox.params.op("||")(func.jsonb_build_object("count", added))},
            where=Outbox.status == "pending",
        ).returning(Outbox.id, Outbox.params)
        got = (await db.execute(stmt)).first()
        if got is not None:
            if got.params != params:  # counted into a row already waiting: its text says the new count
                await db.execute(update(Outbox).where(Outbox.tenant_id == config.tenant_id, Outbox.id == got.id)
                                 .values(body=_body(config, kind, channel, got.params, who))
                                 .execution_options(synchronize_session=False))
            return 1
        due = _out_of_quiet(config, due + WINDOW, channel)
    return 0
