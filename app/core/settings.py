"""Process settings, read once from the environment.

Names (documented in README.md):
  DATABASE_URL        the database, connected as the owner role (runs migrations)
  DATABASE_APP_URL    the runtime role's URL; default: DATABASE_URL with the user replaced by
                      DATABASE_APP_ROLE (and DATABASE_APP_PASSWORD, if set)
  DATABASE_APP_ROLE   name of the runtime role (default lianluo_app)
  REDIS_URL           Redis for the arq job queue
  LIANLUO_DATA_DIR    where embedded servers keep data (default ./var)
  LIANLUO_SECURE_COOKIES  "0" only for plain-HTTP local development
  LIANLUO_ALLOWED_HOSTS   comma-separated host names (default localhost,127.0.0.1)
  LIANLUO_SECRET_KEY  signs CSRF tokens; generated into the data dir when unset
  LIANLUO_PUBLIC_URL  the address people reach the product at (https://lianluo.example.cn), used in
                      links that leave the product (invitations); default: the request's own
  LIANLUO_TRUSTED_PROXIES  comma-separated addresses of reverse proxies whose X-Forwarded-For and
                      X-Forwarded-Proto are believed (default: none)
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass
class Settings:
    database_url: str
    app_database_url: str
    app_role: str
    redis_url: str
    data_dir: Path
    secret_key: str
    secure_cookies: bool = True
    allowed_hosts: list[str] = field(default_factory=lambda: ["localhost", "127.0.0.1"])
    count_queries: bool = False
    public_url: str = ""
    trusted_proxies: frozenset[str] = frozenset()
    max_body_bytes: int = 1_000_000
    session_idle_minutes: int = 30
    session_absolute_hours: int = 12
    failed_logins_per_hour: int = 100


def to_async_url(url: str) -> str:
    """Accept plain postgresql:// URLs from operators and use asyncpg underneath."""
    if not url:
        return ""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def derive_app_url(owner_url: str, role: str, password: str | None) -> str:
    parsed = make_url(to_async_url(owner_url)).set(username=role, password=password)
    return parsed.render_as_string(hide_password=False)


def _secret_key(data_dir: Path) -> str:
    if os.environ.get("LIANLUO_SECRET_KEY"):
        return os.environ["LIANLUO_SECRET_KEY"]
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def app_role_name() -> str:
    return os.environ.get("DATABASE_APP_ROLE", "lianluo_app")


def load_settings(**overrides) -> Settings:
    data_dir = Path(os.environ.get("LIANLUO_DATA_DIR", ROOT / "var"))
    owner_url = to_async_url(overrides.pop("database_url", None) or os.environ.get("DATABASE_URL", ""))
    role = app_role_name()
    app_url = os.environ.get("DATABASE_APP_URL")
    app_url = to_async_url(app_url) if app_url else (
        derive_app_url(owner_url, role, os.environ.get("DATABASE_APP_PASSWORD")) if owner_url else ""
    )
    hosts = os.environ.get("LIANLUO_ALLOWED_HOSTS", "localhost,127.0.0.1")
    values = dict(
        database_url=owner_url,
        app_database_url=app_url,
        app_role=role,
        redis_url=os.environ.get("REDIS_URL", ""),
        data_dir=data_dir,
        secret_key=_secret_key(data_dir),
        secure_cookies=_flag("LIANLUO_SECURE_COOKIES", True),
        allowed_hosts=[h.strip() for h in hosts.split(",") if h.strip()],
        count_queries=_flag("LIANLUO_COUNT_QUERIES", False),
        public_url=os.environ.get("LIANLUO_PUBLIC_URL", "").rstrip("/"),
        trusted_proxies=frozenset(
            p.strip() for p in os.environ.get("LIANLUO_TRUSTED_PROXIES", "").split(",") if p.strip()
        ),
    )
    values.update(overrides)
    return Settings(**values)
