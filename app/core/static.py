"""Static files: content-hashed names, compressed once at start-up, cached for a year.

`/static/app.css` is served as `/static/app.<hash>.css`; templates call `static('app.css')`.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

import brotli
from litestar import Request, Response, get
from app.core.errors import NotFound

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"  # app/static, shipped in the wheel
IMMUTABLE = "public, max-age=31536000, immutable"
COMPRESSIBLE = {".css", ".js", ".svg", ".txt", ".json", ".ico"}


@dataclass(frozen=True)
class Asset:
    hashed_name: str
    media_type: str
    raw: bytes
    br: bytes | None
    gz: bytes | None
    etag: str


class StaticManifest:
    def __init__(self, folder: Path = STATIC_DIR):
        self.by_name: dict[str, Asset] = {}
        self.by_hashed: dict[str, Asset] = {}
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            logical = path.relative_to(folder).as_posix()
            raw = path.read_bytes()
            digest = hashlib.sha256(raw).hexdigest()[:12]
            stem, dot, ext = logical.rpartition(".")
            hashed = f"{stem}.{digest}.{ext}" if dot else f"{logical}.{digest}"
            compress = path.suffix in COMPRESSIBLE
            asset = Asset(
                hashed_name=hashed,
                media_type=mimetypes.guess_type(logical)[0] or "application/octet-stream",
                raw=raw,
                br=brotli.compress(raw, quality=11) if compress else None,
                gz=gzip.compress(raw, compresslevel=9, mtime=0) if compress else None,
                etag=f'"{digest}"',
            )
            self.by_name[logical] = asset
            self.by_hashed[hashed] = asset

    def url(self, logical: str) -> str:
        return f"/static/{self.by_name[logical].hashed_name}"


@get("/static/{file_path:path}", include_in_schema=False, sync_to_thread=False, opt={"public": True})
def serve_static(request: Request, file_path: str) -> Response:
    manifest: StaticManifest = request.app.state.static
    asset = manifest.by_hashed.get(file_path.lstrip("/"))
    if asset is None:
        raise NotFound()
    headers = {"Cache-Control": IMMUTABLE, "ETag": asset.etag, "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(b"", status_code=304, headers=headers)
    accepted = request.headers.get("accept-encoding", "")
    body = asset.raw
    if asset.br is not None and "br" in accepted:
        body, headers["Content-Encoding"] = asset.br, "br"
    elif asset.gz is not None and "gzip" in accepted:
        body, headers["Content-Encoding"] = asset.gz, "gzip"
    return Response(body, media_type=asset.media_type, headers=headers)
