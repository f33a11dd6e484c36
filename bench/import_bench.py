"""Spreadsheet import at size: a 5,000-row deputies file and a 5,000-row roster file, previewed and imported.

    .venv/bin/python bench/import_bench.py                 # embedded PostgreSQL in a temporary folder
    DATABASE_URL=postgresql://postgres@127.0.0.1/lianluo_bench .venv/bin/python bench/import_bench.py
    .venv/bin/python bench/import_bench.py --rows 20000 --format csv

Runs the product's own code (app.deputies.imports): `create_preview` (parse with openpyxl read-only,
check every row against the tenant's records, keep the file) and `run_import` (the worker's job:
claim, check again, insert everything in one transaction, progress in short transactions). With
DATABASE_URL it migrates that database and adds a tenant named bench-<time> (left in place).
Prints one line per file: rows, file size, seconds for the preview, seconds for the import, the
process's peak RSS (and with --trace-memory the Python heap's peak, measured by tracemalloc). Exits 1 if a file shows problems or the job does not finish.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"


def person(i: int) -> str:
    return SURNAMES[i % len(SURNAMES)] + chr(0x4E00 + (i // len(SURNAMES)) % 400) + chr(0x4E00 + i // 20000)


def deputy_table(n: int) -> list[list]:
    levels = ("县", "乡镇", "市")
    return [["姓名", "代表层级", "届次", "选举方式(直接/间接)", "选区或选举单位", "代表小组", "职业", "工作单位",
             "手机号码", "所在站点"]] + [
        [person(i), levels[i % 3], 18 if i % 3 != 1 else 5, "直接" if i % 4 else "间接", "东街社区", "",
         "农民", "东街村民委员会", f"13{i % 7 + 3}{i:08d}", "东街社区人大代表联络站"]
        for i in range(n)
    ]


def roster_table(n: int, deputies: int) -> list[list]:
    return [["代表姓名", "选民姓名", "年龄", "文化程度", "住址", "工作单位", "手机号码", "备注"]] + [
        [person(i % deputies), person(100_000 + i), 20 + i % 60, "高中", f"城关镇东街幸福路{i}号", "东街菜市场",
         f"15{i % 7 + 3}{i:08d}", ""]
        for i in range(n)
    ]


def to_bytes(rows: list[list], fmt: str) -> bytes:
    from app.deputies.exports import to_csv, to_xlsx

    return to_csv(rows[0], rows[1:]) if fmt == "csv" else to_xlsx(rows[0], rows[1:], "Sheet1")


async def setup(database):
    """A tenant with a township, a community and an active station, and a county admin."""
    from app.accounts.models import Membership
    from app.accounts.services import create_user
    from app.stations.models import Station, StationKind
    from app.tenancy.models import AdminNode
    from app.presets.services import Preset, apply_preset
    from sqlalchemy import select

    slug = f"bench-{int(time.time())}"
    preset = Preset(name="bench", tenant={}, nodes=[{"path": "城关镇", "kind": "township"},
                                                    {"path": "城关镇/东街社区", "kind": "community"}])
    tenant = await apply_preset(database, preset, slug=slug, name="基准测试县人大常委会", division_code="510722",
                                county="基准县", status="active")
    async with database.transaction() as db:
        user = await create_user(db, username=f"{slug}-admin", display_name="Bench", password="bench-password-1",
                                 mobile=None, is_operator=False)
    async with database.transaction(tenant_id=tenant.id) as db:
        db.add(Membership(tenant_id=tenant.id, user_id=user.id, role="county_admin"))
        node = await db.scalar(select(AdminNode).where(AdminNode.name == "东街社区"))
        kind = StationKind(tenant_id=tenant.id, code="station", name="代表联络站", node_kinds=["community"])
        db.add(kind)
        await db.flush()
        db.add(Station(tenant_id=tenant.id, kind_id=kind.id, node_id=node.id, name="东街社区人大代表联络站",
                       status="active"))
    return tenant, user


async def measure(database, tenant, user, kind: str, data: bytes, filename: str) -> tuple[int, float, float, int]:
    from app.deputies import imports
    from app.tenancy.scope import Scope

    scope = Scope(role="county_admin", node_path=None, station_id=None, user_id=user.id)
    started = time.perf_counter()
    async with database.transaction(tenant_id=tenant.id, user_id=user.id) as db:
        job = await imports.create_preview(db, tenant_id=tenant.id, scope=scope, actor_id=user.id, kind=kind,
                                           data=data, filename=filename)
        problems = list(job.problems)
        assert await imports.confirm(db, tenant_id=tenant.id, job=job, actor_id=user.id) or problems
    preview_s = time.perf_counter() - started
    if problems:
        print(f"  {len(problems)} problems, first: {problems[:3]}")
        return job.total, preview_s, float("nan"), 1
    started = time.perf_counter()
    status = await imports.run_import(database, tenant.id, job.id)
    import_s = time.perf_counter() - started
    return job.total, preview_s, import_s, 0 if status == "done" else 1


async def main(args) -> int:
    import app.main  # noqa: F401  (registers every model, as the running product does)
    from app.cli import migrate
    from app.core.db import Database
    from app.core.settings import load_settings

    embedded = None
    if not os.environ.get("DATABASE_URL"):
        from app.core.embedded import start_embedded

        tmp = Path(tempfile.mkdtemp(prefix="lianluo-import-bench-"))
        os.environ.setdefault("LIANLUO_DATA_DIR", str(tmp))
        print(f"embedded PostgreSQL in {tmp} ...", flush=True)
        embedded = start_embedded(tmp / "servers", temporary=True)
        os.environ["DATABASE_URL"] = embedded.database_url
        os.environ.setdefault("REDIS_URL", embedded.redis_url)
    os.environ.setdefault("LIANLUO_SECRET_KEY", "import-bench-secret-key")
    settings = load_settings()
    await asyncio.to_thread(migrate, settings.database_url)
    database = Database(settings)
    failures = 0
    try:
        tenant, user = await setup(database)
        files = [("deputies", deputy_table(args.rows)), ("roster", roster_table(args.rows, min(args.rows, 500)))]
        print(f"{'file':<22}{'rows':>7}{'bytes':>10}{'preview s':>11}{'import s':>10}{'rss MB':>8}{'heap MB':>9}")
        for kind, table in files:
            data = to_bytes(table, args.format)
            if args.trace_memory:  # exact Python peak, but tracemalloc slows everything down 2-3x
                tracemalloc.start()
            rows, preview_s, import_s, failed = await measure(database, tenant, user, kind, data,
                                                              f"{kind}.{args.format}")
            peak = tracemalloc.get_traced_memory()[1] if args.trace_memory else float("nan")
            tracemalloc.stop()
            failures += failed
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"{kind + '.' + args.format:<22}{rows:>7}{len(data):>10}{preview_s:>11.2f}{import_s:>10.2f}"
                  f"{rss:>8.0f}{peak / 2**20:>9.1f}", flush=True)
    finally:
        await database.dispose()
        if embedded is not None:
            embedded.stop()
    return 1 if failures else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--format", choices=("xlsx", "csv"), default="xlsx")
    parser.add_argument("--trace-memory", action="store_true", help="also measure the Python heap's peak "
                        "with tracemalloc (slows the run; the times are then not comparable)")
    sys.exit(asyncio.run(main(parser.parse_args())))
