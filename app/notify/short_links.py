"""Short links for messages: `/s/<code>` on our own host stands for a longer path of the product
(a deputy's sign-in link, the receipt lookup, a case's page), so an SMS carries only the code as its
template variable (app.notify.sms_templates).

The code is ten random characters of the receipt-code alphabet (app.cases.codes: no look-alikes,
≈ 49.5 bits), followed by the tenant's id written in the same alphabet (1–4 characters). The tenant
part is no secret (the page the link opens names the county anyway); it lets `/s/<code>` open a
session bound to that tenant and find the row under row-level security, with an explicit
`tenant_id` (one shard on a distributed database), without a SECURITY DEFINER function or a
platform-wide index. The random part is what cannot be guessed; codes that match nothing are
counted per client (`short_link_misses`, keyed hash of the address) and a client past
`MISSES_PER_HOUR` is refused whatever it asks.

`short_links` keeps one row per (tenant, target path): the same path (a message written again,
the receipt lookup every person of the county is sent to) gets the same code, and its expiry moves
on. Nothing here commits.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import column, table, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases.codes import CODE_ALPHABET

RANDOM_LENGTH = 10
LIFETIME = timedelta(days=180)  # a link in an SMS from half a year ago still opens
MISSES_PER_HOUR = 30
MISS_WINDOW = timedelta(hours=1)
MAX_TENANT = len(CODE_ALPHABET) ** 4 - 1  # four characters: plenty of counties
TARGET_MAX = 300

# The codes the targets have; an expiry moves on at most once a day, so messages written together
# (every receipt of a county leads to its lookup page) do not queue behind one row's lock.
_EXISTING = text("""
WITH found AS (SELECT target, code, expires_at FROM short_links
               WHERE tenant_id = :tenant_id AND target = ANY(CAST(:targets AS text[]))),
moved AS (UPDATE short_links s SET expires_at = CAST(:expires_at AS timestamptz) FROM found
          WHERE s.tenant_id = :tenant_id AND s.target = found.target
            AND found.expires_at < CAST(:expires_at AS timestamptz) - interval '1 day')
SELECT target, code FROM found
""")
_SHORT_LINKS = table("short_links", column("tenant_id"), column("code"), column("target"), column("expires_at"))


def _insert(tenant_id: int, expires_at: datetime, codes: list[str], targets: list[str]):
    """New ones, as rows of VALUES (Citus runs INSERT … SELECT through the coordinator with COPY, which
    row-level security refuses); a random part already taken (or a target another transaction just
    gave a code) is skipped."""
    rows = [{"tenant_id": tenant_id, "code": c, "target": t, "expires_at": expires_at} for c, t in zip(codes, targets)]
    return (insert(_SHORT_LINKS).values(rows).on_conflict_do_nothing()
            .returning(_SHORT_LINKS.c.target, _SHORT_LINKS.c.code))
_FIND = text("""
SELECT target FROM short_links WHERE tenant_id = :tenant_id AND code = :code AND expires_at > now()
""")
_MISSES = text("""
SELECT count(*) FROM short_link_misses WHERE tenant_id = :tenant_id AND client_hash = :client AND at > :since
""")
_PRUNE_MISSES = text("DELETE FROM short_link_misses WHERE tenant_id = :tenant_id AND at <= :since")
_MISS = text("INSERT INTO short_link_misses (tenant_id, client_hash) VALUES (:tenant_id, :client)")
_ACTIVE = text("SELECT 1 FROM tenants WHERE id = :tenant_id AND status = 'active'")


def _tenant_part(tenant_id: int) -> str:
    digits, n, base = [], tenant_id, len(CODE_ALPHABET)
    while True:
        n, r = divmod(n, base)
        digits.append(CODE_ALPHABET[r])
        if not n:
            return "".join(reversed(digits))


def parse(code: str) -> tuple[int, str] | None:
    """(tenant id, random part) of a code as typed or followed (case ignored), or None."""
    code = (code or "").strip().upper()
    if not RANDOM_LENGTH < len(code) <= RANDOM_LENGTH + 4 or any(c not in CODE_ALPHABET for c in code):
        return None
    tenant_id = 0
    for c in code[RANDOM_LENGTH:]:
        tenant_id = tenant_id * len(CODE_ALPHABET) + CODE_ALPHABET.index(c)
    return (tenant_id, code[:RANDOM_LENGTH]) if 0 < tenant_id <= MAX_TENANT else None


def _check(tenant_id: int, target: str) -> None:
    if not target.startswith("/") or target.startswith("//") or len(target) > TARGET_MAX:
        raise ValueError(f"not a path of ours: {target[:60]!r}")
    if not 0 < tenant_id <= MAX_TENANT:
        raise ValueError(f"tenant id out of range: {tenant_id}")


async def short_codes(db: AsyncSession, tenant_id: int, targets, *, now: datetime | None = None) -> dict[str, str]:
    """{target: code} for paths of ours (each starting with "/") in this tenant: the code a target
    has, its expiry moved on, or a new one. Two statements however many targets, in the caller's
    transaction, bound to `tenant_id`."""
    wanted = list(dict.fromkeys(targets))
    for target in wanted:
        _check(tenant_id, target)
    values = {"tenant_id": tenant_id, "expires_at": (now or datetime.now(timezone.utc)) + LIFETIME}
    found = dict((await db.execute(_EXISTING, {**values, "targets": wanted})).all()) if wanted else {}
    for _ in range(3):  # a random part that happens to be taken already: draw again
        missing = [t for t in wanted if t not in found]
        if not missing:
            return {t: found[t] + _tenant_part(tenant_id) for t in wanted}
        codes = ["".join(secrets.choice(CODE_ALPHABET) for _ in range(RANDOM_LENGTH)) for _ in missing]
        found.update((await db.execute(_insert(tenant_id, values["expires_at"], codes, missing))).all())
        missing = [t for t in wanted if t not in found]
        if missing:  # given a code by another transaction meanwhile, or a random part taken
            found.update((await db.execute(_EXISTING, {**values, "targets": missing})).all())
    raise RuntimeError("no free short code after three draws")


async def short_code(db: AsyncSession, tenant_id: int, target: str, *, now: datetime | None = None) -> str:
    """The code of one path (see `short_codes`)."""
    return (await short_codes(db, tenant_id, [target], now=now))[target]


def client_hash(secret_key: str, tenant_id: int, addr: str | None) -> str:
    """A keyed hash of the client's address: misses are counted without keeping the address."""
    return hmac.new(secret_key.encode(), f"short-link:{tenant_id}:{addr or ''}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Followed:
    target: str | None  # the path to go to; None: unknown, expired or another's (one answer for all)
    blocked: bool = False  # the client has used up its misses: refused whatever the code


async def follow(db: AsyncSession, tenant_id: int, random_part: str, client: str,
                 now: datetime | None = None) -> Followed:
    """Where a code leads, in a transaction bound to `tenant_id` (from `parse`). A miss is counted
    (the caller commits it); an unknown, suspended or closed tenant gives the same miss, uncounted."""
    if await db.scalar(_ACTIVE, {"tenant_id": tenant_id}) is None:
        return Followed(None)
    since = (now or datetime.now(timezone.utc)) - MISS_WINDOW
    if await db.scalar(_MISSES, {"tenant_id": tenant_id, "client": client, "since": since}) >= MISSES_PER_HOUR:
        return Followed(None, blocked=True)
    target = await db.scalar(_FIND, {"tenant_id": tenant_id, "code": random_part})
    if target is None:
        await db.execute(_PRUNE_MISSES, {"tenant_id": tenant_id, "since": since})
        await db.execute(_MISS, {"tenant_id": tenant_id, "client": client})
    return Followed(target)
