"""bench/throughput.py's pieces that need no load: its options, the wrk script it writes, and the
bare-stack baseline answering one request as the runtime role under row-level security. Nothing here
times anything (the bench prints figures; bench/README.md)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from tests.factories import make_tenant

BENCH = Path(__file__).resolve().parents[2] / "bench"


def bench_module(name: str):
    """A bench script imported the way it runs (its folder first on the path), the path put back."""
    sys.path.insert(0, str(BENCH))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCH))


def test_options_default_quick_and_loopback_only():
    throughput = bench_module("throughput")
    default = throughput.parse_args([])
    assert (default.duration, default.rounds, default.connections, default.rates) == (10, 3, 32, [100, 200])
    quick = throughput.parse_args(["--quick"])
    assert (quick.duration, quick.rounds, quick.warmup, quick.mix_duration) == (2, 1, 0, 5)
    with pytest.raises(SystemExit):
        throughput.parse_args(["--url", "http://lianluo.example.cn"])
    with pytest.raises(SystemExit):
        throughput.parse_args(["--rounds", "0"])


def test_wrk_script_sends_the_body_and_a_fresh_address_per_request():
    loadgen = bench_module("loadgen")
    body = "content=路灯".encode()
    script = loadgen.wrk_script(loadgen.Target("POST", "/p/x", (("Cookie", 'a="b"'),), body, spread_addresses=True))
    escaped = "".join(f"\\{b}" for b in body)
    assert f'wrk.body = "{escaped}"' in script  # any byte, no Lua quoting trouble
    assert "X-Forwarded-For" in script and "function request()" in script
    assert "latency:percentile(95)" in script  # the p95 wrk's own summary lacks


async def test_baseline_answers_as_the_runtime_role(settings, database, monkeypatch):
    await make_tenant(database, "santai")  # no activities: the page reads none, and says so
    monkeypatch.setenv("BASELINE_DATABASE_URL", settings.app_database_url)
    monkeypatch.setenv("BASELINE_TENANT", "santai")
    app = bench_module("baseline_app").create_app()
    async with AsyncTestClient(app=app) as client:
        got = await client.get("/baseline")
        posted = await client.post("/baseline", data={"content": "路灯"})  # a POST page's baseline
    assert got.status_code == 200 and posted.status_code == 200
    assert got.headers["x-rows"] == "0" and "<table>" in got.text


async def test_baseline_refuses_to_start_without_its_tenant(settings, monkeypatch):
    monkeypatch.setenv("BASELINE_DATABASE_URL", settings.app_database_url)
    monkeypatch.setenv("BASELINE_TENANT", "nowhere")
    app = bench_module("baseline_app").create_app()
    with pytest.raises(BaseExceptionGroup) as raised:  # the lifespan's task group wraps it
        async with AsyncTestClient(app=app):
            pass
    assert raised.group_contains(RuntimeError, match="no tenant 'nowhere'")
