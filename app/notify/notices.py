"""Notices about delivery to the county admins (in-app, written by the worker): a message that fails
or keeps failing, or whose outcome staff must decide (`delivery_failed`, once per outbox row), and the
month's SMS quota used up (`sms_quota_reached`, app.notify.sweep)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Membership
from app.core.i18n import DEFAULT_LOCALE, LOCALES, catalogue
from app.core.security import mask_mobile
from app.notify import outbox
from app.notify.config import NotifySettings
from app.notify.models import CHANNEL_NAMES, Outbox
from app.notify.texts import KINDS, render


class Troubled(Protocol):
    """What a notice names of the row in trouble."""

    id: int
    kind: str
    channel: str
    address: str | None
    due_at: datetime


async def county_admins(db: AsyncSession, config: NotifySettings) -> list[outbox.Recipient]:
    ids = (await db.scalars(select(Membership.user_id).where(
        Membership.tenant_id == config.tenant_id, Membership.role == "county_admin",
        Membership.revoked_at.is_(None)))).all()
    return await outbox.members(db, config.tenant_id, ids, config=config)


def mask_address(channel: str, address: str | None) -> str:
    if not address:
        return ""
    if channel == "email":
        local, _, domain = address.partition("@")
        return f"{local[:1]}***@{domain}"
    return mask_mobile(address)


def inapp_row(config: NotifySettings, kind: str, subject: str, who: outbox.Recipient, due_at: datetime,
              params: dict, now: datetime, key: str | None = None, body: str | None = None) -> dict:
    if body is None:
        body = render(kind, {**params, "name": who.name}, locale=who.locale, county_texts=config.message_texts)
    return dict(tenant_id=config.tenant_id, dedupe_key=key or outbox.dedupe_key(kind, subject, who, "inapp", due_at),
                kind=kind, channel="inapp", subject=subject, user_id=who.user_id, deputy_id=who.deputy_id,
                params=params, body=body, due_at=due_at, next_attempt_at=due_at, status="sent", sent_at=now)


async def insert_inapp(db: AsyncSession, rows: list[dict]) -> None:
    if rows:
        await db.execute(insert(Outbox).values(rows).on_conflict_do_nothing(
            index_elements=[Outbox.tenant_id, Outbox.dedupe_key]))


async def tell_failures(db: AsyncSession, config: NotifySettings, troubled: list[tuple[Troubled, str]],
                        now: datetime) -> None:
    """One in-app `delivery_failed` per row in trouble and county admin (once per outbox row, however
    often it is called: the dedupe key names the row). `troubled`: (row, the reason shown)."""
    if not troubled:
        return
    admins = await county_admins(db, config)
    rows = []
    for row, error in troubled:
        for admin in admins:
            locale = admin.locale if admin.locale in LOCALES else DEFAULT_LOCALE
            words = catalogue(locale)
            params = {"what": words.get(KINDS[row.kind].name, KINDS[row.kind].name),
                      "recipient": mask_address(row.channel, row.address),
                      "channel": words.get(CHANNEL_NAMES[row.channel], CHANNEL_NAMES[row.channel]),
                      "error": error or "", "outbox_id": row.id}
            rows.append(inapp_row(config, "delivery_failed", f"outbox:{row.id}", admin, row.due_at, params, now))
    await insert_inapp(db, rows)
