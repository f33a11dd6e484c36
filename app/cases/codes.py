"""The codes a person holds for their case: the receipt code (looks up the progress) and the rating
code (proves that a rating on the public page comes from the person).

The receipt code is known to staff (they read it to the person over the phone, search by it), so it
cannot prove anything. The rating code reaches only the person: on the receipt page of the public
form and in the SMS with the answer. The database keeps its digest only, one row per code given, so
a new code for the SMS does not invalidate the one on the receipt. Nothing here commits.
"""

from __future__ import annotations

import re
import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases.models import Case, CaseRatingCode
from app.core.security import token_digest

# No 0/O, 1/I/L; 10 characters ≈ 50 bits, short enough to read over the phone or type from an SMS.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(text: str) -> str:
    """What a person typed as a code, as stored (upper case, no spaces or dashes)."""
    return re.sub(r"[\s-]", "", (text or "")).upper()[:CODE_LENGTH + 4]


def group_code(code: str) -> str:
    """ABCDEFGHJK → ABCD-EFGH-JK: easier to read out and copy."""
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


async def issue_rating_code(db: AsyncSession, case: Case, sent_by: str) -> str:
    """A new rating code for the person (``sent_by``: "receipt" or "sms"); only its digest is kept."""
    code = new_code()
    db.add(CaseRatingCode(tenant_id=case.tenant_id, case_id=case.id, digest=token_digest(code), sent_by=sent_by))
    await db.flush()
    return code


async def rating_code_matches(db: AsyncSession, case: Case, typed: str) -> bool:
    """Is ``typed`` one of the rating codes given to the person of this case?"""
    code = normalise_code(typed)
    if len(code) != CODE_LENGTH:
        return False
    return await db.scalar(select(CaseRatingCode.id).where(
        CaseRatingCode.case_id == case.id, CaseRatingCode.digest == token_digest(code)).limit(1)) is not None
