"""A document on a filed duty entry besides its photo: a PDF or a Word .docx, told by its bytes (not its
name), at most 5 MB, refused with a clear message and nothing written otherwise; downloaded under a
safe name by those who may see the dossier (each download audited), shown to the reviewers, and in
the county's data export."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime, timezone
from urllib.parse import quote

import pytest

from app.core.spreadsheets import content_disposition
from app.data import building
from app.duties.documents import safe_name
from app.duties.models import DOCX_TYPE, MAX_DOCUMENT_BYTES, PDF_TYPE
from tests.deputies.deputy_world import count, post, signed_in, text_of
from tests.duties.duty_world import county_with_deputies, png, today

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def docx(parts: tuple[str, ...] = ("[Content_Types].xml", "word/document.xml", "_rels/.rels")) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in parts:
            archive.writestr(name, "<?xml version='1.0'?><w:document/>")
    return out.getvalue()


@pytest.fixture
async def county(database):
    return await county_with_deputies(database)


async def _file(client, fields: dict, files: dict):
    data = {"kind": "speech", "day": today().isoformat(), "text": "在县人代会上审议发言", **fields}
    return await post(client, f"{client.base}/duties", data, files=files)


async def test_a_deputy_files_a_speech_with_a_photo_and_a_pdf(app, county, owner_sql):
    async with signed_in(app, county, "rep") as client:
        form = await client.get(f"{client.base}/duties/new")
        assert 'type="file" name="document"' in form.text and "PDF or Word .docx, at most 5 MB" in text_of(form.text)
        r = await _file(client, {}, {"photo": ("speech.png", png(), "image/png"),
                                     "document": ("发言稿（定稿）.pdf", PDF, "application/pdf")})
        assert r.status_code == 303
        page = await client.get(r.headers["location"])
        [entry] = await owner_sql("SELECT id, image_id, document_id FROM duty_entries")
        assert entry["image_id"] and entry["document_id"]
        assert f'/duties/{entry["id"]}/document' in page.text and "Download the document" in page.text
        got = await client.get(f"{client.base}/duties/{entry['id']}/document")
    assert got.status_code == 200 and got.content == PDF
    assert got.headers["content-type"].startswith(PDF_TYPE)
    disposition = got.headers["content-disposition"]
    assert disposition.startswith("attachment;") and f"filename*=UTF-8''{quote('发言稿（定稿）.pdf')}" in disposition
    assert got.headers["cache-control"] == "no-store"
    [doc] = await owner_sql("SELECT file_name, media_type, size FROM duty_documents")
    assert (doc["file_name"], doc["media_type"], doc["size"]) == ("发言稿（定稿）.pdf", PDF_TYPE, len(PDF))
    [filed] = await owner_sql("SELECT details->'document'->>'bytes' AS n FROM audit_log "
                              "WHERE action = 'duty_entry_filed'")
    assert filed["n"] == str(len(PDF))
    assert await count(owner_sql, "audit_log", "action = 'duty_document_downloaded'") == 1


async def test_staff_attach_a_docx_whose_name_is_made_safe(app, county, owner_sql):
    async with signed_in(app, county, "town") as client:
        r = await _file(client, {"deputy_id": str(county.zhang), "kind": "inspection"},
                        {"document": ('..\\..\\etc/视察"报告\r\n.docx', docx(), "application/octet-stream")})
        assert r.status_code == 303
        [entry] = await owner_sql("SELECT id FROM duty_entries")
        got = await client.get(f"{client.base}/duties/{entry['id']}/document")
        review = await client.get(f"{client.base}/duties")  # the reviewer sees the document beside the entry
    [doc] = await owner_sql("SELECT file_name FROM duty_documents")
    assert doc["file_name"] == "视察 报告.docx"  # no folders, quotes or line breaks
    assert got.status_code == 200 and got.headers["content-type"].startswith(DOCX_TYPE)
    assert got.headers["content-disposition"] == content_disposition("视察 报告.docx")
    assert f'/duties/{entry["id"]}/document' in review.text


def test_the_name_follows_the_bytes_and_stays_short():
    assert safe_name("report.docx", PDF_TYPE) == "report.pdf"  # a PDF named .docx is called .pdf
    assert safe_name("", DOCX_TYPE) == "document.docx" and safe_name(".pdf", PDF_TYPE) == "document.pdf"
    assert safe_name("a:b*c?d<e>f|g;h", PDF_TYPE) == "a b c d e f g h.pdf"
    long = safe_name("长" * 300 + ".pdf", PDF_TYPE)
    assert len(long) == 100 and long.endswith(".pdf")


OLD_DOC = bytes.fromhex("d0cf11e0a1b11ae1") + b"\0" * 500

NOT_ONE = "The document must be a PDF or a Word .docx file"
BAD = [
    (("note.doc", OLD_DOC), NOT_ONE),  # an old Word file
    (("fake.docx", docx(("[Content_Types].xml", "xl/workbook.xml"))), NOT_ONE),  # a spreadsheet
    (("broken.docx", b"PK\x03\x04" + b"\0" * 100), NOT_ONE),  # a ZIP's start and nothing else
    (("page.pdf", b"<html>%PDF-1.4</html>"), NOT_ONE),
    (("big.pdf", b"%PDF-1.4\n" + b"0" * MAX_DOCUMENT_BYTES), "The document is too large (at most 5 MB)."),
]


@pytest.mark.parametrize("upload, message", BAD)
async def test_a_document_we_do_not_take_writes_nothing(app, county, owner_sql, upload, message):
    name, body = upload
    async with signed_in(app, county, "rep") as client:
        r = await _file(client, {}, {"photo": ("p.png", png(), "image/png"),
                                     "document": (name, body, "application/pdf")})
        assert r.status_code == 400 and message in text_of(r.text)
        assert 'name="document" accept' in r.text and 'aria-invalid="true"' in r.text.split('name="document"')[1][:300]
    for table in ("duty_entries", "duty_documents", "images"):
        assert await count(owner_sql, table) == 0, table
    assert await count(owner_sql, "audit_log", "action LIKE 'duty%'") == 0


async def test_the_document_has_the_reach_of_the_dossier(app, county, owner_sql):
    async with signed_in(app, county, "rep") as client:
        assert (await _file(client, {}, {"document": ("a.pdf", PDF, "application/pdf")})).status_code == 303
        assert (await _file(client, {"text": "没有附件"}, {})).status_code == 303
    with_doc, without = [r["id"] for r in await owner_sql("SELECT id FROM duty_entries ORDER BY id")]
    seen = {}
    for who in ("admin", "viewer", "town", "heba", "station", "rep", "rep2", "handler"):
        async with signed_in(app, county, who) as client:
            seen[who] = (await client.get(f"{client.base}/duties/{with_doc}/document")).status_code
            assert (await client.get(f"{client.base}/duties/{without}/document")).status_code == 404
    assert seen == {"admin": 200, "viewer": 200, "town": 200, "heba": 404, "station": 200, "rep": 200,
                    "rep2": 404, "handler": 404}
    assert await count(owner_sql, "audit_log", "action = 'duty_document_downloaded'") == 5


async def test_the_county_export_carries_the_documents(app, database, county, owner_sql):
    async with signed_in(app, county, "rep") as client:
        assert (await _file(client, {}, {"document": ("a.pdf", PDF, "application/pdf")})).status_code == 303
    [doc] = await owner_sql("SELECT id FROM duty_documents")

    async def progress(done: int, total: int) -> None:
        return None

    built = await building.build_zip(database, county.tenant.id, progress, datetime.now(timezone.utc))
    archive = zipfile.ZipFile(io.BytesIO(built.body))
    assert archive.read(f"documents/{doc['id']}.pdf") == PDF and built.documents == 1
    assert any(n.startswith("duty_documents-") for n in archive.namelist())
    assert "documents/" in archive.read("说明.txt").decode()
