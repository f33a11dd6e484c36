"""Where one page's time goes, in-process (issue 20): ms per request, the statements it runs with their
time in PostgreSQL, and a cProfile summary by package.

    DATABASE_URL=postgresql://postgres@127.0.0.1/lianluo_bench REDIS_URL=redis://127.0.0.1:6379/13 \\
      LIANLUO_SECRET_KEY=$(python -c 'print("x"*40)') LIANLUO_SECURE_COOKIES=0 \\
      .venv/bin/python bench/page_profile.py /t/santai/ --user santai-admin [--requests 200] [--top 25]

    ... bench/page_profile.py /p/yuci/stations/ID/opinion --anonymous --form 'content=路灯坏了' --requests 100

With --form the path is POSTed (url-encoded) instead of fetched; with --anonymous nobody signs in. The
public form counts submissions per station an hour (each POST comes from its own address): raise 榆次区's
limit per station on its case settings page first (bench/throughput.py does). The demo must be loaded there (and analyzed: `demo` does). The app is called through
`httpx.ASGITransport` in this process's own event loop — litestar's AsyncTestClient runs the app in
another thread, where cProfile does not look. Signs in through the real /login form first. Nothing is
asserted; wall times on a busy machine are noise, the statement list and the profile's shares are not.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import collections
import pstats
import re
import time

import httpx
from sqlalchemy import event

from app.demo import DEMO_PASSWORD
from app.main import create_app

PACKAGES = ("sqlalchemy", "asyncpg", "jinja2", "litestar", "/app/templates", "/app/", "asyncio", "markupsafe",
            "brotli", "logging", "select", "socket", "greenlet", "redis")


def _by_package(stats: pstats.Stats) -> list[tuple[str, float]]:
    totals: dict[str, float] = collections.Counter()
    for (filename, _, name), (_, _, own, _, _) in stats.stats.items():
        totals[next((p for p in PACKAGES if p in filename or p in name), "other")] += own
    return sorted(totals.items(), key=lambda item: -item[1])


async def main(args) -> None:
    app = create_app()
    for name in ("", "lianluo", "httpx"):  # a log line per request would be most of what is measured
        logging.getLogger(name).setLevel(logging.WARNING)
    engine = app.state.db.engine.sync_engine
    spent: dict[str, list] = collections.defaultdict(lambda: [0, 0.0])
    started: dict[int, float] = {}

    def before(conn, cursor, statement, parameters, context, executemany):
        started[id(context)] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):
        entry = spent[re.sub(r"\s+", " ", statement)[:140]]
        entry[0] += 1
        entry[1] += time.perf_counter() - started.pop(id(context), time.perf_counter())

    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", follow_redirects=True) as client:
        if not args.anonymous:
            form = await client.get("/login")
            token = re.search(r'name="_csrf_token" value="([^"]+)"', form.text).group(1)
            await client.post("/login", data={"login": args.user, "password": DEMO_PASSWORD, "_csrf_token": token})

        sent = [0]

        async def request() -> httpx.Response:
            if args.form is None:
                return await client.get(args.path)
            sent[0] += 1  # each from its own address, as many villagers' phones (the form counts per address)
            transport.client = (f"10.{sent[0] // 65536 % 256}.{sent[0] // 256 % 256}.{sent[0] % 256}", 5000)
            return await client.post(args.path, content=args.form.encode(),
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})

        for _ in range(20):  # warm up: first entry, caches, compiled statements
            page = await request()
        if page.status_code != 200:
            raise SystemExit(f"{args.path} answered {page.status_code}")
        event.listen(engine, "before_cursor_execute", before)
        event.listen(engine, "after_cursor_execute", after)
        clock = time.perf_counter()
        for _ in range(args.requests):
            await request()
        wall = (time.perf_counter() - clock) / args.requests * 1000
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.requests):
            await request()
        profile.disable()
    in_db = sum(t for _, t in spent.values()) / args.requests * 1000
    count = sum(n for n, _ in spent.values()) / args.requests
    who = "anonymous" if args.anonymous else args.user
    print(f"{'POST ' if args.form is not None else ''}{args.path} as {who}: {wall:.1f} ms a request, {in_db:.1f} ms of it in cursor.execute, "
          f"{count:.0f} statements, {len(page.content)} bytes")
    for statement, (n, t) in sorted(spent.items(), key=lambda item: -item[1][1]):
        print(f"  {t / args.requests * 1000:6.2f} ms  x{n / args.requests:.0f}  {statement}")
    stats = pstats.Stats(profile)
    total = sum(own for _, own in _by_package(stats)) or 1
    print("own time by package (under the profiler):")
    for name, own in _by_package(stats):
        print(f"  {name:16s} {100 * own / total:5.1f} %")
    stats.sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path")
    parser.add_argument("--user", default="santai-admin")
    parser.add_argument("--anonymous", action="store_true", help="do not sign in (public pages and forms)")
    parser.add_argument("--form", help="POST this url-encoded body instead of a GET")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="tottime", help="the profile's order: tottime, cumulative, ...")
    asyncio.run(main(parser.parse_args()))
