"""Page weight, requests and queries of the running product against DESIGN.md's low-bandwidth budgets.

    .venv/bin/python bench/bench.py            # embedded PostgreSQL + Redis in a temporary folder
    DATABASE_URL=... REDIS_URL=... .venv/bin/python bench/bench.py   # those servers (migrates them!)

Starts the product itself (`python -m app start`, or `migrate` + `demo` + `serve` when DATABASE_URL and
REDIS_URL are set) with LIANLUO_COUNT_QUERIES=1, signs in as demo users, fetches the main pages with
`Accept-Encoding: br`, and prints one line per page and per static asset with PASS/FAIL. Latency is
printed for information only. Exits 1 if any byte or request budget fails. See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KB = 1024
BUDGET = {
    "html": 14 * KB,          # first HTML response, compressed
    "partial": 5 * KB,        # htmx partial response
    "css": 10 * KB,
    "app_js": 5 * KB,         # app JS beside htmx
    "first_bytes": 50 * KB,   # HTML + every CSS/JS it references
    "first_requests": 5,
    "repeat_bytes": 15 * KB,  # a repeat navigation with a warm cache
    "repeat_requests": 1,
}
BR = {"Accept-Encoding": "br"}
ASSET = re.compile(r'<(?:link[^>]+href|script[^>]+src)="(/static/[^"]+)"')
CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')

# (who, path, kind). `who` is a demo username or None (anonymous); kind "html", "partial" or "json".
# Optional pages that answer 404 (not built yet) are skipped.
PAGES = [
    (None, "/", "html"),
    (None, "/login", "html"),
    (None, "/signup", "html"),
    (None, "/signup/divisions?q=三台", "partial"),
    (None, "/healthz", "json"),
    ("santai-admin", "/t/santai/", "html"),   # the first entry into a tenant also writes an audit row
    ("santai-admin", "/t/santai/", "html"),   # ... and this is every later visit
    ("santai-admin", "/tenants", "html"),
    ("santai-admin", "/account/password", "html"),
    ("santai-admin", "/t/santai/members", "html"),
    ("santai-admin", "/t/santai/audit", "html"),
    ("santai-admin", "/t/santai/places", "html"),
    ("santai-admin", "/t/santai/stations", "html"),
    ("santai-admin", "/t/santai/stations/ratings", "html"),
    ("santai-admin", "/t/santai/stations/{station}", "html"),
    ("santai-admin", "/t/santai/deputies", "html"),
    ("santai-admin", "/t/santai/deputies/checks", "html"),
    ("santai-admin", "/t/santai/settings", "html"),
    ("santai-tongchuan", "/t/santai/stations", "html"),
    ("santai-admin", "/t/santai/activities", "html"),
    ("santai-admin", "/t/santai/activities?status=held", "html"),
    ("santai-admin", "/t/santai/stations/{station}/plans", "html"),
    ("santai-admin", "/t/santai/stations/{station}/attendance", "html"),
    ("santai-admin", "/t/santai/compliance", "html"),
    ("santai-admin", "/t/santai/settings/rules", "html"),
    ("santai-admin", "/t/santai/settings/activity-kinds", "html"),
    ("yuci-admin", "/t/yuci/compliance", "html"),
    ("santai-deputy", "/t/santai/activities", "html"),
    ("santai-deputy", "/t/santai/compliance", "html"),
    ("santai-admin", "/t/santai/cases", "html"),
    ("santai-admin", "/t/santai/cases?overdue=1", "html"),
    ("santai-admin", "/t/santai/cases/stats", "html"),
    ("santai-admin", "/t/santai/cases/quarterly", "html"),
    ("santai-admin", "/t/santai/settings/handling-units", "html"),
    ("santai-jiaotong", "/t/santai/cases", "html"),
    ("santai-admin", "/t/santai/inbox", "html"),
    ("santai-deputy", "/t/santai/me/notifications", "html"),
    ("santai-admin", "/t/santai/settings/notifications", "html"),
    ("santai-admin", "/t/santai/notifications/log", "html"),
    ("santai-admin", "/t/santai/joint", "html"),
    ("fengkai-admin", "/t/fengkai/joint/{joint_key}", "html"),  # with the joint station's figures
    ("pumen-staff", "/t/pumen-fengkai/", "html"),
    ("pumen-staff", "/t/pumen-fengkai/cases", "html"),
    ("pumen-staff", "/t/pumen-fengkai/cases/register", "html"),
    (None, "/p/pumen-fengkai/", "html"),
    (None, "/p/santai/stations/{station}/opinion", "html"),
    (None, "/p/santai/lookup", "html"),
    ("liaison-both", "/tenants", "html"),
    (None, "/p/santai/", "html"),
    (None, "/p/santai/stations/{station}", "html"),
    (None, "/p/santai/stations/{station}/poster", "html"),
    ("ops", "/ops/", "html"),
    ("ops", "/ops/audit", "html"),
]
LATENCY_PATH = ("santai-admin", "/t/santai/")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the product under test --------------------------------------------------------------------------

class Product:
    """Starts the product and stops it again (SIGINT, like Ctrl-C)."""

    def __init__(self, port: int):
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.tmp = Path(tempfile.mkdtemp(prefix="lianluo-bench-"))
        self.log_path = self.tmp / "server.log"
        # `serve` (production) refuses to start without a real secret key
        self.env = {**os.environ, "LIANLUO_COUNT_QUERIES": "1", "LIANLUO_SECURE_COOKIES": "0",
                    "LIANLUO_DATA_DIR": str(self.tmp / "data"), "PYTHONUNBUFFERED": "1",
                    "LIANLUO_SECRET_KEY": os.environ.get("LIANLUO_SECRET_KEY") or secrets.token_urlsafe(48)}
        self.external = bool(os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"))
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        py = sys.executable
        log = self.log_path.open("wb")
        if self.external:
            print("using DATABASE_URL / REDIS_URL: applying migrations and the demo there ...", flush=True)
            for cmd in (["migrate"], ["demo"]):
                subprocess.run([py, "-m", "app", *cmd], cwd=ROOT, env=self.env, check=True,
                               stdout=log, stderr=subprocess.STDOUT)
            argv = [py, "-m", "app", "serve", "--port", str(self.port)]
        else:
            print(f"starting the product on embedded servers (data in {self.tmp}) ...", flush=True)
            argv = [py, "-m", "app", "start", "--port", str(self.port)]
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the product exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.base + "/readyz", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise SystemExit(f"the product was not ready after 180 s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


# --- measuring ---------------------------------------------------------------------------------------

@dataclass
class Fetched:
    status: int
    raw: bytes          # the body as sent over the wire (compressed)
    text: str
    headers: httpx.Headers


def fetch(client: httpx.Client, path: str, **headers) -> Fetched:
    with client.stream("GET", path, headers={**BR, **headers}) as r:
        raw = b"".join(r.iter_raw())
        encoding = r.headers.get("content-encoding")
    if encoding == "br":
        import brotli

        body = brotli.decompress(raw)
    elif encoding == "gzip":
        import gzip

        body = gzip.decompress(raw)
    else:
        body = raw
    return Fetched(r.status_code, raw, body.decode("utf-8", errors="replace"), r.headers)


def sign_in(base: str, username: str, password: str) -> httpx.Client | None:
    client = httpx.Client(base_url=base, timeout=20, follow_redirects=False)
    form = client.get("/login")
    r = client.post("/login", data={"login": username, "password": password,
                                    "_csrf_token": CSRF.search(form.text).group(1)})
    if r.status_code != 303:
        print(f"  ! could not sign in as {username}: {r.status_code}")
        return None
    if r.headers["location"].startswith("/ops/totp"):
        if not pass_totp(client, r.headers["location"]):
            print(f"  ! {username}: operator second step not possible (already enrolled with an unknown "
                  "key; set BENCH_OPS_TOTP_SECRET) — /ops pages will show as redirects")
    return client


def pass_totp(client: httpx.Client, location: str) -> bool:
    """The demo operator: enrol TOTP on first sign-in (reading the key off the page), else use
    BENCH_OPS_TOTP_SECRET."""
    import pyotp

    page = client.get(location, follow_redirects=True)
    action = "/ops/totp/enrol" if "/ops/totp/enrol" in str(page.url) else "/ops/totp"
    if action == "/ops/totp/enrol":
        match = re.search(r"<code>([A-Z2-7 ]+)</code>", page.text)
        secret = match.group(1).replace(" ", "") if match else None
    else:
        secret = os.environ.get("BENCH_OPS_TOTP_SECRET")
    if not secret:
        return False
    r = client.post(action, data={"code": pyotp.TOTP(secret).now(), "_csrf_token": CSRF.search(page.text).group(1)})
    return r.status_code == 303 and r.headers["location"] == "/ops/"


@dataclass
class Row:
    what: str
    status: str
    html: int | None = None
    queries: str = ""
    first: tuple[int, int] | None = None
    repeat: tuple[int, int] | None = None
    failures: list[str] = field(default_factory=list)
    note: str = ""


def measure_page(client: httpx.Client, who: str | None, path: str, kind: str, assets: dict[str, int],
                 asset_rows: dict[str, Row], again: bool = False) -> Row | None:
    got = fetch(client, path)
    label = f"{path}" + (" again" if again else "") + (f"  [{who}]" if who else "")
    if got.status == 404:
        return None
    row = Row(label, str(got.status), queries=got.headers.get("x-query-count", "?"))
    if 300 <= got.status < 400:
        row.note = f"→ {got.headers.get('location')}"
        return row
    row.html = len(got.raw)
    if got.status != 200:
        row.failures.append(f"status {got.status}")
    limit = BUDGET["partial"] if kind == "partial" else BUDGET["html"]
    if row.html > limit:
        row.failures.append(f"{kind} {row.html} B > {limit} B")
    if kind != "html":
        return row

    # First visit: this HTML and every stylesheet and script it references, each its own request.
    refs = ASSET.findall(got.text)
    first_bytes, first_requests = row.html, 1
    repeat_bytes, repeat_requests = row.html, 1
    for ref in refs:
        if ref not in assets:
            asset = fetch(client, ref)
            assets[ref] = len(asset.raw)
            asset_rows[ref] = asset_row(ref, asset)
        first_bytes += assets[ref]
        first_requests += 1
        if "immutable" not in asset_rows[ref].note:  # not cached for good: the browser asks again
            repeat_bytes += assets[ref]
            repeat_requests += 1
    row.first = (first_bytes, first_requests)
    row.repeat = (repeat_bytes, repeat_requests)
    if first_bytes > BUDGET["first_bytes"] or first_requests > BUDGET["first_requests"]:
        row.failures.append(f"first visit {first_bytes} B in {first_requests}")
    if repeat_bytes > BUDGET["repeat_bytes"] or repeat_requests > BUDGET["repeat_requests"]:
        row.failures.append(f"repeat visit {repeat_bytes} B in {repeat_requests}")
    return row


def asset_row(path: str, got: Fetched) -> Row:
    name = path.rsplit("/", 1)[-1]
    row = Row(f"{path}", str(got.status), html=len(got.raw), queries=got.headers.get("x-query-count", "-"))
    cache = got.headers.get("cache-control", "")
    row.note = ("immutable" if "immutable" in cache else f"cache-control: {cache or 'none'}") + \
        f", {got.headers.get('content-encoding', 'identity')}"
    if got.headers.get("content-encoding") != "br":
        row.failures.append("not served br")
    if name.endswith(".css") and row.html > BUDGET["css"]:
        row.failures.append(f"css {row.html} B > {BUDGET['css']} B")
    if name.endswith(".js") and not name.startswith("htmx") and row.html > BUDGET["app_js"]:
        row.failures.append(f"app js {row.html} B > {BUDGET['app_js']} B")
    return row


def latency(client: httpx.Client, path: str, n: int) -> tuple[float, float, int]:
    for _ in range(5):  # warm up connections and caches
        client.get(path, headers=BR)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.get(path, headers=BR)
        times.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, r.status_code
    times.sort()
    p95 = times[max(0, int(round(0.95 * len(times))) - 1)]
    return statistics.median(times), p95, len(times)


def kb(n: int | None) -> str:
    return "-" if n is None else f"{n / KB:.1f}"


def pad(text: str, width: int) -> str:
    """Left-justify counting wide (CJK) characters as two columns."""
    import unicodedata

    used = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(0, width - used)


def print_table(rows: list[Row]) -> None:
    head = f"{'page':<42} {'status':>6} {'html KB':>8} {'queries':>7} {'first KB/req':>13} {'repeat KB/req':>14}  result"
    print(head)
    print("-" * len(head))
    for row in rows:
        first = "-" if row.first is None else f"{kb(row.first[0])}/{row.first[1]}"
        repeat = "-" if row.repeat is None else f"{kb(row.repeat[0])}/{row.repeat[1]}"
        result = "FAIL: " + "; ".join(row.failures) if row.failures else "PASS"
        if row.note:
            result += f"  ({row.note})"
        print(f"{pad(row.what, 42)} {row.status:>6} {kb(row.html):>8} {row.queries:>7} {first:>13} {repeat:>14}  {result}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="measure a product already running there (with LIANLUO_COUNT_QUERIES=1 "
                                      "and the demo loaded) instead of starting one")
    parser.add_argument("--port", type=int, default=0, help="port for the started product (default: a free one)")
    parser.add_argument("--requests", type=int, default=50, help="sequential requests for the latency figure")
    args = parser.parse_args()

    from app.demo import DEMO_PASSWORD

    product = None
    base = args.url
    if not base:
        product = Product(args.port or free_port())
        product.start()
        base = product.base
    try:
        clients: dict[str | None, httpx.Client | None] = {None: httpx.Client(base_url=base, timeout=20)}
        assets: dict[str, int] = {}
        asset_rows: dict[str, Row] = {}
        rows: list[Row] = []
        skipped: list[str] = []
        seen: set[tuple[str | None, str]] = set()
        public_list = clients[None].get("/p/santai/").text
        found = re.search(r"/p/santai/stations/(\d+)", public_list)
        station = found.group(1) if found else "0"  # an active demo station, as the public sees it
        for who, path, kind in PAGES:
            path = path.replace("{station}", station)
            if who not in clients:
                clients[who] = sign_in(base, who, DEMO_PASSWORD)
            client = clients[who]
            if client is None:
                skipped.append(f"{path} [{who}: no sign-in]")
                continue
            if "{joint_key}" in path:  # the demo's joint agreement, as the county's list links it
                found = re.search(r"/t/fengkai/joint/([0-9a-f-]{36})", client.get("/t/fengkai/joint").text)
                path = path.replace("{joint_key}", found.group(1) if found else "0")
            row = measure_page(client, who, path, kind, assets, asset_rows, again=(who, path) in seen)
            seen.add((who, path))
            if row is None:
                skipped.append(path)
            else:
                rows.append(row)
        rows += asset_rows.values()

        print()
        print(f"Lianluo page budgets at {base}  (Accept-Encoding: br; KB = 1024 B)")
        print("budgets: HTML ≤ 14 KB · htmx partial ≤ 5 KB · CSS ≤ 10 KB · app JS ≤ 5 KB · "
              "first visit ≤ 50 KB in ≤ 5 requests · repeat ≤ 15 KB in 1 request")
        print()
        print_table(rows)
        if skipped:
            print(f"\nnot there (404), skipped: {', '.join(skipped)}")

        who, path = LATENCY_PATH
        if clients.get(who) is not None:
            median, p95, n = latency(clients[who], path, args.requests)
            print(f"\nlatency {path} [{who}], {n} sequential requests, one client, keep-alive: "
                  f"median {median:.1f} ms, p95 {p95:.1f} ms  (information only, not a budget)")
        for client in clients.values():
            if client is not None:
                client.close()
        failed = [r for r in rows if r.failures]
        print(f"\n{'FAIL' if failed else 'PASS'}: {len(rows) - len(failed)} of {len(rows)} lines within budget")
        return 1 if failed else 0
    finally:
        if product is not None:
            product.stop()


if __name__ == "__main__":
    sys.exit(main())
