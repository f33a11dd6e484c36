"""Activities (活动) of homes and stations: kinds, yearly plans, the activities with their history,
invitations, sign-in codes, attendance (签到), photos, and the opinions and suggestions they yield."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger, Boolean, Date, DateTime, ForeignKey, ForeignKeyConstraint, Identity, Integer, LargeBinary, String,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, deferred, mapped_column

from app.core.db import Base
from app.core.i18n import lazy

STATUSES = ("planned", "held", "cancelled")
STATUS_NAMES = {
    "planned": lazy("Planned"),
    "held": lazy("Held and recorded"),
    "cancelled": lazy("Cancelled"),
}
SIGNIN_METHODS = ("link", "code", "login", "staff")
SIGNIN_METHOD_NAMES = {
    "link": lazy("Personal link"),
    "code": lazy("Scanned the code at the station"),
    "login": lazy("Signed in to Lianluo"),
    "staff": lazy("Signed in by staff on the deputy's behalf"),
}
PLAN_STATUSES = ("draft", "published")
SUGGESTION_KINDS = ("suggestion", "motion")

# The standard kinds (DOMAIN.md); presets ship them, a tenant renames, retires or adds its own.
STANDARD_KINDS = (
    ("reception", "接待选民"), ("visit", "走访选区"), ("survey", "调研视察"), ("training", "学习培训"),
    ("briefing", "政情通报"), ("meeting", "代表会议"), ("duty_report", "述职评议"), ("exchange", "履职交流"),
    ("aid", "扶贫帮困"), ("law_inspection", "执法检查"), ("appraisal", "民主评议"),
)


class ActivityKind(Base):
    __tablename__ = "activity_kinds"

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(40))
    sort: Mapped[int] = mapped_column(Integer, default=0)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ActivityPlan(Base):
    """A station's yearly plan (年度活动计划). Its entries are the activities with this plan_id."""

    __tablename__ = "activity_plans"
    __table_args__ = (ForeignKeyConstraint(["tenant_id", "station_id"], ["stations.tenant_id", "stations.id"]),)

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    station_id: Mapped[int] = mapped_column(BigInteger)
    year: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="draft")
    note: Mapped[str] = mapped_column(String(1000), default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    published_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Activity(Base):
    """One activity of a station (or of a deputy group): planned, then held and recorded, or cancelled."""

    __tablename__ = "activities"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "kind_id"], ["activity_kinds.tenant_id", "activity_kinds.id"]),
        ForeignKeyConstraint(["tenant_id", "station_id"], ["stations.tenant_id", "stations.id"]),
        ForeignKeyConstraint(["tenant_id", "group_id"], ["deputy_groups.tenant_id", "deputy_groups.id"]),
        ForeignKeyConstraint(["tenant_id", "plan_id"], ["activity_plans.tenant_id", "activity_plans.id"]),
    )

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind_id: Mapped[int] = mapped_column(BigInteger)
    station_id: Mapped[int | None] = mapped_column(BigInteger)
    group_id: Mapped[int | None] = mapped_column(BigInteger)
    plan_id: Mapped[int | None] = mapped_column(BigInteger)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    place: Mapped[str] = mapped_column(String(200), default="")
    topic: Mapped[str] = mapped_column(String(200), default="")
    responsible_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(10), default="planned")
    notes: Mapped[str] = mapped_column(String(5000), default="")
    people_received: Mapped[int | None] = mapped_column(Integer)
    recorded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancel_reason: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ActivityEvent(Base):
    """One step of an activity's history. ``data`` holds what changed (e.g. {"from": iso, "to": iso},
    {"deputy_ids": [...]}); ``plan_change`` marks a change to a published yearly plan."""

    __tablename__ = "activity_events"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "activity_id"], ["activities.tenant_id", "activities.id"]),
    )

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    activity_id: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(20))
    data: Mapped[dict] = mapped_column(JSONB, default=dict)
    note: Mapped[str] = mapped_column(String(500), default="")
    plan_change: Mapped[bool] = mapped_column(Boolean, default=False)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Invitation(Base):
    """A deputy invited to an activity. ``token`` is the secret of their personal sign-in link;
    a withdrawn invitation's link no longer works. ``absence_reason`` is the leave (请假) the deputy
    asked for or staff recorded (``app.activities.absences``), None when there is none."""

    __tablename__ = "activity_invitations"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "activity_id"], ["activities.tenant_id", "activities.id"]),
        ForeignKeyConstraint(["tenant_id", "deputy_id"], ["deputies.tenant_id", "deputies.id"]),
    )

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    activity_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    deputy_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    token: Mapped[str] = mapped_column(String(40))
    invited_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    invited_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    absence_reason: Mapped[str | None] = mapped_column(String(100))
    absence_recorded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    absence_recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class SigninCode(Base):
    """The code in the QR shown at the station during sign-in: short-lived and single-use."""

    __tablename__ = "signin_codes"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "activity_id"], ["activities.tenant_id", "activities.id"]),
        ForeignKeyConstraint(["tenant_id", "used_by_deputy_id"], ["deputies.tenant_id", "deputies.id"]),
    )

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    activity_id: Mapped[int] = mapped_column(BigInteger)
    code: Mapped[str] = mapped_column(String(20))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    used_by_deputy_id: Mapped[int | None] = mapped_column(BigInteger)


class Attendance(Base):
    """A deputy present at an activity. Only an invited deputy can be (composite key to the
    invitation); a sign-in by staff carries its reason, shown wherever the attendance is."""

    __tablename__ = "attendances"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "activity_id", "deputy_id"],
            ["activity_invitations.tenant_id", "activity_invitations.activity_id", "activity_invitations.deputy_id"],
        ),
    )

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    activity_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    deputy_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    method: Mapped[str] = mapped_column(String(10))
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    on_behalf_reason: Mapped[str] = mapped_column(String(200), default="")
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    left_early: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str] = mapped_column(String(200), default="")


class ActivityPhoto(Base):
    __tablename__ = "activity_photos"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "activity_id"], ["activities.tenant_id", "activities.id"]),
        ForeignKeyConstraint(["tenant_id", "image_id"], ["images.tenant_id", "images.id"]),
    )

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    activity_id: Mapped[int] = mapped_column(BigInteger)
    image_id: Mapped[int] = mapped_column(BigInteger)
    caption: Mapped[str] = mapped_column(String(100), default="")
    original: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))  # only within the tenant's limit
    original_type: Mapped[str | None] = mapped_column(String(30))
    original_bytes: Mapped[int] = mapped_column(Integer, default=0)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Opinion(Base):
    """An opinion (社情民意) raised by the public, registered at an activity or by a deputy. The cases
    issue turns each into a case with its workflow."""

    __tablename__ = "opinions"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "activity_id"], ["activities.tenant_id", "activities.id"]),
        ForeignKeyConstraint(["tenant_id", "station_id"], ["stations.tenant_id", "stations.id"]),
        ForeignKeyConstraint(["tenant_id", "deputy_id"], ["deputies.tenant_id", "deputies.id"]),
    )

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    activity_id: Mapped[int | None] = mapped_column(BigInteger)
    station_id: Mapped[int | None] = mapped_column(BigInteger)
    deputy_id: Mapped[int | None] = mapped_column(BigInteger)  # the deputy who received it
    received_on: Mapped[date] = mapped_column(Date)
    raised_by: Mapped[str] = mapped_column(String(40), default="")  # a name, optional
    content: Mapped[str] = mapped_column(String(2000))
    registered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Suggestion(Base):
    """A deputy's formal suggestion, criticism or opinion (代表建议) or motion (议案), as filed."""

    __tablename__ = "suggestions"
    __table_args__ = (ForeignKeyConstraint(["tenant_id", "deputy_id"], ["deputies.tenant_id", "deputies.id"]),)

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    deputy_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(12), default="suggestion")
    title: Mapped[str] = mapped_column(String(200))
    filed_on: Mapped[date] = mapped_column(Date)
    content: Mapped[str] = mapped_column(String(4000), default="")
    # its own handling (cases issue): filed → assigned to a unit → answered
    state: Mapped[str] = mapped_column(String(10), default="filed")
    handling_unit_id: Mapped[int | None] = mapped_column(BigInteger)
    answer: Mapped[str] = mapped_column(String(4000), default="")
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class JointAttendance(Base):
    """In a county tenant: a deputy's attendance at a joint station's activity, rolled up by app.joint."""

    __tablename__ = "joint_attendance"
    __table_args__ = (ForeignKeyConstraint(["tenant_id", "deputy_id"], ["deputies.tenant_id", "deputies.id"]),)

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    deputy_id: Mapped[int] = mapped_column(BigInteger)
    joint_tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    joint_name: Mapped[str] = mapped_column(String(120))
    joint_activity_id: Mapped[int] = mapped_column(BigInteger)
    kind_name: Mapped[str] = mapped_column(String(40))
    topic: Mapped[str] = mapped_column(String(200), default="")
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(10))
    present: Mapped[bool] = mapped_column(Boolean, default=False)
    method: Mapped[str | None] = mapped_column(String(8))
    on_behalf_reason: Mapped[str] = mapped_column(String(200), default="")
    signed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    kind_code: Mapped[str] = mapped_column(String(40), default="")  # the county's rules count kinds by code
    present_count: Mapped[int] = mapped_column(Integer, default=0)  # deputies present at the activity
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    left_early: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

class Rule(Base):
    """A rule (活动规范, table activity_rules; evaluated by app.compliance): Each subject (every station, deputy or deputy group) must reach ``minimum`` of what ``counts``
    (activities of ``kind_codes``; opinions registered; suggestions filed) in each ``period``.
    Conditions: ``min_deputies`` present at a counted activity; ``station_kind_codes`` /
    ``deputy_levels`` limit the subjects it applies to (empty: all). When it warns (app.compliance.risk):
    ``at_risk_days`` before its period ends (None: the county's setting) and, if ``at_risk_pace``,
    as soon as the count falls behind a steady pace."""

    __tablename__ = "activity_rules"

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(10))
    counts: Mapped[str] = mapped_column(String(12), default="activities")
    kind_codes: Mapped[list[str]] = mapped_column(ARRAY(String), default=list)
    period: Mapped[str] = mapped_column(String(8))
    minimum: Mapped[int] = mapped_column(Integer)
    min_deputies: Mapped[int | None] = mapped_column(Integer)
    station_kind_codes: Mapped[list[str]] = mapped_column(ARRAY(String), default=list)
    deputy_levels: Mapped[list[str]] = mapped_column(ARRAY(String), default=list)
    at_risk_days: Mapped[int | None] = mapped_column(Integer)
    at_risk_pace: Mapped[bool] = mapped_column(Boolean, default=True)
    sort: Mapped[int] = mapped_column(Integer, default=0)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
