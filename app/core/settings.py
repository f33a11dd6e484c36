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
  LIANLUO_TRUSTED_PROXIES  comma-separated addresses or networks (CIDR, 10.0.0.0/8) of reverse proxies
                      whose X-Forwarded-For and X-Forwarded-Proto are believed (default: none)
  LIANLUO_METRICS_ALLOW  comma-separated addresses or networks (CIDR) that may read /metrics
  LIANLUO_METRICS_TOKEN  a bearer token that may read /metrics from anywhere (default: none)
  LIANLUO_SENTRY_DSN  a Sentry-compatible DSN: error log records are sent there (default: none)
  LIANLUO_TOTP_KEY    seals operators' TOTP secrets in the database (default: LIANLUO_SECRET_KEY)
  LIANLUO_TOTP_OLD_KEYS  comma-separated keys that sealed them before a rotation: still opened, and
                      sealed again under LIANLUO_TOTP_KEY by `lianluo migrate` or at the next use
  LIANLUO_DB_POOLER   "pgbouncer" when web and worker reach PostgreSQL through PgBouncer in transaction
                      mode: no named prepared statements survive a transaction there
  LIANLUO_DB_CITUS    1 when DATABASE_URL is a Citus coordinator (deploy/README.md): the tenant is bound
                      with SET LOCAL, which the coordinator passes on to the worker nodes

Notifications (app.notify; `./run start` starts a local fake SMS gateway on 8025 and a local mail
sink on 8026 unless LIANLUO_SMS_URL / LIANLUO_SMTP_HOST are set):
  LIANLUO_SMS_URL     the SMS service's SendSms endpoint (Alibaba Cloud SMS style, e.g.
                      https://dysmsapi.aliyuncs.com/); unset: SMS wait, are retried, then fail
  LIANLUO_SMS_KEY_ID / LIANLUO_SMS_KEY_SECRET  the access key that signs each request (defaults
                      lianluo-dev / lianluo-dev-secret: what the local fake gateway expects)
  LIANLUO_SMS_SIGN    the SMS signature name (default 联络)
  LIANLUO_SMS_TEMPLATES  the provider's template code per message kind, "kind=CODE,kind=CODE"
                      (default for a kind not listed: LIANLUO_<KIND>, e.g. LIANLUO_ACTIVITY_SMS)
  LIANLUO_SMS_PROVIDER  aliyun (default: Alibaba Cloud SMS) or tencent (Tencent Cloud SMS, SendSms
                      2021-01-11; LIANLUO_SMS_URL https://sms.tencentcloudapi.com/, the key id and secret
                      are its SecretId / SecretKey)
  LIANLUO_SMS_TENCENT_APP_ID  Tencent's SmsSdkAppId (default 1400000000: what the local fake expects)
  LIANLUO_SMS_TENCENT_REGION  Tencent's region (default ap-guangzhou)
  LIANLUO_SMS_TENCENT_TEMPLATES  per kind the Tencent template id and the params for its {1}, {2}, …
                      in order: "kind=ID:param|param,kind=ID" (without ":…", the kind's variables in
                      the order its text uses them); with the tencent provider these ids are the
                      template codes (LIANLUO_SMS_TEMPLATES is not read)
  LIANLUO_SMTP_HOST / LIANLUO_SMTP_PORT (default 25)  the SMTP server for e-mail; unset: no e-mail
  LIANLUO_SMTP_USER / LIANLUO_SMTP_PASSWORD  credentials, if the server wants them
  LIANLUO_SMTP_FROM   the sender address (default lianluo@localhost)
  LIANLUO_SMTP_TLS    implicit (TLS from the first byte, port 465), starttls (upgrade, port 587 or 25)
                      or none; default: implicit on port 465, else none
  LIANLUO_SMTP_STARTTLS  "1": the same as LIANLUO_SMTP_TLS=starttls (older name)
  LIANLUO_OUTBOX_STALE_SECONDS  a message claimed by a worker that died is looked into after this many
                      seconds (default 120): an SMS is checked with the provider, never sent blindly again
  LIANLUO_SMS_CHECK_GRACE_SECONDS  how long after a send of unknown outcome the provider's "no such
                      message" means it was not taken, so it is sent again (default 60)
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
# A checkout (./run, the tests) keeps development data in its own var/; an installed package has no
# checkout around it (ROOT is site-packages there), so it uses ./var under the working directory.
DEFAULT_DATA_DIR = ROOT / "var" if (ROOT / "pyproject.toml").is_file() else Path("var")


class AddressList(frozenset):
    """Addresses and networks from a setting ("127.0.0.1, 10.0.0.0/8, fd00::/8"): `address in it` is
    true for an address equal to an entry or inside one of its networks. Entries that are not
    addresses (a name such as "testclient") match only themselves."""

    def __new__(cls, entries=()):
        self = super().__new__(cls, (str(e).strip() for e in entries if str(e).strip()))
        self.networks = tuple(_network(e) for e in self if _network(e) is not None)
        return self

    @classmethod
    def parse(cls, value: str) -> "AddressList":
        return cls(value.split(","))

    def __contains__(self, address) -> bool:
        if not isinstance(address, str) or not address:
            return False
        if frozenset.__contains__(self, address):
            return True
        try:
            ip = ipaddress.ip_address(address.strip("[]").partition("%")[0])
        except ValueError:
            return False
        if ip.version == 6 and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        return any(ip.version == net.version and ip in net for net in self.networks)


def _network(entry: str):
    try:
        return ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return None


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
    # "pgbouncer": a pooler in transaction mode sits between us and PostgreSQL (no named prepared statements)
    db_pooler: str = ""
    # a Citus coordinator: bind with SET LOCAL (propagated to the workers), not set_config
    db_citus: bool = False
    public_url: str = ""
    trusted_proxies: frozenset[str] = AddressList()
    metrics_allow: frozenset[str] = AddressList()
    metrics_token: str = ""
    sentry_dsn: str = ""
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
    sms_provider: str = "aliyun"
    sms_tencent_app_id: str = "1400000000"
    sms_tencent_region: str = "ap-guangzhou"
    # kind → (Tencent template id, our param names in the order of its {1}, {2}, …, or None: the
    # kind's variables in the order its text uses them)
    sms_tencent_templates: dict[str, tuple[str, tuple[str, ...] | None]] = field(default_factory=dict)
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = "lianluo@localhost"
    smtp_starttls: bool = False
    smtp_tls: str = "none"  # implicit | starttls | none
    outbox_stale_seconds: int = 120
    # How long after a send whose outcome is unknown the provider's "no such message" means it was not
    # taken (then it is sent again); the provider needs a moment to know what it accepted.
    sms_check_grace_seconds: int = 60

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


DEV_SMS_SECRET = "lianluo-dev-secret"  # what the local fake SMS gateway expects
PLACEHOLDER = "CHANGE-ME"  # deploy/lianluo.env.example's stand-in for every secret
MIN_SECRET_LENGTH = 32


def production_problems(env: dict[str, str]) -> list[str]:
    """What keeps `serve` (production) from starting: development or placeholder secrets, or a
    missing LIANLUO_SECRET_KEY. Each names the variable to fix."""
    problems = []
    key = env.get("LIANLUO_SECRET_KEY", "").strip()
    data_dir = Path(env.get("LIANLUO_DATA_DIR") or DEFAULT_DATA_DIR)
    dev_key = data_dir / "secret_key"
    if not key:
        problems.append("LIANLUO_SECRET_KEY is not set (each host would generate its own; forms would fail "
                        "across hosts and restarts)")
    elif dev_key.exists() and dev_key.read_text().strip() == key:
        problems.append(f"LIANLUO_SECRET_KEY is the development key generated in {dev_key}")
    elif PLACEHOLDER.lower() not in key.lower() and len(key) < MIN_SECRET_LENGTH:
        problems.append(f"LIANLUO_SECRET_KEY is shorter than {MIN_SECRET_LENGTH} characters")
    for name in sorted(env):
        if name.startswith(("LIANLUO_", "DATABASE_", "REDIS_")) and PLACEHOLDER.lower() in env[name].lower():
            problems.append(f"{name} still holds the placeholder {PLACEHOLDER}")
    if env.get("LIANLUO_SMS_URL", "").strip() and env.get("LIANLUO_SMS_KEY_SECRET", DEV_SMS_SECRET) == DEV_SMS_SECRET:
        problems.append(f"LIANLUO_SMS_KEY_SECRET is the development key of the fake SMS gateway ({DEV_SMS_SECRET})")
    return problems


def _templates(value: str) -> dict[str, str]:
    """"kind=CODE,kind=CODE" → {kind: CODE}; malformed parts are ignored."""
    out = {}
    for part in value.split(","):
        kind, sep, code = part.partition("=")
        if sep and kind.strip() and code.strip():
            out[kind.strip()] = code.strip()
    return out


SMS_PROVIDERS = ("aliyun", "tencent")


def _tencent_templates(value: str) -> dict[str, tuple[str, tuple[str, ...] | None]]:
    """"kind=ID:a|b,kind=ID" → {kind: (ID, ("a", "b")), kind: (ID, None)}: None when the order is not
    given (the kind's variables in the order its text uses them); malformed parts are ignored."""
    out = {}
    for kind, code in _templates(value).items():
        template_id, colon, names = code.partition(":")
        if template_id.strip():
            order = tuple(n.strip() for n in names.split("|") if n.strip()) if colon else None
            out[kind] = (template_id.strip(), order)
    return out


def _sms_provider_values() -> dict:
    """Which SMS provider, and the template map that goes with it. An unknown provider stops the start:
    sending with the wrong provider's requests would fail every SMS."""
    provider = (os.environ.get("LIANLUO_SMS_PROVIDER") or "aliyun").strip().lower()
    if provider not in SMS_PROVIDERS:
        raise ValueError(f"LIANLUO_SMS_PROVIDER must be one of {', '.join(SMS_PROVIDERS)}, not {provider!r}")
    tencent = _tencent_templates(os.environ.get("LIANLUO_SMS_TENCENT_TEMPLATES", ""))
    templates = ({kind: tid for kind, (tid, _names) in tencent.items()} if provider == "tencent"
                 else _templates(os.environ.get("LIANLUO_SMS_TEMPLATES", "")))
    return dict(
        sms_provider=provider,
        sms_templates=templates,
        sms_tencent_app_id=(os.environ.get("LIANLUO_SMS_TENCENT_APP_ID") or "1400000000").strip(),
        sms_tencent_region=(os.environ.get("LIANLUO_SMS_TENCENT_REGION") or "ap-guangzhou").strip(),
        sms_tencent_templates=tencent,
    )


def _int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, "") or default)
    except ValueError:
        return default


def _notify_values() -> dict:
    return dict(
        sms_url=os.environ.get("LIANLUO_SMS_URL", "").strip(),
        sms_key_id=os.environ.get("LIANLUO_SMS_KEY_ID") or "lianluo-dev",
        sms_key_secret=os.environ.get("LIANLUO_SMS_KEY_SECRET") or DEV_SMS_SECRET,
        sms_sign=os.environ.get("LIANLUO_SMS_SIGN") or "联络",
        **_sms_provider_values(),
        smtp_host=os.environ.get("LIANLUO_SMTP_HOST", "").strip(),
        smtp_port=_int("LIANLUO_SMTP_PORT", 25),
        smtp_user=os.environ.get("LIANLUO_SMTP_USER", ""),
        smtp_password=os.environ.get("LIANLUO_SMTP_PASSWORD", ""),
        smtp_from=os.environ.get("LIANLUO_SMTP_FROM") or "lianluo@localhost",
        smtp_starttls=_flag("LIANLUO_SMTP_STARTTLS", False),
        smtp_tls=smtp_tls_mode(os.environ.get("LIANLUO_SMTP_TLS", ""), _int("LIANLUO_SMTP_PORT", 25),
                               _flag("LIANLUO_SMTP_STARTTLS", False)),
        outbox_stale_seconds=max(1, _int("LIANLUO_OUTBOX_STALE_SECONDS", 120)),
        sms_check_grace_seconds=max(0, _int("LIANLUO_SMS_CHECK_GRACE_SECONDS", 60)),
    )


SMTP_TLS_MODES = ("implicit", "starttls", "none")


def smtp_tls_mode(value: str, port: int, starttls: bool) -> str:
    """LIANLUO_SMTP_TLS as given; unset: STARTTLS if the older flag asks for it, implicit TLS on the
    submissions port 465 (which speaks TLS from the first byte), else none."""
    value = value.strip().lower()
    if value in SMTP_TLS_MODES:
        return value
    if value:
        raise ValueError(f"LIANLUO_SMTP_TLS must be one of {', '.join(SMTP_TLS_MODES)}, not {value!r}")
    return "starttls" if starttls else "implicit" if port == 465 else "none"


def app_role_name() -> str:
    return os.environ.get("DATABASE_APP_ROLE", "lianluo_app")


def sweep_role_name() -> str:
    """The role owning the cross-county functions of the worker and the operator (migration 0044)."""
    return os.environ.get("DATABASE_SWEEP_ROLE", "lianluo_sweep")


def load_settings(**overrides) -> Settings:
    data_dir = Path(os.environ.get("LIANLUO_DATA_DIR", DEFAULT_DATA_DIR))
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
        db_pooler=os.environ.get("LIANLUO_DB_POOLER", "").strip().lower(),
        db_citus=_flag("LIANLUO_DB_CITUS", False),
        public_url=os.environ.get("LIANLUO_PUBLIC_URL", "").rstrip("/"),
        trusted_proxies=AddressList.parse(os.environ.get("LIANLUO_TRUSTED_PROXIES", "")),
        metrics_allow=AddressList.parse(os.environ.get("LIANLUO_METRICS_ALLOW", "")),
        metrics_token=os.environ.get("LIANLUO_METRICS_TOKEN", "").strip(),
        sentry_dsn=os.environ.get("LIANLUO_SENTRY_DSN", "").strip(),
        totp_key=os.environ.get("LIANLUO_TOTP_KEY", "").strip(),
        totp_old_keys=tuple(k.strip() for k in os.environ.get("LIANLUO_TOTP_OLD_KEYS", "").split(",") if k.strip()),
    )
    values.update(_notify_values())
    values.update(overrides)
    return Settings(**values)
