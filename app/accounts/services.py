"""Sign-in, sessions and passwords. No web imports: the CLI and jobs use these too."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import now
from app.accounts.models import ROLES, SCOPED_ROLES, FailedLogin, Membership, User, UserSession
from app.audit.services import record, record_platform
from app.core.errors import Refusal
from app.core.i18n import lazy
from app.core.security import MIN_PASSWORD_LENGTH, MOBILE_RE, hash_password, mask_mobile, new_token, verify_password
from app.core.settings import Settings
from app.tenancy.models import AdminNode, Tenant


WRONG_CREDENTIALS = lazy("Wrong username, mobile number or password.")
LOCKED = lazy("Too many failed sign-ins for this account. Please try again in an hour or ask your administrator.")


@dataclass
class NewSession:
    token: str
    session: UserSession
    user: User


async def find_user(db: AsyncSession, login: str) -> User | None:
    login = login.strip()
    if not login:
        return None
    return await db.scalar(
        select(User).where(or_(func.lower(User.username) == login.lower(), User.mobile == login))
    )


async def sign_in(
    db: AsyncSession,
    settings: Settings,
    login: str,
    password: str,
    *,
    client_addr: str | None,
    user_agent: str | None,
    old_token_hash: bytes | None = None,
) -> NewSession:
    """Check the password, count failures per account, and open a fresh session (a new id: the
    old one, if any, is revoked). Raises Refusal with the message to show. Commits."""
    user = await find_user(db, login)
    if user is None or user.disabled_at is not None:
        verify_password(None, password)  # same work either way
        typed = mask_mobile(login[:60]) if MOBILE_RE.match(login) else login[:60]
        await record_platform(db, actor_user_id=None, action="login_failed", target=typed, client_addr=client_addr)
        await db.commit()
        raise Refusal(WRONG_CREDENTIALS)
    failures = await failures_in_last_hour(db, user.id)
    if failures >= settings.failed_logins_per_hour:
        await record_platform(db, actor_user_id=user.id, action="login_refused_locked", client_addr=client_addr)
        await db.commit()
        raise Refusal(LOCKED)
    if not verify_password(user.password_hash, password):
        await record_failure(db, settings, user.id, failures, "login_failed", client_addr)
        await db.commit()
        raise Refusal(WRONG_CREDENTIALS)
    return await open_session(
        db, settings, user, client_addr=client_addr, user_agent=user_agent, old_token_hash=old_token_hash
    )


async def failures_in_last_hour(db: AsyncSession, user_id: int) -> int:
    """Failed sign-ins (wrong passwords and wrong TOTP codes) of one account in the last hour."""
    return await db.scalar(
        select(func.count()).where(FailedLogin.user_id == user_id, FailedLogin.at > now() - timedelta(hours=1))
    )


async def record_failure(
    db: AsyncSession, settings: Settings, user_id: int, failures_before: int, action: str, client_addr: str | None
) -> None:
    """Count one more failure against the account, audit it, and audit the lockout it may cause."""
    await db.execute(insert(FailedLogin).values(user_id=user_id, client_addr=client_addr))
    await record_platform(db, actor_user_id=user_id, action=action, client_addr=client_addr)
    if failures_before + 1 >= settings.failed_logins_per_hour:
        await record_platform(db, actor_user_id=user_id, action="account_locked", client_addr=client_addr)


async def open_session(
    db: AsyncSession,
    settings: Settings,
    user: User,
    *,
    client_addr: str | None,
    user_agent: str | None,
    old_token_hash: bytes | None = None,
) -> NewSession:
    """Open a fresh session (a new id) for a user whose identity is established: the password was
    checked, or the account was just created from an invitation. The old session, if any, is
    revoked; the sign-in is audited. Commits."""
    if old_token_hash is not None:
        await db.execute(
            update(UserSession).where(UserSession.token_hash == old_token_hash).values(revoked_at=now())
        )
    token, digest = new_token()
    session = UserSession(
        token_hash=digest,
        user_id=user.id,
        expires_at=now() + timedelta(hours=settings.session_absolute_hours),
        client_addr=client_addr,
        user_agent=(user_agent or "")[:200],
        totp_verified=False,
    )
    db.add(session)
    await record_platform(db, actor_user_id=user.id, action="login", client_addr=client_addr)
    await db.commit()
    return NewSession(token=token, session=session, user=user)


async def sign_out(db: AsyncSession, session_id: int, user_id: int, client_addr: str | None) -> None:
    await db.execute(update(UserSession).where(UserSession.id == session_id).values(revoked_at=now()))
    await record_platform(db, actor_user_id=user_id, action="logout", client_addr=client_addr)
    await db.commit()


def check_new_password(password: str, confirm: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Refusal(lazy("The password must have at least %(n)s characters."), n=MIN_PASSWORD_LENGTH)
    if password != confirm:
        raise Refusal(lazy("The two passwords do not match."))


async def change_password(
    db: AsyncSession, user: User, current: str, new: str, confirm: str, *, keep_session_id: int, client_addr: str | None
) -> None:
    """Change the password and end the user's other sessions. Commits."""
    if not verify_password(user.password_hash, current):
        raise Refusal(lazy("The current password is wrong."))
    check_new_password(new, confirm)
    await db.execute(
        update(User).where(User.id == user.id).values(password_hash=hash_password(new), password_changed_at=now())
    )
    await db.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.id != keep_session_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=now())
    )
    await record_platform(db, actor_user_id=user.id, action="password_changed", client_addr=client_addr)
    await db.commit()


async def my_tenants(db: AsyncSession, user_id: int) -> list[tuple[Tenant, Membership]]:
    """A user's active memberships in every tenant, with their tenants. The session must be bound to
    that user: the own_memberships policy is what lets these rows through without a tenant."""
    rows = await db.execute(
        select(Tenant, Membership)
        .join(Membership, Membership.tenant_id == Tenant.id)
        .where(Membership.user_id == user_id, Membership.revoked_at.is_(None), Tenant.status != "pending")
        .order_by(Tenant.name)
    )
    return [(t, m) for t, m in rows.all()]


async def create_user(
    db: AsyncSession, *, username: str, display_name: str, password: str, mobile: str | None = None,
    is_operator: bool = False,
) -> User:
    user = User(
        username=username,
        display_name=display_name,
        password_hash=hash_password(password),
        mobile=mobile,
        is_operator=is_operator,
    )
    db.add(user)
    await db.flush()
    return user


# --- members of a tenant ----------------------------------------------------------------------
# The memberships table also shows a user their own rows in other tenants (the own_memberships
# policy), so every query here names the tenant explicitly as well as relying on the binding.

SCOPE_NODE_KINDS = ("township", "street")
CHOOSE_FROM_LIST = lazy("Please choose a place from the list.")
LAST_ADMIN = lazy(
    "You are the last county administrator of this unit. Appoint another county administrator first."
)


@dataclass
class MemberRow:
    membership: Membership
    user: User
    scope_name: str | None


async def scope_choices(db: AsyncSession, tenant_id: int) -> list[AdminNode]:
    """The townships and streets a membership or invitation may be scoped to."""
    return list(
        (
            await db.scalars(
                select(AdminNode)
                .where(AdminNode.tenant_id == tenant_id, AdminNode.kind.in_(SCOPE_NODE_KINDS),
                       AdminNode.retired_at.is_(None))
                .order_by(AdminNode.name)
            )
        ).all()
    )


async def check_role_and_scope(db: AsyncSession, tenant_id: int, role: str, scope_node_id: int | None) -> None:
    """Raise Refusal unless the role exists and the scope fits it (a township or street of
    this tenant; required for township staff; none for a county administrator)."""
    if role not in ROLES:
        raise Refusal(lazy("Please choose a role."))
    if role in SCOPED_ROLES and scope_node_id is None:
        raise Refusal(lazy("Township staff need the township or street they work for."))
    if scope_node_id is None:
        return
    if role == "county_admin":
        raise Refusal(
            lazy("A county administrator works for the whole county: leave the township or street empty.")
        )
    node = await db.scalar(
        select(AdminNode.id).where(
            AdminNode.tenant_id == tenant_id, AdminNode.id == scope_node_id,
            AdminNode.kind.in_(SCOPE_NODE_KINDS), AdminNode.retired_at.is_(None),
        )
    )
    if node is None:
        raise Refusal(CHOOSE_FROM_LIST)


def _member_query(tenant_id: int):
    return (
        select(Membership, User, AdminNode.name)
        .join(User, User.id == Membership.user_id)
        .outerjoin(
            AdminNode, (AdminNode.tenant_id == Membership.tenant_id) & (AdminNode.id == Membership.scope_node_id)
        )
        .where(Membership.tenant_id == tenant_id, Membership.revoked_at.is_(None))
    )


async def list_members(db: AsyncSession, tenant_id: int) -> list[MemberRow]:
    """Active members with their users and scope names, in one query."""
    rows = await db.execute(_member_query(tenant_id).order_by(User.display_name, Membership.id))
    return [MemberRow(m, u, name) for m, u, name in rows.all()]


async def get_member(db: AsyncSession, tenant_id: int, membership_id: int) -> MemberRow | None:
    row = (await db.execute(_member_query(tenant_id).where(Membership.id == membership_id))).first()
    return MemberRow(*row) if row else None


async def _refuse_losing_last_admin(db: AsyncSession, tenant_id: int, member: Membership) -> None:
    """A tenant keeps at least one county administrator. The admins' rows are locked, so two admins
    demoting each other at the same moment cannot both succeed."""
    admins = (
        await db.scalars(
            select(Membership.id)
            .where(Membership.tenant_id == tenant_id, Membership.role == "county_admin",
                   Membership.revoked_at.is_(None))
            .with_for_update()
        )
    ).all()
    if member.id in admins and len(admins) <= 1:
        raise Refusal(LAST_ADMIN)


async def change_role(
    db: AsyncSession,
    *,
    tenant_id: int,
    actor_id: int,
    row: MemberRow,
    role: str,
    scope_node_id: int | None,
    client_addr: str | None,
) -> bool:
    """Give a member another role or scope; False when nothing changed. Audited. Does not commit."""
    await check_role_and_scope(db, tenant_id, role, scope_node_id)
    member = row.membership
    old_role, old_scope = member.role, member.scope_node_id
    if (old_role, old_scope) == (role, scope_node_id):
        return False
    if role != "county_admin":
        await _refuse_losing_last_admin(db, tenant_id, member)
    await db.execute(
        update(Membership)
        .where(Membership.tenant_id == tenant_id, Membership.id == member.id)
        .values(role=role, scope_node_id=scope_node_id)
    )
    await record(
        db, tenant_id=tenant_id, actor_user_id=actor_id, action="membership_role_changed",
        target=f"membership:{member.id}", client_addr=client_addr,
        details={"member": row.user.display_name, "old_role": old_role, "new_role": role,
                 "old_scope_node_id": old_scope, "new_scope_node_id": scope_node_id},
    )
    member.role, member.scope_node_id = role, scope_node_id
    return True


async def remove_member(
    db: AsyncSession, *, tenant_id: int, actor_id: int, row: MemberRow, client_addr: str | None
) -> int:
    """End a membership and the member's sessions that are in this tenant; returns how many
    sessions ended. Audited. Does not commit."""
    member = row.membership
    await _refuse_losing_last_admin(db, tenant_id, member)
    moment = now()
    await db.execute(
        update(Membership).where(Membership.tenant_id == tenant_id, Membership.id == member.id)
        .values(revoked_at=moment)
    )
    ended = await db.execute(
        update(UserSession)
        .where(UserSession.user_id == member.user_id, UserSession.current_tenant_id == tenant_id,
               UserSession.revoked_at.is_(None))
        .values(revoked_at=moment)
    )
    await record(
        db, tenant_id=tenant_id, actor_user_id=actor_id, action="membership_removed",
        target=f"membership:{member.id}", client_addr=client_addr,
        details={"member": row.user.display_name, "old_role": member.role, "sessions_ended": ended.rowcount},
    )
    member.revoked_at = moment
    return ended.rowcount


async def display_names(db: AsyncSession, user_ids: set[int]) -> dict[int, str]:
    """Users' display names by id, in one query (for lists that show who did something)."""
    if not user_ids:
        return {}
    rows = await db.execute(select(User.id, User.display_name).where(User.id.in_(user_ids)))
    return {uid: name for uid, name in rows.all()}


async def active_tenant(db: AsyncSession, slug: str) -> Tenant | None:
    """An active tenant by its slug (pending, suspended and unknown ones: None)."""
    return await db.scalar(select(Tenant).where(Tenant.slug == slug[:40], Tenant.status == "active"))
