"""The document a deputy or staff may attach to a filed duty entry besides its photo: a PDF or a Word
.docx, kept as uploaded (a document, unlike a photo, cannot be made small without losing it).

What is taken is decided by the bytes, never by the name or the declared type: a PDF starts with
``%PDF-``; a .docx is a ZIP (``PK\\x03\\x04``) whose directory lists ``word/document.xml`` and
``[Content_Types].xml``. The size is bounded before anything is read (the route reads at most one
byte more than allowed), and the ZIP's directory is read off the event loop. Nothing is decompressed.
The name shown and offered on download is the uploaded one made safe: no folders, no control or
quoting characters, at most 100 characters, and the suffix of what the bytes are.
"""

from __future__ import annotations

import asyncio
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer

from app.audit.services import record
from app.core.errors import NotFound, Refusal
from app.core.i18n import lazy
from app.duties.models import (
    DOCUMENT_SUFFIXES, DOCX_TYPE, MAX_DOCUMENT_BYTES, MAX_DOCUMENT_NAME, PDF_TYPE, DutyDocument, DutyEntry,
)

DOCUMENT_TOO_LARGE = lazy("The document is too large (at most 5 MB).")  # MAX_DOCUMENT_BYTES
NOT_A_DOCUMENT = lazy("The document must be a PDF or a Word .docx file (save an old .doc as .docx or PDF first).")
DOCX_PARTS = ("word/document.xml", "[Content_Types].xml")
# Characters a file name may not keep: folders, quotes and what Windows refuses in a name.
UNSAFE = re.compile(r'[\\/:*?"<>|;]')
FALLBACK_NAME = "document"


@dataclass(frozen=True)
class Checked:
    data: bytes
    media_type: str
    file_name: str


def _is_docx(raw: bytes) -> bool:
    """A ZIP whose directory names a Word document's parts; the directory is parsed, nothing inflated."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError, NotImplementedError):
        return False
    return all(part in names for part in DOCX_PARTS)


async def media_type_of(raw: bytes) -> str | None:
    if raw.startswith(b"%PDF-"):
        return PDF_TYPE
    if raw.startswith(b"PK\x03\x04") and await asyncio.to_thread(_is_docx, raw):
        return DOCX_TYPE
    return None


def safe_name(uploaded: str | None, media_type: str) -> str:
    """The uploaded file's name without folders, control or quoting characters, ending in the suffix
    of what the bytes are (a PDF named .docx is called .pdf), at most MAX_DOCUMENT_NAME characters."""
    name = (uploaded or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in unicodedata.normalize("NFC", name) if not unicodedata.category(c).startswith("C"))
    stem = " ".join(UNSAFE.sub(" ", name).split())
    if "." in stem:
        stem = stem.rsplit(".", 1)[0].strip()
    stem = stem.strip(". ") or FALLBACK_NAME
    suffix = "." + DOCUMENT_SUFFIXES[media_type]
    return stem[:MAX_DOCUMENT_NAME - len(suffix)] + suffix


async def check(raw: bytes, uploaded_name: str | None) -> Checked:
    """The document as it will be kept, or Refusal (nothing is written here)."""
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise Refusal(DOCUMENT_TOO_LARGE, input_name="document")
    media_type = await media_type_of(raw)
    if media_type is None:
        raise Refusal(NOT_A_DOCUMENT, input_name="document")
    return Checked(raw, media_type, safe_name(uploaded_name, media_type))


async def store(db: AsyncSession, tenant_id: int, doc: Checked) -> DutyDocument:
    row = DutyDocument(tenant_id=tenant_id, media_type=doc.media_type, file_name=doc.file_name, size=len(doc.data),
                       data=doc.data)
    db.add(row)
    await db.flush()
    return row


async def for_download(db: AsyncSession, entry: DutyEntry, *, actor_id: int, client_addr: str | None) -> DutyDocument:
    """The entry's document with its bytes, the download audited as a reveal of personal data is (a
    deputy's papers). The caller has reached the entry through the dossier's scope."""
    document = await db.scalar(
        select(DutyDocument).options(undefer(DutyDocument.data))
        .where(DutyDocument.tenant_id == entry.tenant_id, DutyDocument.id == entry.document_id)
    ) if entry.document_id else None
    if document is None:
        raise NotFound()
    await record(db, tenant_id=entry.tenant_id, actor_user_id=actor_id, action="duty_document_downloaded",
                 target=f"deputy:{entry.deputy_id}", client_addr=client_addr,
                 details={"entry_id": entry.id, "document_id": document.id, "name": document.file_name})
    return document
