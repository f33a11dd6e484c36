"""Load generators for bench/throughput.py: `wrk` for closed-loop throughput (req/s at a fixed number
of connections) and an asyncio open-loop generator for a mix of pages at a fixed rate (wrk cannot
hold a rate).

A target is one request: method, path, headers, body, and whether each request gets its own
client address in X-Forwarded-For (for pages whose abuse limits count per address; the product must
trust the load generator as its reverse proxy, LIANLUO_TRUSTED_PROXIES).
"""

from __future__ import annotations

import asyncio
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

MAX_CONNECTIONS = 800
WRK_MISSING = ("wrk is not installed: `apt-get install wrk` (Debian's package; `./run bench` installs it when "
               "run as root)")


@dataclass(frozen=True)
class Target:
    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    spread_addresses: bool = False  # a fresh X-Forwarded-For address per request
    paths: tuple[str, ...] = ()  # if given, each request takes the next of these instead of `path`


@dataclass
class Result:
    """One measurement: requests, seconds, latencies in ms, and what went wrong."""
    requests: int
    seconds: float
    p50: float
    p95: float
    p99: float
    errors: Counter = field(default_factory=Counter)  # "status 500", "timeout", "connect", "read" …
    late_ms: float = 0.0  # open loop: how far behind its schedule the generator sent its latest request

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def error_text(self) -> str:
        return ", ".join(f"{name} ×{n}" for name, n in sorted(self.errors.items())) or "0"


def random_address(rng: random.Random) -> str:
    return f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


# --- wrk ---------------------------------------------------------------------------------------------

def _lua_string(value: str | bytes) -> str:
    data = value.encode() if isinstance(value, str) else value
    return '"' + "".join(f"\\{b}" for b in data) + '"'  # decimal escapes: any byte, no quoting trouble


def wrk_script(target: Target) -> str:
    """The Lua script: the target's method, headers and body; per-request addresses if asked; and a
    `done` that prints one parseable line (wrk's own summary has no p95)."""
    lines = [f"wrk.method = {_lua_string(target.method)}"]
    lines += [f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in target.headers]
    if target.body:
        lines.append(f"wrk.body = {_lua_string(target.body)}")
    if target.spread_addresses or target.paths:
        lines += ["paths = {" + ", ".join(_lua_string(p) for p in target.paths) + "}", "sent = 0",
                  "function init(args) math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16)) end",
                  "function request()"]
        if target.spread_addresses:
            lines.append('  wrk.headers["X-Forwarded-For"] = "10." .. math.random(0, 255) .. "." .. '
                         'math.random(0, 255) .. "." .. math.random(1, 254)')
        if target.paths:
            lines += ["  sent = sent + 1", "  return wrk.format(nil, paths[sent % #paths + 1])"]
        else:
            lines.append("  return wrk.format()")
        lines.append("end")
    lines += [
        "function done(summary, latency, requests)",
        '  io.write(string.format("BENCH %d %d %d %d %d %d %d %.0f %.0f %.0f\\n", summary.requests,'
        " summary.duration, summary.errors.connect, summary.errors.read, summary.errors.write,"
        " summary.errors.status, summary.errors.timeout, latency:percentile(50), latency:percentile(95),"
        " latency:percentile(99)))",
        "end",
    ]
    return "\n".join(lines) + "\n"


def run_wrk(base: str, target: Target, *, seconds: float, connections: int, threads: int = 2,
            timeout: float = 10.0) -> Result:
    """Closed loop: `connections` keep-alive connections, each sending its next request when the
    previous one is answered, for `seconds`."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit(WRK_MISSING)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="throughput-", delete=False) as f:
        f.write(wrk_script(target))
        script = Path(f.name)
    try:
        argv = [wrk, f"-t{min(threads, connections)}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
                f"--timeout={max(1, round(timeout))}s", "-s", str(script), base + target.path]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + timeout + 30)
    finally:
        script.unlink(missing_ok=True)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result (exit {done.returncode}): {done.stdout}\n{done.stderr}")
    n, micros, connect, read, write, status, timeouts, p50, p95, p99 = (int(float(x)) for x in line.split()[1:])
    errors = Counter({k: v for k, v in (("connect", connect), ("read", read), ("write", write),
                                        ("status ≥ 400", status), ("timeout", timeouts)) if v})
    if n == 0:  # nothing answered within the window (each answer took longer): no latency to show
        p50 = p95 = p99 = float("nan")
    return Result(n, micros / 1e6, p50 / 1000, p95 / 1000, p99 / 1000, errors)


# --- the open-loop generator ---------------------------------------------------------------------------

def _raw_request(target: Target, host: str, rng: random.Random) -> bytes:
    headers = [("Host", host), *target.headers]
    if target.spread_addresses:
        headers.append(("X-Forwarded-For", random_address(rng)))
    if target.body or target.method == "POST":
        headers.append(("Content-Length", str(len(target.body))))
    path = rng.choice(target.paths) if target.paths else target.path
    head = f"{target.method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    return head.encode() + target.body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status, connection reusable). Reads the body (Content-Length or chunked) to its end."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    fields = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        fields[name.strip().lower()] = value.strip().lower()
    if b"chunked" in fields.get(b"transfer-encoding", b""):
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b""):
                    pass  # trailers
                break
            await reader.readexactly(size + 2)
    elif b"content-length" in fields:
        await reader.readexactly(int(fields[b"content-length"]))
    elif status not in (204, 304):
        await reader.read()  # until the server closes
        return status, False
    return status, fields.get(b"connection") != b"close"


class _Pool:
    """Keep-alive connections to one server, opened as needed (an open loop never waits for a
    connection to free up: a slow server gets more connections, as it would from more visitors)."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.opened = 0

    async def get(self):
        if self.idle:
            return self.idle.pop()
        self.opened += 1
        return await asyncio.open_connection(self.host, self.port)

    def put(self, conn) -> None:
        self.idle.append(conn)

    def close_all(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


class _OpenLoop:
    """One fixed-rate run: latencies (ms, any status) and errors, over a pool of at most
    MAX_CONNECTIONS connections (file descriptors; past it a request waits, and its wait counts)."""

    def __init__(self, host: str, port: int, timeout: float):
        self.pool = _Pool(host, port)
        self.in_flight = asyncio.Semaphore(MAX_CONNECTIONS)
        self.timeout = timeout
        self.latencies: list[float] = []
        self.errors: Counter = Counter()

    async def one(self, raw: bytes, due: float) -> None:
        conn = None
        try:
            async with asyncio.timeout(self.timeout), self.in_flight:
                conn = await self.pool.get()
                conn[1].write(raw)
                status, reusable = await _read_response(conn[0])
            # from when the request was due, not when it went out: a late send is the server's delay too
            self.latencies.append((time.perf_counter() - due) * 1000)
            if status >= 400:
                self.errors[f"status {status}"] += 1
            if reusable:
                self.pool.put(conn)
                conn = None
        except TimeoutError:
            self.errors["timeout"] += 1
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            self.errors["connect" if conn is None else f"read ({type(exc).__name__})"] += 1
        finally:
            if conn is not None:
                conn[1].close()

    def result(self, count: int, rate: float, late: float) -> Result:
        self.pool.close_all()
        self.latencies.sort()
        refused = sum(n for name, n in self.errors.items() if name.startswith("status"))
        # the achieved rate: good answers per second of the schedule (a slow answer shows in the latency)
        return Result(len(self.latencies) - refused, count / rate,
                      *(percentile(self.latencies, p) for p in (50, 95, 99)), errors=self.errors, late_ms=late * 1000)


async def _open_loop(host: str, port: int, mix: list[tuple[Target, int]], rate: float, seconds: float,
                     timeout: float, seed: int) -> Result:
    rng = random.Random(seed)
    targets, weights = [t for t, _ in mix], [w for _, w in mix]
    run = _OpenLoop(host, port, timeout)
    tasks = []
    count = int(rate * seconds)
    late = 0.0
    start = time.perf_counter()
    for i in range(count):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            late = max(late, -delay)
        target = rng.choices(targets, weights)[0]
        tasks.append(asyncio.create_task(run.one(_raw_request(target, f"{host}:{port}", rng), due)))
    await asyncio.gather(*tasks)
    return run.result(count, rate, late)


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    if len(sorted_values) == 1:
        return sorted_values[0]
    return statistics.quantiles(sorted_values, n=100, method="inclusive")[int(p) - 1]


def fixed_rate(host: str, port: int, mix: list[tuple[Target, int]], *, rate: float, seconds: float,
               timeout: float = 10.0, seed: int = 20) -> Result:
    """Open loop: requests due at `rate` per second for `seconds` (each page drawn by its weight),
    sent when due whatever the server's state; latency counted from when each was due (answers of any
    status). Waits at most `timeout` for the last answers. `requests` counts good answers (< 400),
    `seconds` is the schedule's length; errors are statuses ≥ 400, timeouts and broken connections."""
    return asyncio.run(_open_loop(host, port, mix, rate, seconds, timeout, seed))
