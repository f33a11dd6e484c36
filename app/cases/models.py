"""Opinions and cases (来访有登记 … 反馈有记录): categories, handling units, due-date rules, the cases with
their history and photos, and the openings of the deputy mailboxes."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger, Boolean, Date, DateTime, ForeignKey, ForeignKeyConstraint, Identity, Integer, LargeBinary, String,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.core.i18n import lazy

SOURCES = ("reception", "visit", "mailbox", "phone", "online", "wechat", "referral", "other")
SOURCE_NAMES = {
    "reception": lazy("Reception day"),
    "visit": lazy("Constituency visit"),
    "mailbox": lazy("Deputy mailbox"),
    "phone": lazy("Phone call"),
    "online": lazy("Online form or QR code"),
    "wechat": lazy("WeChat group"),
    "referral": lazy("Referral"),
    "other": lazy("Other source"),
}
STATES = ("registered", "assigned", "accepted", "clarifying", "replied", "fed_back", "closed", "forwarded",
          "merged", "suggestion", "referred")
STATE_NAMES = {
    "registered": lazy("Registered"),
    "assigned": lazy("Assigned to a handling unit"),
    "accepted": lazy("Accepted by the handling unit"),
    "clarifying": lazy("Clarification asked"),
    "replied": lazy("Replied by the handling unit"),
    "fed_back": lazy("Answer fed back"),
    "closed": lazy("Closed"),
    "forwarded": lazy("Forwarded to an outside body"),
    "merged": lazy("Merged into another case"),
    "suggestion": lazy("Turned into a deputy's suggestion"),
    "referred": lazy("Referred to a member county"),  # a joint station's case (app.joint.referrals)
}
# States in which a handling unit owes a reply (overdue after reply_due).
OPEN_WITH_UNIT = ("assigned", "accepted", "clarifying")


def overdue(state: str, reply_due: date | None, feedback_due: date | None, today: date) -> bool:
    """Reply late (a unit holds it past reply_due) or feedback late (replied, past feedback_due). The
    SQL form of the same rule is ``app.cases.queries.overdue_condition``."""
    if state in OPEN_WITH_UNIT:
        return reply_due is not None and reply_due < today
    return state == "replied" and feedback_due is not None and feedback_due < today

LEVELS = ("township", "county", "outside")
LEVEL_NAMES = {
    "township": lazy("Township matter"),
    "county": lazy("County matter"),
    "outside": lazy("City or province matter"),
}
URGENCIES = ("normal", "urgent")
SATISFACTIONS = ("satisfied", "basically", "unsatisfied")
SATISFACTION_NAMES = {
    "satisfied": lazy("Satisfied"),
    "basically": lazy("Basically satisfied"),
    "unsatisfied": lazy("Not satisfied"),
}
# The steps that set the satisfaction: staff's "rate" (asked by phone or in person: shown as entered by
# staff), the person's own rating on the public page, a joint station's rating passed on to the county.
RATING_ACTIONS = ("rate", "rated_by_public", "joint_rated")
FEEDBACK_CHANNELS = ("phone", "sms", "visit", "letter", "wechat", "online")
FEEDBACK_CHANNEL_NAMES = {
    "phone": lazy("By phone"),
    "sms": lazy("By SMS"),
    "visit": lazy("In person"),
    "letter": lazy("By letter"),
    "wechat": lazy("By WeChat"),
    "online": lazy("Online (receipt lookup)"),
}
UNIT_KINDS = ("township_office", "county_department", "village_committee", "other")
UNIT_KIND_NAMES = {
    "township_office": lazy("Township office"),
    "county_department": lazy("County government department"),
    "village_committee": lazy("Village committee"),
    "other": lazy("Other handling unit"),
}


class CaseCategory(Base):
    __tablename__ = "case_categories"

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(40))
    sort: Mapped[int] = mapped_column(Integer, default=0)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DueRule(Base):
    """Days to reply and to feed back; NULL level/category/urgency match any, the most specific wins."""

    __tablename__ = "case_due_rules"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "category_id"], ["case_categories.tenant_id", "case_categories.id"]),
    )

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    level: Mapped[str | None] = mapped_column(String(10))
    category_id: Mapped[int | None] = mapped_column(BigInteger)
    urgency: Mapped[str | None] = mapped_column(String(8))
    reply_days: Mapped[int] = mapped_column(Integer)
    feedback_days: Mapped[int] = mapped_column(Integer)
    working_days: Mapped[bool] = mapped_column(Boolean, default=True)


class Case(Base):
    """An opinion or problem raised by a person, from registration to feedback. ``person_mobile`` is
    personal data: masked in lists, every reveal audited."""

    __tablename__ = "cases"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "category_id"], ["case_categories.tenant_id", "case_categories.id"]),
        ForeignKeyConstraint(["tenant_id", "node_id"], ["admin_nodes.tenant_id", "admin_nodes.id"]),
        ForeignKeyConstraint(["tenant_id", "station_id"], ["stations.tenant_id", "stations.id"]),
        ForeignKeyConstraint(["tenant_id", "deputy_id"], ["deputies.tenant_id", "deputies.id"]),
        ForeignKeyConstraint(["tenant_id", "activity_id"], ["activities.tenant_id", "activities.id"]),
        ForeignKeyConstraint(["tenant_id", "opinion_id"], ["opinions.tenant_id", "opinions.id"]),
        ForeignKeyConstraint(["tenant_id", "handling_unit_id"], ["handling_units.tenant_id", "handling_units.id"]),
        ForeignKeyConstraint(["tenant_id", "merged_into_id"], ["cases.tenant_id", "cases.id"]),
        ForeignKeyConstraint(["tenant_id", "suggestion_id"], ["suggestions.tenant_id", "suggestions.id"]),
    )

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    receipt_code: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(12))
    person_name: Mapped[str] = mapped_column(String(40), default="")
    person_mobile: Mapped[str | None] = mapped_column(String(11))
    content: Mapped[str] = mapped_column(String(4000))
    category_id: Mapped[int | None] = mapped_column(BigInteger)
    node_id: Mapped[int | None] = mapped_column(BigInteger)
    station_id: Mapped[int | None] = mapped_column(BigInteger)
    deputy_id: Mapped[int | None] = mapped_column(BigInteger)  # the deputy who received it
    activity_id: Mapped[int | None] = mapped_column(BigInteger)
    opinion_id: Mapped[int | None] = mapped_column(BigInteger)  # the activities' opinion register row
    level: Mapped[str] = mapped_column(String(10), default="township")
    urgency: Mapped[str] = mapped_column(String(8), default="normal")
    state: Mapped[str] = mapped_column(String(12), default="registered")
    handling_unit_id: Mapped[int | None] = mapped_column(BigInteger)
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reply_due: Mapped[date | None] = mapped_column(Date)
    feedback_due: Mapped[date | None] = mapped_column(Date)
    reply_text: Mapped[str] = mapped_column(String(4000), default="")
    replied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    fed_back_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    feedback_channel: Mapped[str | None] = mapped_column(String(12))
    satisfaction: Mapped[str | None] = mapped_column(String(12))
    rated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rehandled: Mapped[int] = mapped_column(Integer, default=0)
    outside_body: Mapped[str] = mapped_column(String(100), default="")
    outside_ref: Mapped[str] = mapped_column(String(60), default="")
    merged_into_id: Mapped[int | None] = mapped_column(BigInteger)
    suggestion_id: Mapped[int | None] = mapped_column(BigInteger)
    supervised_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    client_hash: Mapped[str | None] = mapped_column(String(64))  # public submissions: for abuse limits
    # Referred from a joint station (app.joint.referrals): that joint tenant and its case.
    referred_from_tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id"))
    referred_from_case_id: Mapped[int | None] = mapped_column(BigInteger)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CaseEvent(Base):
    """One step of a case. ``public`` steps show on the receipt lookup, without names or notes."""

    __tablename__ = "case_events"
    __table_args__ = (ForeignKeyConstraint(["tenant_id", "case_id"], ["cases.tenant_id", "cases.id"]),)

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    case_id: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(20))
    from_state: Mapped[str | None] = mapped_column(String(12))
    to_state: Mapped[str | None] = mapped_column(String(12))
    note: Mapped[str] = mapped_column(String(4000), default="")
    data: Mapped[dict] = mapped_column(JSONB, default=dict)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CasePhoto(Base):
    __tablename__ = "case_photos"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "case_id"], ["cases.tenant_id", "cases.id"]),
        ForeignKeyConstraint(["tenant_id", "image_id"], ["images.tenant_id", "images.id"]),
    )

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    case_id: Mapped[int] = mapped_column(BigInteger)
    image_id: Mapped[int] = mapped_column(BigInteger)


class CaseRatingCode(Base):
    """A rating code given to the person (on the receipt page or in the SMS with the answer): its
    digest only. Whoever rates on the public page must type one (app.cases.codes)."""

    __tablename__ = "case_rating_codes"
    __table_args__ = (ForeignKeyConstraint(["tenant_id", "case_id"], ["cases.tenant_id", "cases.id"]),)

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    case_id: Mapped[int] = mapped_column(BigInteger)
    digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    sent_by: Mapped[str] = mapped_column(String(8))  # "receipt" or "sms"
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class LookupMiss(Base):
    """A receipt or rating code tried on the public lookup that matched nothing, by keyed client hash:
    counted in PostgreSQL, so every web process shares the limit (app.cases.public.check_misses)."""

    __tablename__ = "case_lookup_misses"

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    client_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class MailboxOpening(Base):
    """One opening of a station's deputy mailbox (代表信箱): checked against the weekly rule."""

    __tablename__ = "mailbox_openings"
    __table_args__ = (ForeignKeyConstraint(["tenant_id", "station_id"], ["stations.tenant_id", "stations.id"]),)

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    station_id: Mapped[int] = mapped_column(BigInteger)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    opened_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    letters: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(500), default="")


class JointReferral(Base):
    """In a joint tenant: a case referred to a member county, with the county case's agreed status
    fields mirrored as they change (app.joint.referrals)."""

    __tablename__ = "joint_referrals"
    __table_args__ = (ForeignKeyConstraint(["tenant_id", "case_id"], ["cases.tenant_id", "cases.id"]),)

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    case_id: Mapped[int] = mapped_column(BigInteger)
    county_tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    county_case_id: Mapped[int] = mapped_column(BigInteger)
    county_receipt_code: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(12))
    reply_due: Mapped[date | None] = mapped_column(Date)
    replied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answer_summary: Mapped[str] = mapped_column(String(600), default="")
    referred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
