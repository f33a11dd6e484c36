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
  LIANLUO_TOTP_KEY    seals operators' TOTP secrets in the database (default: LIANLUO_SECRET_KEY)
  LIANLUO_TOTP_OLD_KEYS  comma-separated keys that sealed them before a rotation: still opened, and
                      sealed again under LIANLUO_TOTP_KEY by `lianluo migrate` or at the next use

Notifications (app.notify; `./run start` starts a local fake SMS gateway on 8025 and a local mail
sink on 8026 unless LIANLUO_SMS_URL / LIANLUO_SMTP_HOST are set):
  LIANLUO_SMS_URL     the SMS service's SendSms endpoint (Alibaba Cloud SMS style, e.g.
                      https://dysmsapi.aliyuncs.com/); unset: SMS wait, are retried, then fail
  LIANLUO_SMS_KEY_ID / LIANLUO_SMS_KEY_SECRET  the access key that signs each request (defaults
                      lianluo-dev / lianluo-dev-secret: what the local fake gateway expects)
  LIANLUO_SMS_SIGN    the SMS signature name (default 联络)
  LIANLUO_SMS_TEMPLATES  the provider's template code per message kind, "kind=CODE,kind=CODE"
                      (default for a kind not listed: LIANLUO_<KIND>, e.g. LIANLUO_ACTIVITY_SMS)
  LIANLUO_SMTP_HOST / LIANLUO_SMTP_PORT (default 25)  the SMTP server for e-mail; unset: no e-mail
  LIANLUO_SMTP_USER / LIANLUO_SMTP_PASSWORD  credentials, if the server wants them
  LIANLUO_SMTP_FROM   the sender address (default lianluo@localhost)
  LIANLUO_SMTP_STARTTLS  "1" to upgrade the connection with STARTTLS
  LIANLUO_OUTBOX_STALE_SECONDS  a message claimed by a worker that died is sent again (with the same
                      reference) after this many seconds (default 300)
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
    # An account locks after this many failures in an hour (from anywhere: a distributed attack).
    failed_logins_per_hour: int = 100
    # One client address (an IPv6 /64) is refused after this many failures in its window. Keep
    # (60 / window) x this below the account's limit, so that one address alone cannot lock anyone.
    failed_logins_per_address: int = 20
    address_window_minutes: int = 15
    totp_key: str = ""
    totp_old_keys: tuple[str, ...] = ()
    sms_url: str = ""
    sms_key_id: str = "lianluo-dev"
    sms_key_secret: str = "lianluo-dev-secret"
    sms_sign: str = "联络"
    sms_templates: dict[str, str] = field(default_factory=dict)
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = "lianluo@localhost"
    smtp_starttls: bool = False
    outbox_stale_seconds: int = 300

    def totp_keys(self) -> list[str]:
        """The key that seals TOTP secrets, then the older ones that may still open them."""
        return [self.totp_key or self.secret_key, *self.totp_old_keys]

    def sms_template(self, kind: str) -> str:
        """The provider's template code for a message kind."""
        return self.sms_templates.get(kind) or f"LIANLUO_{kind.upper()}"


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


def _templates(value: str) -> dict[str, str]:
    """"kind=CODE,kind=CODE" → {kind: CODE}; malformed parts are ignored."""
    out = {}
    for part in value.split(","):
        kind, sep, code = part.partition("=")
        if sep and kind.strip() and code.strip():
            out[kind.strip()] = code.strip()
    return out


def _int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, "") or default)
    except ValueError:
        return default


def _notify_values() -> dict:
    return dict(
        sms_url=os.environ.get("LIANLUO_SMS_URL", "").strip(),
        sms_key_id=os.environ.get("LIANLUO_SMS_KEY_ID") or "lianluo-dev",
        sms_key_secret=os.environ.get("LIANLUO_SMS_KEY_SECRET") or "lianluo-dev-secret",
        sms_sign=os.environ.get("LIANLUO_SMS_SIGN") or "联络",
        sms_templates=_templates(os.environ.get("LIANLUO_SMS_TEMPLATES", "")),
        smtp_host=os.environ.get("LIANLUO_SMTP_HOST", "").strip(),
        smtp_port=_int("LIANLUO_SMTP_PORT", 25),
        smtp_user=os.environ.get("LIANLUO_SMTP_USER", ""),
        smtp_password=os.environ.get("LIANLUO_SMTP_PASSWORD", ""),
        smtp_from=os.environ.get("LIANLUO_SMTP_FROM") or "lianluo@localhost",
        smtp_starttls=_flag("LIANLUO_SMTP_STARTTLS", False),
        outbox_stale_seconds=max(1, _int("LIANLUO_OUTBOX_STALE_SECONDS", 300)),
    )


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
        totp_key=os.environ.get("LIANLUO_TOTP_KEY", "").strip(),
        totp_old_keys=tuple(k.strip() for k in os.environ.get("LIANLUO_TOTP_OLD_KEYS", "").split(",") if k.strip()),
    )
    values.update(_notify_values())
    values.update(overrides)
    return Settings(**values)
