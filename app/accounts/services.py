"""Sign-in, sessions and passwords. No web imports: the CLI and jobs use these too."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import now
from app.accounts.models import ROLES, SCOPED_ROLES, FailedLogin, Membership, User, UserSession
from app.audit.services import record, record_platform
from app.core.db import across_shards
from app.core.errors import Refusal
from app.core.i18n import lazy
from app.core.security import MIN_PASSWORD_LENGTH, MOBILE_RE, hash_password, mask_mobile, new_token, password_matches
from app.core.settings import Settings
from app.tenancy.models import AdminNode, Tenant


WRONG_CREDENTIALS = lazy("Wrong username, mobile number or password.")
LOCKED = lazy("Too many failed sign-ins for this account. Please try again in an hour or ask your administrator.")
ADDRESS_LIMITED = lazy("Too many failed sign-ins from this address. Please try again in %(minutes)s minutes.")


@dataclass
class NewSession:
    token: str
    session: UserSession
    user: User


@dataclass(frozen=True)
class Whose:
    """Whom failed sign-ins count against: an account, or (no account has the name) the name typed,
    so that unknown names are counted, locked and answered exactly like known ones."""

    user_id: int | None = None
    login_key: str | None = None

    @classmethod
    def of(cls, settings: Settings, user: User | None, login: str) -> Whose:
        if user is not None:
            return cls(user_id=user.id)
        # A keyed digest, not the text: people type mobile numbers and passwords into this field.
        typed = login.strip().lower().encode()
        return cls(login_key=hmac.new(settings.secret_key.encode(), typed, hashlib.sha256).hexdigest()[:40])

    def condition(self):
        if self.user_id is not None:
            return FailedLogin.user_id == self.user_id
        return FailedLogin.login_key == self.login_key


def client_net(client_addr: str | None) -> str | None:
    """What the per-address limit counts: an IPv4 address, or an IPv6 address's /64 (what one
    subscriber usually gets, so a single client cannot walk through its own addresses)."""
    if not client_addr:
        return None
    try:
        ip = ipaddress.ip_address(client_addr)
    except ValueError:
        return client_addr[:64]
    if ip.version == 6:
        mapped = ip.ipv4_mapped
        return str(mapped) if mapped else str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _typed(login: str) -> str:
    """The name as typed, for the audit log (a mobile number masked)."""
    return mask_mobile(login[:60]) if MOBILE_RE.match(login) else login[:60]


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
    """Check the password and open a fresh session (a new id: the old one, if any, is revoked).
    Failures count against the client address (which is refused first, long before any account
    locks) and against the account; a name no account has goes through the same steps, with the same
    answers and the same work. Raises Refusal with the message to show. Commits."""
    await _refuse_limited_address(db, settings, login, client_addr)
    user = await find_user(db, login)
    whose = Whose.of(settings, user, login)
    failures = await failures_in_last_hour(db, whose)
    if failures >= settings.failed_logins_per_hour:
        await record_platform(db, actor_user_id=whose.user_id, action="login_refused_locked",
                              target=None if user else _typed(login), client_addr=client_addr)
        await db.commit()
        raise Refusal(LOCKED, status=429)
    usable = user is not None and user.disabled_at is None
    # A missing or disabled account verifies against a dummy hash: the same work either way.
    if not await password_matches(user.password_hash if usable else None, password):
        await record_failure(db, settings, whose, failures, "login_failed", client_addr,
                             target=None if user else _typed(login))
        await db.commit()
        raise Refusal(WRONG_CREDENTIALS, status=401)
    return await open_session(
        db, settings, user, client_addr=client_addr, user_agent=user_agent, old_token_hash=old_token_hash
    )


async def _refuse_limited_address(db: AsyncSession, settings: Settings, login: str, client_addr: str | None) -> None:
    """Refuse (429) while the client's address has had too many failures in its window, before
    looking at the name, so the answer is the same whoever is named."""
    minutes = await address_wait_minutes(db, settings, client_net(client_addr))
    if minutes is None:
        return
    await record_platform(db, actor_user_id=None, action="login_refused_address", target=_typed(login),
                          client_addr=client_addr)
    await db.commit()
    raise Refusal(ADDRESS_LIMITED, status=429, minutes=minutes)


async def address_wait_minutes(db: AsyncSession, settings: Settings, net: str | None) -> int | None:
    """Minutes until an address may try again, or None if it may now. It is limited while its window
    holds ``failed_logins_per_address`` failures, i.e. until the newest that many-th one leaves it."""
    if net is None:
        return None
    window = timedelta(minutes=settings.address_window_minutes)
    nth = await db.scalar(
        select(FailedLogin.at)
        .where(FailedLogin.client_net == net, FailedLogin.at > now() - window)
        .order_by(FailedLogin.at.desc())
        .offset(settings.failed_logins_per_address - 1)
        .limit(1)
    )
    if nth is None:
        return None
    return max(1, math.ceil((nth + window - now()).total_seconds() / 60))


async def failures_in_last_hour(db: AsyncSession, whose: Whose) -> int:
    """Failed sign-ins (wrong passwords and wrong TOTP codes) counting against one account (or one
    unknown name) in the last hour; an admin's unlock stops the earlier ones counting."""
    return await db.scalar(
        select(func.count()).where(
            whose.condition(), FailedLogin.cleared_at.is_(None), FailedLogin.at > now() - timedelta(hours=1)
        )
    )


async def sign_in_locked(db: AsyncSession, settings: Settings, user_id: int) -> bool:
    return await failures_in_last_hour(db, Whose(user_id=user_id)) >= settings.failed_logins_per_hour


async def record_failure(
    db: AsyncSession, settings: Settings, whose: Whose, failures_before: int, action: str, client_addr: str | None,
    *, target: str | None = None,
) -> None:
    """Count one more failure against the account (or name) and the client address, audit it, and
    audit the lockout it may cause."""
    await db.execute(insert(FailedLogin).values(
        user_id=whose.user_id, login_key=whose.login_key, client_addr=client_addr, client_net=client_net(client_addr),
    ))
    await record_platform(db, actor_user_id=whose.user_id, action=action, target=target, client_addr=client_addr)
    if failures_before + 1 >= settings.failed_logins_per_hour:
        await record_platform(db, actor_user_id=whose.user_id, action="account_locked", target=target,
                              client_addr=client_addr)


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
    if not await password_matches(user.password_hash, current):
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
    that user: the own_memberships policy is what lets these rows through without a tenant. On Citus
    the one statement that reads every shard (a person belongs to a few counties, anywhere)."""
    async with across_shards(db):
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


async def unlock_sign_in(
    db: AsyncSession, *, tenant_id: int, actor_id: int, row: MemberRow, client_addr: str | None
) -> int:
    """Lift a member's account lockout: their failed sign-ins stop counting against the account
    (they still count against the addresses they came from, so an attacker is not freed too).
    Returns how many stopped counting. Audited in the tenant. Does not commit."""
    cleared = await db.execute(
        update(FailedLogin)
        .where(FailedLogin.user_id == row.user.id, FailedLogin.cleared_at.is_(None))
        .values(cleared_at=now())
    )
    await record(
        db, tenant_id=tenant_id, actor_user_id=actor_id, action="account_unlocked",
        target=f"membership:{row.membership.id}", client_addr=client_addr,
        details={"member": row.user.display_name, "failures_cleared": cleared.rowcount},
    )
    return cleared.rowcount


async def display_names(db: AsyncSession, user_ids: set[int]) -> dict[int, str]:
    """Users' display names by id, in one query (for lists that show who did something)."""
    if not user_ids:
        return {}
    rows = await db.execute(select(User.id, User.display_name).where(User.id.in_(user_ids)))
    return {uid: name for uid, name in rows.all()}


async def active_tenant(db: AsyncSession, slug: str) -> Tenant | None:
    """An active tenant by its slug (pending, suspended and unknown ones: None)."""
    return await db.scalar(select(Tenant).where(Tenant.slug == slug[:40], Tenant.status == "active"))
