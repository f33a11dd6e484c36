"""Global user identities, their server-side sessions, and per-tenant memberships and invitations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    LargeBinary,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.core.i18n import lazy

# Roles inside a tenant. Operator is not among them: it is a platform flag on the user.
ROLES = ("county_admin", "township_staff", "station_staff", "deputy", "handling_unit", "viewer")
SCOPED_ROLES = ("township_staff",)
ROLE_NAMES = {
    "county_admin": lazy("County administrator"),
    "township_staff": lazy("Township staff"),
    "station_staff": lazy("Station staff"),
    "deputy": lazy("Deputy"),
    "handling_unit": lazy("Handling unit"),
    "viewer": lazy("Read-only viewer"),
}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    mobile: Mapped[str | None] = mapped_column(String(11), unique=True)
    display_name: Mapped[str] = mapped_column(String(60))
    password_hash: Mapped[str] = mapped_column(String(200))
    is_operator: Mapped[bool] = mapped_column(Boolean, default=False)
    # Sealed (app.core.sealing, `v1:...`) with the settings' TOTP key; a clear value is from before
    # sealing and is sealed at its next use or by `lianluo migrate` (app.platform.totp).
    totp_secret: Mapped[str | None] = mapped_column(String(200))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    locale: Mapped[str | None] = mapped_column(String(8))
    email: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class UserSession(Base):
    """A server-side login session; the cookie holds a random token, the table its SHA-256."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    current_tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id"))
    totp_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    client_addr: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(200))


class FailedLogin(Base):
    """A wrong password or TOTP code. It counts against the account (``user_id``; for a name no
    account has, ``login_key``: a keyed digest of the text typed, normalised, so unknown names lock
    alike) until an admin unlocks it (``cleared_at``), and against its client address
    (``client_net``: the address, or an IPv6 /64) either way."""

    __tablename__ = "failed_logins"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    login_key: Mapped[str | None] = mapped_column(String(60))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    client_addr: Mapped[str | None] = mapped_column(String(64))
    client_net: Mapped[str | None] = mapped_column(String(64))
    cleared_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Membership(Base):
    """A user's role in one tenant, optionally scoped to a node of its administrative tree."""

    __tablename__ = "memberships"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "scope_node_id"], ["admin_nodes.tenant_id", "admin_nodes.id"]),
    )

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str] = mapped_column(String(20))
    scope_node_id: Mapped[int | None] = mapped_column(BigInteger)
    station_id: Mapped[int | None] = mapped_column(BigInteger)  # station staff: their station
    handling_unit_id: Mapped[int | None] = mapped_column(BigInteger)  # handling unit users: their unit
    # In a joint tenant: the member county whose staff this person is (app.joint.agreements).
    home_tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id"))
    # In a joint station archived by a withdrawal: the role held before everyone became a viewer
    # (its former staff still finish the cases it holds: app.joint.archive).
    archived_role: Mapped[str | None] = mapped_column(String(20))
    # Channels the member accepts besides the in-app inbox (app.notify); the tenant may require more.
    channels: Mapped[list[str]] = mapped_column(ARRAY(String(8)), default=lambda: ["sms"])
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Invitation(Base):
    """A one-time link with which a person sets a password and joins a tenant in a given role."""

    __tablename__ = "invitations"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "scope_node_id"], ["admin_nodes.tenant_id", "admin_nodes.id"]),
        # with tenant_id: a distributed table's unique keys hold its distribution column (0043)
        UniqueConstraint("tenant_id", "token_hash", name="invitations_tenant_token_key"),
    )

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    display_name: Mapped[str] = mapped_column(String(60))
    mobile: Mapped[str | None] = mapped_column(String(11))
    role: Mapped[str] = mapped_column(String(20))
    scope_node_id: Mapped[int | None] = mapped_column(BigInteger)
    station_id: Mapped[int | None] = mapped_column(BigInteger)
    handling_unit_id: Mapped[int | None] = mapped_column(BigInteger)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    accepted_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
