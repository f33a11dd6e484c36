"""Tenants (platform level) and each tenant's administrative tree."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import (
    BigInteger, Boolean, DateTime, ForeignKey, ForeignKeyConstraint, Identity, Integer, String, func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base

TENANT_KINDS = ("county", "joint")
TENANT_STATUSES = ("pending", "active", "suspended", "deleted")  # deleted: a tombstone (app.data.closing)
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,39}$")  # a tenant's web address: /t/<slug>, /p/<slug>
DIVISION_RE = re.compile(r"^\d{6}$")  # a county-level administrative division code
NODE_KINDS = ("county", "township", "street", "village", "community", "unit", "area")


class Tenant(Base):
    """A county congress (kind county) or a joint station across a border (kind joint)."""

    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(10))
    division_code: Mapped[str] = mapped_column(String(6))
    status: Mapped[str] = mapped_column(String(10), default="active")
    timezone: Mapped[str] = mapped_column(String(40), default="Asia/Shanghai")
    preset: Mapped[str | None] = mapped_column(String(80))
    sms_quota: Mapped[int] = mapped_column(Integer, default=1000)  # SMS per month, set by the operator
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    status_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deletion_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deletion_scheduled_by: Mapped[int | None] = mapped_column(BigInteger)


class AdminNode(Base):
    """A node of the county's administrative tree: county → township/street → village/community/unit."""

    __tablename__ = "admin_nodes"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "parent_id"], ["admin_nodes.tenant_id", "admin_nodes.id"]),
    )

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(12))
    division_code: Mapped[str | None] = mapped_column(String(12))
    # '/<root id>/<child id>/…/<own id>/': the subtree of a node is every path starting with its own.
    path: Mapped[str] = mapped_column(String(400))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


DEFAULT_LIFECYCLE = ["proposed", "approved", "filed", "active", "closed"]


# How long the public's name and mobile are kept after a case closes, unless the county sets it
# (app.data.retention; the public opinion form names it).
CASE_PERSON_MONTHS = 24


class TenantConfig(Base):
    """One row per tenant: the rules its stations are checked against."""

    __tablename__ = "tenant_config"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    forbidden_words: Mapped[list[str]] = mapped_column(ARRAY(String), default=list)
    lifecycle: Mapped[list[str]] = mapped_column(ARRAY(String), default=lambda: list(DEFAULT_LIFECYCLE))
    # {"city": {"min": 2, "max": 3}, "county": {"min": 5}}: deputies per station by level.
    seats: Mapped[dict] = mapped_column(JSONB, default=dict)
    checklist_name: Mapped[str] = mapped_column(String(40), default="")
    # Sign-in opens this long before an activity starts and closes this long after it ends.
    signin_opens_minutes: Mapped[int] = mapped_column(Integer, default=60)
    signin_closes_minutes: Mapped[int] = mapped_column(Integer, default=120)
    # A rule not yet met is "at risk" when its period ends within this many days.
    at_risk_days: Mapped[int] = mapped_column(Integer, default=10)
    # Activity photos: originals are kept while the tenant's originals stay within this size.
    photo_originals_mb: Mapped[int] = mapped_column(Integer, default=500)
    # Cases: default days to reply and to feed back (working days), how often an unsatisfied answer
    # may be sent back, and the public form's limits per client and per station (per hour).
    case_reply_days: Mapped[int] = mapped_column(Integer, default=15)
    case_feedback_days: Mapped[int] = mapped_column(Integer, default=5)
    case_rehandle_limit: Mapped[int] = mapped_column(Integer, default=1)
    public_limit_per_client: Mapped[int] = mapped_column(Integer, default=5)
    public_limit_per_station: Mapped[int] = mapped_column(Integer, default=60)
    # The person may rate a fed-back answer this many days; after that the case closes unrated.
    case_rating_days: Mapped[int] = mapped_column(Integer, default=30)
    # Reminders and notifications (app/notify): no SMS from quiet_start to quiet_end (local hours; they
    # wait until morning), channels every member gets, reminder offsets in days (0 = off), switches,
    # the weekday of the mailbox reminder (0 = off), the January day of the yearly report (0 = off),
    # and the county's own wording per message kind.
    quiet_start: Mapped[int] = mapped_column(Integer, default=21)
    quiet_end: Mapped[int] = mapped_column(Integer, default=8)
    required_channels: Mapped[list[str]] = mapped_column(ARRAY(String), default=list)
    remind_liaison_days: Mapped[int] = mapped_column(Integer, default=7)
    remind_sms_days: Mapped[int] = mapped_column(Integer, default=3)
    remind_eve_days: Mapped[int] = mapped_column(Integer, default=1)
    case_due_soon_days: Mapped[int] = mapped_column(Integer, default=2)
    notify_case_person: Mapped[bool] = mapped_column(Boolean, default=True)
    notify_case_overdue: Mapped[bool] = mapped_column(Boolean, default=True)
    notify_at_risk: Mapped[bool] = mapped_column(Boolean, default=True)
    notify_work: Mapped[bool] = mapped_column(Boolean, default=True)  # new work's digests by SMS/e-mail
    mailbox_weekday: Mapped[int] = mapped_column(Integer, default=1)
    yearly_report_day: Mapped[int] = mapped_column(Integer, default=10)
    message_texts: Mapped[dict] = mapped_column(JSONB, default=dict)
    # Retention periods in months (app.data.retention, applied nightly): the public's name and mobile
    # after a case closes, rosters of deputies no longer serving, delivery logs, the audit log (>= 6).
    retain_case_person_months: Mapped[int] = mapped_column(Integer, default=CASE_PERSON_MONTHS)
    retain_roster_months: Mapped[int] = mapped_column(Integer, default=12)
    retain_delivery_months: Mapped[int] = mapped_column(Integer, default=6)
    retain_audit_months: Mapped[int] = mapped_column(Integer, default=36)
    # The set-up checklist on the county admin's home (app.home.setup) was completed or dismissed.
    setup_done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class HandlingUnit(Base):
    """承办单位, an organisation of the tenant that handles cases (app.cases). Its users are members with
    role handling_unit and ``Membership.handling_unit_id``, so it is defined here, below accounts."""

    __tablename__ = "handling_units"
    __table_args__ = (ForeignKeyConstraint(["tenant_id", "node_id"], ["admin_nodes.tenant_id", "admin_nodes.id"]),)

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(20))
    level: Mapped[str] = mapped_column(String(10))  # township | county
    node_id: Mapped[int | None] = mapped_column(BigInteger)
    sort: Mapped[int] = mapped_column(Integer, default=0)
    contact_name: Mapped[str] = mapped_column(String(40), default="")
    contact_phone: Mapped[str] = mapped_column(String(20), default="")
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
