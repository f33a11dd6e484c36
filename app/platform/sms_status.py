"""The platform's SMS provider as the operator sees it (/ops/sms): which provider is in use, the last
success and failure (app.notify.provider_status), the share of errors among the provider's answers in
the last hour and day, the hold while the account is in arrears (lifted here, audited), the open
alerts, and the counties with messages that need attention. Counts only: tenant rows are read through
platform_sms_health() (app.platform.services.sms_health). No web imports; `lift_hold` commits."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlparse

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.audit.services import record_platform
from app.core.clock import now
from app.core.errors import Refusal
from app.core.i18n import lazy
from app.notify import provider_status
from app.notify.models import PlatformAlert, SmsProviderStatus
from app.platform.services import sms_health
from app.tenancy.models import Tenant

PROVIDER_NAMES = {"aliyun": lazy("Alibaba Cloud SMS"), "tencent": lazy("Tencent Cloud SMS")}
ALERT_NAMES = {provider_status.HELD_ALERT: lazy("Every SMS is held: the SMS account is in arrears")}
TROUBLE_KEYS = ("msg_unknown", "msg_stuck", "msg_failing")


@dataclass
class Window:
    """The provider's answers to SMS attempts in a window: how many, and how many were errors."""
    answered: int = 0
    errors: int = 0

    @property
    def error_percent(self) -> int | None:
        return round(100 * self.errors / self.answered) if self.answered else None


@dataclass
class ProviderHealth:
    provider: str  # a key of PROVIDER_NAMES
    where: str  # scheme://host[:port] of the configured endpoint; "" when none is
    status: SmsProviderStatus | None
    alerts: list[PlatformAlert]
    hour: Window = field(default_factory=Window)
    day: Window = field(default_factory=Window)
    troubled: list[tuple[Tenant, dict[str, int]]] = field(default_factory=list)  # counties with trouble

    @property
    def held(self) -> bool:
        return self.status is not None and self.status.held_since is not None


def _where(url: str) -> str:
    parsed = urlparse(url or "")
    if not parsed.hostname:
        return ""
    return f"{parsed.scheme}://{parsed.hostname}{f':{parsed.port}' if parsed.port else ''}"


async def provider_health(db: AsyncSession, *, provider: str, url: str, at: datetime | None = None) -> ProviderHealth:
    """Everything the page shows, in a fixed number of queries whatever the number of tenants."""
    figures = await sms_health(db, at)
    view = ProviderHealth(provider, _where(url), await provider_status.status(db),
                          await provider_status.open_alerts(db))
    for counts in figures.values():
        view.hour.answered += counts["sms_hour"]
        view.hour.errors += counts["sms_hour_errors"]
        view.day.answered += counts["sms_day"]
        view.day.errors += counts["sms_day_errors"]
    troubled = {t: c for t, c in figures.items() if any(c[k] for k in TROUBLE_KEYS)}
    if troubled:
        tenants = (await db.scalars(select(Tenant).where(Tenant.id.in_(troubled)).order_by(Tenant.name))).all()
        view.troubled = [(tenant, troubled[tenant.id]) for tenant in tenants]
    return view


async def lift_hold(db: AsyncSession, *, actor: User, client_addr: str | None, at: datetime | None = None) -> None:
    """The operator says the account was topped up: SMS go out again (the next sweep) and the alert is
    resolved. Audited; commits. Refused when nothing is held (another operator lifted it, or a probe
    went through meanwhile)."""
    held = await provider_status.status(db)
    code = held.held_code if held is not None else None
    if not await provider_status.lift(db, at or now(), actor.id):
        await db.rollback()
        raise Refusal(lazy("SMS are not held: nothing to lift."))
    await record_platform(db, actor_user_id=actor.id, action="sms_hold_lifted", target="sms_provider",
                          client_addr=client_addr, details={"code": code})
    await db.commit()


async def alert_texts(db: AsyncSession) -> list[str]:
    """The open alerts, named, for the console's warning (one query)."""
    return [str(ALERT_NAMES.get(a.kind, a.kind)) for a in await provider_status.open_alerts(db)]
