"""A tenant's notification settings in one object: tenant_config's columns (or their defaults when the
county has saved no settings yet) with the tenant's time zone and SMS quota."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.tenancy.models import Tenant, TenantConfig

FIELDS = ("quiet_start", "quiet_end", "required_channels", "remind_liaison_days", "remind_sms_days",
          "remind_eve_days", "case_due_soon_days", "notify_case_person", "notify_case_overdue", "notify_at_risk",
          "notify_work", "mailbox_weekday", "yearly_report_day", "message_texts")


@dataclass
class NotifySettings:
    tenant_id: int
    timezone: str = "Asia/Shanghai"
    sms_quota: int = 1000
    quiet_start: int = 21
    quiet_end: int = 8
    required_channels: list[str] = field(default_factory=list)
    remind_liaison_days: int = 7
    remind_sms_days: int = 3
    remind_eve_days: int = 1
    case_due_soon_days: int = 2
    notify_case_person: bool = True
    notify_case_overdue: bool = True
    notify_at_risk: bool = True
    notify_work: bool = True  # digests of new work by SMS and e-mail (the inbox always gets each item)
    mailbox_weekday: int = 1
    yearly_report_day: int = 10
    message_texts: dict = field(default_factory=dict)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def quiet_at(self, hour: int) -> bool:
        """Is this local hour inside the quiet hours (which may run over midnight)?"""
        start, end = self.quiet_start, self.quiet_end
        if start == end:
            return False
        return start <= hour < end if start < end else (hour >= start or hour < end)

    def quiet_until(self, now: datetime) -> datetime:
        """The end of the quiet hours that `now` falls in (local time of the tenant), in UTC."""
        local = now.astimezone(self.tz)
        end = local.replace(hour=self.quiet_end, minute=0, second=0, microsecond=0)
        if end <= local:
            end += timedelta(days=1)
        return end.astimezone(timezone.utc)


async def notify_settings(db: AsyncSession, tenant_id: int) -> NotifySettings:
    row = (await db.execute(
        select(Tenant.timezone, Tenant.sms_quota, TenantConfig)
        .select_from(Tenant).outerjoin(TenantConfig, TenantConfig.tenant_id == Tenant.id)
        .where(Tenant.id == tenant_id)
    )).first()
    out = NotifySettings(tenant_id=tenant_id)
    if row is None:
        return out
    out.timezone, out.sms_quota = row[0] or out.timezone, row[1] if row[1] is not None else out.sms_quota
    config = row[2]
    if config is not None:
        for name in FIELDS:
            value = getattr(config, name)
            if value is not None:
                setattr(out, name, value)
    return out
