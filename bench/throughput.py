"""Throughput of the main pages against a bare-stack baseline in the same run (issue 20).

    .venv/bin/python bench/throughput.py --quick          # a smoke run: about a minute after the start
    .venv/bin/python bench/throughput.py                  # 3 rounds of 10 s per page, mixed load 20 s a rate
    DATABASE_URL=postgresql://postgres@127.0.0.1/lianluo_bench REDIS_URL=redis://127.0.0.1:6379/13 \\
      .venv/bin/python bench/throughput.py                # those servers (migrated, the demo loaded there)
    DATABASE_URL=... .venv/bin/python bench/throughput.py --url http://127.0.0.1:8000   # a product running

Starts the product as in production — `migrate`, `demo`, `serve --workers 2` and one `worker` — on
embedded servers in a temporary folder, or on DATABASE_URL / REDIS_URL when both are set; and the
baseline (bench/baseline_app.py) with the same granian command line and 2 workers against the same
database as the runtime role. Then, round by round, each page is measured with wrk (closed loop) on
the product and right after on the baseline; then a mix of the pages at fixed rates (open loop) on
each. Loopback only; every process it started is stopped on exit or Ctrl-C. Output: plain tables,
also written to bench/out/throughput-<date>.txt. See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import platform
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
from collections import Counter
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import pad, sign_in  # noqa: E402  (bench/bench.py: this folder is sys.path[1])
from loadgen import Result, Target, fixed_rate, run_wrk  # noqa: E402
from throughput_pages import Page, Prepared, prepare  # noqa: E402

OUT = ROOT / "bench" / "out"
MIX_RATES = (100, 200)
# "asyncpg.exceptions.TooManyConnectionsError: sorry, too many clients already" (also inside JSON logs)
EXCEPTION = re.compile(r"(?:\\n|\b)([A-Za-z_][\w.]*(?:Error|Exception|Timeout)): (?:\([^)]*\) )?([^\\\n\"]{0,70})")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a product already running there (demo loaded; DATABASE_URL must name its "
                                      "database, for the baseline)")
    parser.add_argument("--duration", type=float, default=10, help="seconds of each wrk measurement (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of product/baseline per page (default 3)")
    parser.add_argument("--connections", type=int, default=32, help="wrk's connections (default 32)")
    parser.add_argument("--warmup", type=float, default=1, help="seconds of wrk per page before round 1 (default 1)")
    parser.add_argument("--mix-duration", type=float, default=20, help="seconds of each fixed-rate run (default 20)")
    parser.add_argument("--rates", type=int, nargs="*", default=list(MIX_RATES),
                        help="fixed rates of the mixed load, req/s (default 100 200)")
    parser.add_argument("--timeout", type=float, default=10, help="a request unanswered after this many seconds "
                                                                  "is an error (default 10)")
    parser.add_argument("--accept-encoding", default="gzip, deflate, br",
                        help="what every request accepts (default a browser's: gzip, deflate, br)")
    parser.add_argument("--pages", nargs="*", metavar="WORD",
                        help="measure only the pages whose name holds one of these words (e.g. opinion login); "
                             "the mixed load is skipped unless --rates are given")
    parser.add_argument("--tenants", type=int, default=0,
                        help="measure santai among this many counties: after the demo, copies of santai's rows "
                             "make up the number (kept in the database for the next run; default: as it is)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 1 round of 2 s, no warm-up, 5 s per fixed rate (about a minute)")
    args = parser.parse_args(argv)
    if args.pages and "--rates" not in (argv if argv is not None else sys.argv[1:]):
        args.rates = []
    if args.quick:
        args.duration, args.rounds, args.warmup, args.mix_duration = 2, 1, 0, 5
    if args.duration < 1 or args.rounds < 1 or args.connections < 1 or args.mix_duration < 1:
        parser.error("--duration, --rounds, --connections and --mix-duration must be at least 1")
    if args.url and urlsplit(args.url).hostname not in ("127.0.0.1", "localhost", "::1"):
        parser.error("--url must be on this machine (loopback): the bench loads what it measures")
    return args


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- processes ---------------------------------------------------------------------------------------

class Processes:
    """Everything this run started: children in their own process groups (granian's workers follow
    their parent), stopped with SIGINT, then SIGKILL; the embedded servers; the temporary folder."""

    def __init__(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="lianluo-throughput-"))
        self.children: list[tuple[str, subprocess.Popen]] = []
        self.embedded = None

    def start(self, name: str, argv: list[str], env: dict) -> subprocess.Popen:
        log = (self.tmp / f"{name}.log").open("wb")
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.children.append((name, proc))
        return proc

    def run(self, name: str, argv: list[str], env: dict) -> None:
        with (self.tmp / f"{name}.log").open("wb") as log:
            done = subprocess.run(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        if done.returncode:
            raise SystemExit(f"{name} failed ({done.returncode}):\n{self.log(name)}")

    def log(self, name: str) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def wait_ready(self, name: str, url: str, proc: subprocess.Popen | None, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise SystemExit(f"{name} exited with {proc.returncode}:\n{self.log(name)}")
            try:
                if httpx.get(url, timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise SystemExit(f"{name} was not ready after {seconds:.0f} s:\n{self.log(name)}")

    def keep_logs(self, prefix: Path) -> list[str]:
        """Copy the started servers' logs beside the output (bench/out/); one line per kind of
        exception they hold (a pool timeout, too many connections …), for the report."""
        lines = []
        for name, _ in self.children:
            path = self.log_path(name)
            text = path.read_text(errors="replace") if path.exists() else ""
            if text:
                shutil.copyfile(path, prefix.with_name(f"{prefix.name}.{name}.log"))
            # a chained exception repeats its message under each wrapper's class: count each once
            found: dict[str, Counter] = {}
            for match in EXCEPTION.finditer(text):
                found.setdefault(match.group(2).strip(), Counter())[match.group(1)] += 1
            kinds = Counter({f"{classes.most_common(1)[0][0]}: {message}": max(classes.values())
                             for message, classes in found.items()})
            lines += [f"{name} log: {n} × {kind}" for kind, n in kinds.most_common(5)]
        return lines

    def log_path(self, name: str) -> Path:
        return self.tmp / f"{name}.log"

    def stop(self) -> None:
        for _, proc in reversed(self.children):
            if proc.poll() is None:
                with _suppress():
                    os.killpg(proc.pid, signal.SIGINT)
        for _, proc in reversed(self.children):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with _suppress():
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.children.clear()
        if self.embedded is not None:
            self.embedded.stop()
            self.embedded = None
        shutil.rmtree(self.tmp, ignore_errors=True)


class _suppress:
    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        return kind is not None and issubclass(kind, ProcessLookupError)


def product_env(procs: Processes) -> dict:
    """Production settings with throwaway secrets. The load generator stands where nginx would
    (deploy/nginx.conf) and is trusted as the proxy, so the public form's per-address limit counts
    the addresses it sends in X-Forwarded-For, as it counts visitors' addresses behind nginx."""
    env = {**os.environ, "LIANLUO_SECRET_KEY": secrets.token_urlsafe(48), "LIANLUO_SECURE_COOKIES": "0",
           "LIANLUO_DATA_DIR": str(procs.tmp / "data"), "LIANLUO_TRUSTED_PROXIES": "127.0.0.1",
           "PYTHONUNBUFFERED": "1"}
    env.pop("LIANLUO_COUNT_QUERIES", None)
    if not (env.get("DATABASE_URL") and env.get("REDIS_URL")):
        from app.core.embedded import start_embedded

        print(f"embedded PostgreSQL and Redis in {procs.tmp} ...", flush=True)
        procs.embedded = start_embedded(procs.tmp / "servers", temporary=True)
        env["DATABASE_URL"], env["REDIS_URL"] = procs.embedded.database_url, procs.embedded.redis_url
    return env


def start_product(procs: Processes, env: dict, port: int, tenants: int) -> str:
    py = sys.executable
    print("migrate and demo ...", flush=True)
    procs.run("migrate", [py, "-m", "app", "migrate"], env)
    procs.run("demo", [py, "-m", "app", "demo"], env)
    if tenants:
        make_counties(env["DATABASE_URL"], tenants)
    print("serve --workers 2 and a worker ...", flush=True)
    web = procs.start("product", [py, "-m", "app", "serve", "--port", str(port), "--workers", "2"], env)
    worker = procs.start("worker", [py, "-m", "app", "worker"], env)
    base = f"http://127.0.0.1:{port}"
    procs.wait_ready("product", base + "/readyz", web)
    wait_for_startup_pass(procs, worker)
    return base


def wait_for_startup_pass(procs: Processes, worker: subprocess.Popen, seconds: float = 600) -> None:
    """The worker's hourly pass over every county's reminders also runs when it starts (app.jobs.worker):
    among 1,000 counties with activities it takes most of a core for a minute. Measured during it, the
    pages would share the machine with it; in production it runs once an hour."""
    print("waiting for the worker's start-up pass over the reminders ...", flush=True)
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if worker.poll() is not None:
            raise SystemExit(f"worker exited with {worker.returncode}:\n{procs.log('worker')}")
        if "produce_reminders ●" in procs.log_path("worker").read_text(errors="replace"):
            print(f"  done after {time.monotonic() - started:.0f} s", flush=True)
            return
        time.sleep(1)
    print(f"  ! still running after {seconds:.0f} s: measuring anyway", flush=True)


def make_counties(superuser_url: str, tenants: int) -> None:
    """Copies of santai (bench/common.py) until the database holds `tenants` counties or more."""
    import asyncio

    import asyncpg
    from common import copy_santai

    async def counties() -> tuple[int, int]:
        conn = await asyncpg.connect(superuser_url.replace("+asyncpg", ""))
        try:
            return (await conn.fetchval("SELECT count(*) FROM tenants WHERE kind = 'county'"),
                    await conn.fetchval("SELECT count(*) FROM tenants WHERE slug LIKE 'copy-%'"))
        finally:
            await conn.close()

    have, copies = asyncio.run(counties())
    if have < tenants:
        print(f"{tenants - have} copies of santai's rows (the database holds {have} counties) ...", flush=True)
        seconds = asyncio.run(copy_santai(superuser_url, tenants - have, first=copies + 1))
        print(f"  made in {seconds:.0f} s", flush=True)


def start_baseline(procs: Processes, env: dict, port: int) -> str:
    """The same granian command line as `serve` (app.cli), the baseline app in place of the product."""
    from app.cli import _serve_argv
    from app.core.settings import derive_app_url

    app_url = env.get("DATABASE_APP_URL") or derive_app_url(
        env["DATABASE_URL"], env.get("DATABASE_APP_ROLE", "lianluo_app"), env.get("DATABASE_APP_PASSWORD"))
    argv = _serve_argv("127.0.0.1", port, 2)
    argv[-1] = "bench.baseline_app:create_app"
    proc = procs.start("baseline", argv, {**env, "BASELINE_DATABASE_URL": app_url, "BASELINE_TENANT": "santai"})
    base = f"http://127.0.0.1:{port}"
    procs.wait_ready("baseline", base + "/baseline", proc)
    rows = httpx.get(base + "/baseline").headers.get("x-rows")
    if rows != "50":
        print(f"  ! the baseline read {rows} rows, not 50 (too few activities in the demo's 三台县)")
    return base


# --- output ------------------------------------------------------------------------------------------

class Report:
    """Prints and keeps a copy in bench/out/ as it goes (an interrupted run keeps what it measured)."""

    def __init__(self):
        OUT.mkdir(parents=True, exist_ok=True)
        self.path = OUT / f"throughput-{datetime.now():%Y-%m-%d-%H%M%S}.txt"
        self.file = self.path.open("w", encoding="utf-8", buffering=1)

    def __call__(self, line: str = "") -> None:
        print(line, flush=True)
        self.file.write(line + "\n")

    def close(self) -> None:
        self.file.close()


def ms(value: float) -> str:
    return "-" if value != value else f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def span(values: list[float], fmt: str = "{:.0f}") -> str:
    low, high = min(values), max(values)
    return fmt.format(low) if fmt.format(low) == fmt.format(high) else f"{fmt.format(low)}–{fmt.format(high)}"


def header(out: Report, args, base: str, baseline: str) -> None:
    import importlib.metadata as md

    versions = ", ".join(f"{name} {md.version(name)}" for name in ("litestar", "granian", "sqlalchemy", "asyncpg", "jinja2"))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    out(f"Lianluo throughput  {datetime.now():%Y-%m-%d %H:%M}  {platform.node()}: {os.cpu_count()} cores, "
        f"load average {load}")
    out(f"product {base} (serve --workers 2 + a worker) · baseline {baseline} (bench/baseline_app.py, 2 workers)")
    out(f"{versions}, Python {platform.python_version()}")
    if args.tenants:
        out(f"santai among {args.tenants} counties or more (copies of its rows: bench/common.py copy_santai)")
    out(f"wrk: {args.connections} connections, 2 threads, {args.duration:g} s a measurement, {args.rounds} round(s), "
        f"Accept-Encoding: {args.accept_encoding}")
    out()


def round_line(out: Report, rnd: int, page: Page, product: Result, baseline: Result, shape: Result | None) -> None:
    ratio = product.rate / baseline.rate if baseline.rate else float("nan")
    same = ""
    if shape is not None:
        same = (f" | {page.shape.path} {shape.rate:7.1f} req/s  ratio {product.rate / shape.rate if shape.rate else 0:.2f}"
                f"{'  errors ' + shape.error_text() if shape.error_count else ''}")
    out(f"round {rnd}  {pad(page.label, 30)} {product.rate:8.1f} req/s  p50 {ms(product.p50):>6}  "
        f"p95 {ms(product.p95):>6}  p99 {ms(product.p99):>6} ms  errors {product.error_text():<10} | "
        f"baseline {baseline.rate:7.1f} req/s  ratio {ratio:.2f}{same}")


def summary(out: Report, pages: list[Page], results: dict[str, list[tuple[Result, Result]]],
            shapes: dict[str, list[float]]) -> None:
    out()
    head = (f"{pad('page', 34)} {'req/s':>11} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'errors':>7} "
            f"{'baseline req/s':>15} {'ratio':>10}")
    out(head)
    out("-" * len(head))
    for page in pages:
        pairs = results.get(page.label)
        if not pairs:
            continue
        rates = [p.rate for p, _ in pairs]
        ratios = [p.rate / b.rate for p, b in pairs if b.rate]
        med = {q: statistics.median(getattr(p, q) for p, _ in pairs) for q in ("p50", "p95", "p99")}
        errors = sum(p.error_count for p, _ in pairs)
        out(f"{pad(page.label, 34)} {span(rates):>11} {ms(med['p50']):>7} {ms(med['p95']):>7} {ms(med['p99']):>7} "
            f"{errors:>7} {span([b.rate for _, b in pairs]):>15} {span(ratios, '{:.2f}'):>10}")
    out("req/s, baseline and ratio: lowest–highest over the rounds (the ratio within each round); "
        "latencies: median of the rounds")
    for page in pages:
        if shapes.get(page.label):
            out(f"{page.label}: ratio to the same work on the bare stack ({page.shape.path}) "
                f"{span(shapes[page.label], '{:.2f}')}")


def mixed(out: Report, args, prepared: Prepared, base: str, baseline: str) -> None:
    if not args.rates:
        return
    out()
    out(f"Mixed load at fixed rates ({args.mix_duration:g} s each, open loop; latency from when each request was due; "
        f"errors: status ≥ 400, timeouts after {args.timeout:g} s, broken connections)")
    out("mix: " + ", ".join(f"{page.label} {weight}" for page, weight in prepared.mix))
    head = f"{'server':<9} {'wanted':>7} {'achieved':>9} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}  errors"
    out(head)
    out("-" * len(head))
    for rate in args.rates:
        for name, url, mix in (("product", base, [(p.target, w) for p, w in prepared.mix]),
                               ("baseline", baseline, [(prepared.baseline_get, 1)])):
            settle(url, name)
            parts = urlsplit(url)
            got = fixed_rate(parts.hostname, parts.port, mix, rate=rate, seconds=args.mix_duration,
                             timeout=args.timeout)
            late = f"  (generator up to {got.late_ms:.0f} ms late)" if got.late_ms > 50 else ""
            out(f"{name:<9} {rate:>7} {got.rate:>9.1f} {ms(got.p50):>7} {ms(got.p95):>7} {ms(got.p99):>7}  "
                f"{got.error_text()}{late}")


def settle(url: str, name: str, seconds: float = 20) -> None:
    """Let a server finish the previous load before the next measurement: its requests still queued
    (wrk leaving does not cancel them) would slow the next page. At most `seconds`."""
    path = "/baseline" if name == "baseline" else "/readyz"
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            started = time.perf_counter()
            if httpx.get(url + path, timeout=5).status_code == 200 and time.perf_counter() - started < 0.5:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)


# --- the run -----------------------------------------------------------------------------------------

def measure(out: Report, args, prepared: Prepared, base: str, baseline: str) -> None:
    def wrk(url: str, target: Target, seconds: float) -> Result:
        return run_wrk(url, target, seconds=seconds, connections=args.connections, timeout=args.timeout)

    if args.warmup:
        print(f"warming up ({args.warmup:g} s a page) ...", flush=True)
        for page in prepared.pages:
            wrk(base, page.target, args.warmup)
        wrk(baseline, prepared.baseline_get, args.warmup)
    results: dict[str, list[tuple[Result, Result]]] = {}
    shapes: dict[str, list[float]] = {}
    for rnd in range(1, args.rounds + 1):
        for page in prepared.pages:
            settle(base, "product")
            product = wrk(base, page.target, args.duration)
            settle(baseline, "baseline")
            bare = wrk(baseline, page.baseline, args.duration)
            results.setdefault(page.label, []).append((product, bare))
            shape = None
            if page.shape is not None:
                settle(baseline, "baseline")
                shape = wrk(baseline, page.shape, args.duration)
                if shape.rate:
                    shapes.setdefault(page.label, []).append(product.rate / shape.rate)
            round_line(out, rnd, page, product, bare, shape)
    summary(out, prepared.pages, results, shapes)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        from loadgen import WRK_MISSING

        raise SystemExit(WRK_MISSING)
    from app.cli import _interrupt

    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops the run as Ctrl-C does: clean-up included
    procs = Processes()
    out = None
    try:
        env = product_env(procs) if not args.url else dict(os.environ)
        if args.url and not env.get("DATABASE_URL"):
            raise SystemExit("--url needs DATABASE_URL (the product's database, as its owner): the baseline reads it")
        base = args.url.rstrip("/") if args.url else start_product(procs, env, free_port(), args.tenants)
        baseline = start_baseline(procs, env, free_port())
        from app.demo import DEMO_PASSWORD

        prepared = prepare(base, DEMO_PASSWORD, sign_in, args.accept_encoding, own_product=not args.url)
        if args.pages:
            prepared.pages = [page for page in prepared.pages if any(word in page.label for word in args.pages)]
        out = Report()
        header(out, args, base, baseline)
        for note in prepared.notes:
            out(f"note: {note}")
        if prepared.notes:
            out()
        measure(out, args, prepared, base, baseline)
        mixed(out, args, prepared, base, baseline)
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted: stopping what was started ...", file=sys.stderr, flush=True)
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        if out is not None:  # also after an interruption: what was measured, and the servers' logs
            out()
            for line in procs.keep_logs(out.path.with_suffix("")):
                out(line)
            out(f"written to {out.path.relative_to(ROOT)} (the servers' logs beside it)")
            out.close()
        procs.stop()


if __name__ == "__main__":
    sys.exit(main())
