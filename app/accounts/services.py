"""Sign-in, sessions and passwords. No web imports: the CLI and jobs use these too."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.access import now
from app.accounts.models import FailedLogin, Membership, User, UserSession
from app.audit.services import record_platform
from app.core.i18n import lazy
from app.core.security import MIN_PASSWORD_LENGTH, hash_password, new_token, verify_password
from app.core.settings import Settings
from app.tenancy.models import Tenant


class AccountError(Exception):
    """A refusal the user should read; ``message`` is an msgid."""

    def __init__(self, message: str, **variables):
        super().__init__(message)
        self.message = message
        self.variables = variables


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
    old one, if any, is revoked). Raises AccountError with the message to show. Commits."""
    user = await find_user(db, login)
    if user is None or user.disabled_at is not None:
        verify_password(None, password)  # same work either way
        await record_platform(db, actor_user_id=None, action="login_failed", target=login[:60], client_addr=client_addr)
        await db.commit()
        raise AccountError(WRONG_CREDENTIALS)
    failures = await db.scalar(
        select(func.count()).where(FailedLogin.user_id == user.id, FailedLogin.at > now() - timedelta(hours=1))
    )
    if failures >= settings.failed_logins_per_hour:
        await record_platform(db, actor_user_id=user.id, action="login_refused_locked", client_addr=client_addr)
        await db.commit()
        raise AccountError(LOCKED)
    if not verify_password(user.password_hash, password):
        await db.execute(insert(FailedLogin).values(user_id=user.id, client_addr=client_addr))
        await record_platform(db, actor_user_id=user.id, action="login_failed", client_addr=client_addr)
        if failures + 1 >= settings.failed_logins_per_hour:
            await record_platform(db, actor_user_id=user.id, action="account_locked", client_addr=client_addr)
        await db.commit()
        raise AccountError(WRONG_CREDENTIALS)
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
        raise AccountError(lazy("The password must have at least %(n)s characters."), n=MIN_PASSWORD_LENGTH)
    if password != confirm:
        raise AccountError(lazy("The two passwords do not match."))


async def change_password(
    db: AsyncSession, user: User, current: str, new: str, confirm: str, *, keep_session_id: int, client_addr: str | None
) -> None:
    """Change the password and end the user's other sessions. Commits."""
    if not verify_password(user.password_hash, current):
        raise AccountError(lazy("The current password is wrong."))
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
