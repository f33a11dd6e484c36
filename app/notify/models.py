"""Reminders and notifications: the outbox (one row per recipient and channel, written in the same
transaction as the change that causes it) and one delivery row per send attempt."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, ForeignKeyConstraint, Identity, Integer, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.core.i18n import lazy

CHANNELS = ("inapp", "sms", "email")
CHANNEL_NAMES = {"inapp": lazy("In-app inbox"), "sms": lazy("SMS"), "email": lazy("Email")}
# pending → sending (claimed by a worker, attempt recorded) → sent | pending (retry later) | failed;
# an SMS whose outcome is unknown (the provider did not answer in time, the worker stopped between
# sending and recording) → checking (the worker asks the provider) → sent | failed | pending (the
# provider has no record: safe to send again) | unknown (the provider cannot say: staff send it
# again or drop it). withdrawn: the cause went away (activity cancelled, deputy uninvited; or staff
# dropped an unknown one); skipped: not sent on purpose (the SMS quota was used up: the recipient got
# it in-app instead).
STATUSES = ("pending", "sending", "checking", "unknown", "sent", "failed", "withdrawn", "skipped")
STATUS_NAMES = {
    "pending": lazy("Waiting to be sent"),
    "sending": lazy("Being sent"),
    "checking": lazy("Outcome unknown: asking the provider"),
    "unknown": lazy("Outcome unknown: staff to decide"),
    "sent": lazy("Delivered to the channel"),
    "failed": lazy("Sending failed"),
    "withdrawn": lazy("Withdrawn"),
    "skipped": lazy("Not sent (SMS quota used up)"),
}


class Outbox(Base):
    __tablename__ = "outbox"
    __table_args__ = (ForeignKeyConstraint(["tenant_id", "deputy_id"], ["deputies.tenant_id", "deputies.id"]),)

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(240))
    kind: Mapped[str] = mapped_column(String(30))
    channel: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(60))  # "activity:12", "case:5", "station:3"
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    deputy_id: Mapped[int | None] = mapped_column(BigInteger)
    address: Mapped[str | None] = mapped_column(String(200))  # mobile or e-mail address: personal data
    params: Mapped[dict] = mapped_column(JSONB, default=dict)
    body: Mapped[str] = mapped_column(String(600))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    provider_id: Mapped[str | None] = mapped_column(String(80))
    last_error: Mapped[str | None] = mapped_column(String(400))
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # The provider's delivery receipt of an accepted SMS ("delivered"; a failure on the handset makes
    # the row failed), and when the worker asks for it next (None: nothing more to ask).
    receipt: Mapped[str | None] = mapped_column(String(10))
    receipt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    receipt_check_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Delivery(Base):
    """One send attempt; (outbox_id, attempt) is unique, and the attempt is recorded before the
    provider is called."""

    __tablename__ = "deliveries"
    __table_args__ = (ForeignKeyConstraint(["tenant_id", "outbox_id"], ["outbox.tenant_id", "outbox.id"]),)

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    outbox_id: Mapped[int] = mapped_column(BigInteger)
    attempt: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(8))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    result: Mapped[str] = mapped_column(String(10), default="sending")
    provider_id: Mapped[str | None] = mapped_column(String(80))
    error: Mapped[str | None] = mapped_column(String(400))


class SmsProviderStatus(Base):
    """The platform's SMS account (one row, id 1): held while in arrears (no SMS is sent until a probe
    succeeds or an operator lifts the hold), and the last success and failure, for the console."""

    __tablename__ = "sms_provider_status"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    held_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    held_code: Mapped[str | None] = mapped_column(String(60))
    held_error: Mapped[str | None] = mapped_column(String(400))
    probe_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_failure_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_failure_code: Mapped[str | None] = mapped_column(String(60))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PlatformAlert(Base):
    """Something the operator must see (at most one open alert per kind), e.g. `sms_account_held`."""

    __tablename__ = "platform_alerts"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(String(400), default="")
    raised_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class WorkNotice(Base):
    """A step that brings someone new work (a new opinion; a case assigned, sent back or supervised; a
    station waiting for its next step), queued in the step's transaction. The worker's sweep turns it
    into inbox rows and digests (app.notify.work_notices) and deletes it: the outbox is the record."""

    __tablename__ = "work_notices"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # app.notify.work.WORK_KINDS
    subject: Mapped[str] = mapped_column(String(60))  # "case:5", "station:3"
    case_id: Mapped[int | None] = mapped_column(BigInteger)
    station_id: Mapped[int | None] = mapped_column(BigInteger)
    node_id: Mapped[int | None] = mapped_column(BigInteger)
    unit_id: Mapped[int | None] = mapped_column(BigInteger)  # the handling unit the case is with
    state: Mapped[str | None] = mapped_column(String(12))  # the state or status the step reached
    actor_user_id: Mapped[int | None] = mapped_column(BigInteger)  # never told about their own step
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
