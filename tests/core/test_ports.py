"""Joint stations take part in activities and cases, and cases in activities, through ports that every
entry point plugs in (app.wiring); a port left unplugged fails loudly rather than skipping work."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from app.core.ports import Port
from app.core.settings import ROOT


def test_an_unplugged_port_refuses_to_run():
    port = Port("joint stations (test)")
    with pytest.raises(RuntimeError, match="app.wiring.plug_in"):
        port()


CHECK = """
from app.activities.joint_port import joint_stations as activities_side
from app.cases.joint_port import joint_stations as cases_side
from app.activities.cases_port import cases as opinion_cases
for side in (activities_side, cases_side, opinion_cases):
    try:
        side()
    except RuntimeError:
        pass
    else:
        raise SystemExit("plugged before the entry point ran")
{entry}
print(activities_side().roll_up.__module__, cases_side().mirror.__module__,
      opinion_cases().register_opinion_case.__module__)
"""

ENTRY_POINTS = {
    "web app": "from app.core.settings import load_settings\nfrom app.main import create_app\n"
               "create_app(load_settings(database_url='postgresql://nobody@127.0.0.1:1/none', redis_url='redis://127.0.0.1:1/0'))",
    "worker": "import asyncio\nfrom app.jobs.worker import startup\nasyncio.run(startup({}))",
    "command line": "from app.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass",
}


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=list(ENTRY_POINTS))
def test_every_entry_point_plugs_the_ports_in(entry, tmp_path):
    env = {**os.environ, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", "REDIS_URL": "redis://127.0.0.1:1/0",
           "LIANLUO_DATA_DIR": str(tmp_path), "LIANLUO_SECRET_KEY": "test"}
    done = subprocess.run([sys.executable, "-c", CHECK.format(entry=ENTRY_POINTS[entry])], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:] + done.stdout[-500:]
    assert done.stdout.split()[-3:] == ["app.joint.attendance", "app.joint.referrals", "app.cases.services"]
