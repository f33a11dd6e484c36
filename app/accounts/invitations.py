"""Invitations: a one-time link with which a person sets a password (or uses their existing login)
and joins a tenant in a role. The link carries a random token; the table keeps only its digest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.access import now
from app.accounts.models import ROLES, SCOPED_ROLES, Invitation, Membership, User
from app.accounts.services import AccountError, check_new_password, create_user, find_user
from app.audit.services import record
from app.core.i18n import lazy
from app.core.security import MOBILE_RE, new_token, token_digest
from app.tenancy.models import AdminNode

INVITATION_DAYS = 7
USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_.")


@dataclass
class IssuedInvitation:
    invitation: Invitation
    token: str

    def path(self, tenant_slug: str) -> str:
        return f"/join/{tenant_slug}/{self.token}"


async def invite(
    db: AsyncSession,
    *,
    tenant_id: int,
    actor_id: int | None,
    display_name: str,
    role: str,
    mobile: str | None = None,
    scope_node_id: int | None = None,
    client_addr: str | None = None,
) -> IssuedInvitation:
    """Create an invitation in the session's (bound) tenant. Does not commit."""
    display_name = display_name.strip()
    mobile = (mobile or "").strip() or None
    if not display_name or len(display_name) > 60:
        raise AccountError(lazy("Please enter the person's name (at most 60 characters)."))
    if role not in ROLES:
        raise AccountError(lazy("Please choose a role."))
    if mobile and not MOBILE_RE.match(mobile):
        raise AccountError(lazy("A mobile number has 11 digits and starts with 1."))
    if role in SCOPED_ROLES and scope_node_id is None:
        raise AccountError(lazy("Township staff need the township or street they work for."))
    if scope_node_id is not None:
        node = await db.scalar(select(AdminNode.id).where(AdminNode.id == scope_node_id))
        if node is None:
            raise AccountError(lazy("Please choose a place from the list."))
    token, digest = new_token()
    invitation = Invitation(
        tenant_id=tenant_id, token_hash=digest, display_name=display_name, mobile=mobile, role=role,
        scope_node_id=scope_node_id, created_by=actor_id, expires_at=now() + timedelta(days=INVITATION_DAYS),
    )
    db.add(invitation)
    await db.flush()
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="invitation_created",
                 target=f"invitation:{invitation.id}", client_addr=client_addr, details={"role": role})
    return IssuedInvitation(invitation=invitation, token=token)


async def open_invitation(db: AsyncSession, token: str) -> Invitation | None:
    """The usable invitation behind a link in the bound tenant, or None (unknown, used, expired)."""
    invitation = await db.scalar(select(Invitation).where(Invitation.token_hash == token_digest(token)))
    if invitation is None or invitation.accepted_at or invitation.revoked_at or invitation.expires_at <= now():
        return None
    return invitation


async def accept(
    db: AsyncSession,
    invitation: Invitation,
    *,
    existing_user: User | None = None,
    username: str = "",
    password: str = "",
    confirm: str = "",
    client_addr: str | None = None,
) -> User:
    """Join the tenant: as the signed-in ``existing_user``, or as a new account. Commits."""
    if existing_user is not None:
        user = existing_user
    else:
        username = username.strip().lower()
        if not (3 <= len(username) <= 40) or not set(username) <= USERNAME_CHARS:
            raise AccountError(
                lazy("A username has 3 to 40 characters: lower-case letters, digits, '-', '_' or '.'.")
            )
        if await find_user(db, username) is not None:
            raise AccountError(lazy("This username is taken. Please choose another."))
        check_new_password(password, confirm)
        mobile = invitation.mobile
        if mobile and await find_user(db, mobile) is not None:
            mobile = None  # the number already belongs to an account; sign in with it instead
        user = await create_user(db, username=username, display_name=invitation.display_name,
                                 password=password, mobile=mobile)
    already = await db.scalar(
        select(Membership.id).where(Membership.user_id == user.id, Membership.revoked_at.is_(None),
                                    Membership.tenant_id == invitation.tenant_id)
    )
    if already:
        raise AccountError(lazy("Your account is already a member of this unit."))
    db.add(Membership(tenant_id=invitation.tenant_id, user_id=user.id, role=invitation.role,
                      scope_node_id=invitation.scope_node_id, created_by=invitation.created_by))
    await db.execute(
        update(Invitation).where(Invitation.tenant_id == invitation.tenant_id, Invitation.id == invitation.id)
        .values(accepted_at=now(), accepted_user_id=user.id)
    )
    await record(db, tenant_id=invitation.tenant_id, actor_user_id=user.id, action="invitation_accepted",
                 target=f"invitation:{invitation.id}", client_addr=client_addr, details={"role": invitation.role})
    await db.commit()
    return user
