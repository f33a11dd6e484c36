"""Invitations: a one-time link with which a person sets a password (or uses their existing login)
and joins a tenant in a role. The link carries a random token; the table keeps only its digest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import now
from app.accounts.models import ROLES, Invitation, Membership, User
from app.accounts.services import check_new_password, check_role_and_scope, create_user, find_user
from app.audit.services import record
from app.core.errors import Refusal
from app.core.i18n import lazy
from app.core.security import MOBILE_RE, new_token, token_digest
from app.tenancy.models import AdminNode, HandlingUnit

INVITATION_DAYS = 7
USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_.")
USERNAME_TAKEN = lazy("This username is taken. Please choose another.")
LINK_USED = lazy("This invitation link has just been used or withdrawn.")
UNIT_REQUIRED = lazy("A handling unit's user is invited from their unit's page (Settings → Handling units), "
                     "so that they see its cases.")
UNIT_FOR_OTHER_ROLE = lazy("Only a handling unit's user belongs to a handling unit.")


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
    handling_unit_id: int | None = None,
    client_addr: str | None = None,
) -> IssuedInvitation:
    """Create an invitation in the session's (bound) tenant. Does not commit. A handling unit's user
    is invited with their unit (``handling_unit_id``, a unit in use), which the membership gets."""
    display_name = display_name.strip()
    mobile = (mobile or "").strip() or None
    if not display_name or len(display_name) > 60:
        raise Refusal(lazy("Please enter the person's name (at most 60 characters)."))
    if role not in ROLES:
        raise Refusal(lazy("Please choose a role."))
    if mobile and not MOBILE_RE.match(mobile):
        raise Refusal(lazy("A mobile number has 11 digits and starts with 1."))
    await check_role_and_scope(db, tenant_id, role, scope_node_id)
    await _check_unit(db, tenant_id, role, handling_unit_id)
    token, digest = new_token()
    invitation = Invitation(
        tenant_id=tenant_id, token_hash=digest, display_name=display_name, mobile=mobile, role=role,
        scope_node_id=scope_node_id, handling_unit_id=handling_unit_id, created_by=actor_id, expires_at=now() + timedelta(days=INVITATION_DAYS),
    )
    db.add(invitation)
    await db.flush()
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="invitation_created",
                 target=f"invitation:{invitation.id}", client_addr=client_addr,
                 details={"name": display_name, "role": role,
                          **({"handling_unit_id": handling_unit_id} if handling_unit_id else {})})
    return IssuedInvitation(invitation=invitation, token=token)


async def _check_unit(db: AsyncSession, tenant_id: int, role: str, handling_unit_id: int | None) -> None:
    """A handling unit's user needs their unit (one in use); nobody else has one."""
    if role != "handling_unit":
        if handling_unit_id is not None:
            raise Refusal(UNIT_FOR_OTHER_ROLE)
        return
    found = None
    if handling_unit_id is not None:
        found = await db.scalar(select(HandlingUnit.id).where(
            HandlingUnit.tenant_id == tenant_id, HandlingUnit.id == handling_unit_id, HandlingUnit.retired_at.is_(None)))
    if found is None:
        raise Refusal(UNIT_REQUIRED)


async def open_invitation(db: AsyncSession, tenant_id: int, token: str) -> Invitation | None:
    """The usable invitation behind a link in the bound tenant, or None (unknown, used, expired)."""
    invitation = await db.scalar(select(Invitation).where(Invitation.tenant_id == tenant_id,
                                                          Invitation.token_hash == token_digest(token)))
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
            raise Refusal(
                lazy("A username has 3 to 40 characters: lower-case letters, digits, '-', '_' or '.'.")
            )
        if MOBILE_RE.match(username):
            raise Refusal(lazy("A username cannot be a mobile number: people sign in with either."))
        if await find_user(db, username) is not None:
            raise Refusal(USERNAME_TAKEN)
        check_new_password(password, confirm)
        mobile = invitation.mobile
        if mobile and await find_user(db, mobile) is not None:
            mobile = None  # the number already belongs to an account; sign in with it instead
        try:
            user = await create_user(db, username=username, display_name=invitation.display_name,
                                     password=password, mobile=mobile)
        except IntegrityError:  # taken a moment ago by someone else; the caller rolls back
            raise Refusal(USERNAME_TAKEN) from None
    already = await db.scalar(
        select(Membership.id).where(Membership.user_id == user.id, Membership.revoked_at.is_(None),
                                    Membership.tenant_id == invitation.tenant_id)
    )
    if already:
        raise Refusal(lazy("Your account is already a member of this unit."))
    db.add(Membership(tenant_id=invitation.tenant_id, user_id=user.id, role=invitation.role,
                      scope_node_id=invitation.scope_node_id, handling_unit_id=invitation.handling_unit_id,
                      created_by=invitation.created_by))
    used = await db.execute(
        update(Invitation)
        .where(Invitation.tenant_id == invitation.tenant_id, Invitation.id == invitation.id,
               Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None))
        .values(accepted_at=now(), accepted_user_id=user.id)
    )
    if used.rowcount != 1:  # accepted or withdrawn meanwhile (two tabs, a double click): one use only
        raise Refusal(LINK_USED)
    await record(db, tenant_id=invitation.tenant_id, actor_user_id=user.id, action="invitation_accepted",
                 target=f"invitation:{invitation.id}", client_addr=client_addr, details={"role": invitation.role})
    await db.commit()
    return user


async def pending_invitations(db: AsyncSession, tenant_id: int) -> list[tuple[Invitation, str | None]]:
    """Invitations not yet accepted, revoked or expired, newest first, with their scope names."""
    rows = await db.execute(
        select(Invitation, AdminNode.name)
        .outerjoin(
            AdminNode, (AdminNode.tenant_id == Invitation.tenant_id) & (AdminNode.id == Invitation.scope_node_id)
        )
        .where(Invitation.tenant_id == tenant_id, Invitation.accepted_at.is_(None),
               Invitation.revoked_at.is_(None), Invitation.expires_at > now())
        .order_by(Invitation.id.desc())
    )
    return [(i, name) for i, name in rows.all()]


async def get_pending(db: AsyncSession, tenant_id: int, invitation_id: int) -> Invitation | None:
    return await db.scalar(
        select(Invitation).where(
            Invitation.tenant_id == tenant_id, Invitation.id == invitation_id,
            Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None),
        )
    )


async def revoke(
    db: AsyncSession, invitation: Invitation, *, actor_id: int | None, client_addr: str | None = None
) -> None:
    """Make the link unusable. Audited. Does not commit."""
    await db.execute(
        update(Invitation).where(Invitation.tenant_id == invitation.tenant_id, Invitation.id == invitation.id)
        .values(revoked_at=now())
    )
    await record(db, tenant_id=invitation.tenant_id, actor_user_id=actor_id, action="invitation_revoked",
                 target=f"invitation:{invitation.id}", client_addr=client_addr,
                 details={"name": invitation.display_name, "role": invitation.role})


async def describe(db: AsyncSession, invitation: Invitation) -> tuple[str | None, str | None]:
    """(who invited, the scope's name) for the join page, in one query."""
    row = (
        await db.execute(
            select(User.display_name, AdminNode.name)
            .select_from(Invitation)
            .outerjoin(User, User.id == Invitation.created_by)
            .outerjoin(
                AdminNode,
                (AdminNode.tenant_id == Invitation.tenant_id) & (AdminNode.id == Invitation.scope_node_id),
            )
            .where(Invitation.tenant_id == invitation.tenant_id, Invitation.id == invitation.id)
        )
    ).first()
    return (row[0], row[1]) if row else (None, None)
