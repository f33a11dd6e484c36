"""Browser tests: the real product server (granian, `python -m app serve`) in a subprocess against the
test database that tests/conftest.py builds, driven by Debian's headless Chromium through Playwright.

Helpers for what a person does (sign in, the operator's second step) are in tests/e2e/browser.py.
Every test starts from empty tables (the autouse `clean_database` fixture), so each test makes its own
tenants and users with tests/factories.py before it opens a page.

Without /usr/bin/chromium these tests are skipped with a loud reason (install it with
`apt-get install chromium`; `./run test` does that when it can). `playwright install` is never used.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from app.core.settings import ROOT
from tests.e2e.browser import Operator

CHROMIUM = os.environ.get("LIANLUO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SERVER_START_TIMEOUT = 60  # seconds of polling /readyz
SCREENSHOTS = ROOT / "bench" / "out"


def _need_chromium() -> None:
    if not (os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(
            f"!!! BROWSER TESTS SKIPPED: no Chromium at {CHROMIUM}. Install Debian's chromium "
            "(`apt-get install chromium`, which `./run test` does when run as root) — "
            "`playwright install` cannot download browsers here."
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(settings):
    """Base URL of `python -m app serve` on a free port, connected to the test database and Redis."""
    _need_chromium()
    port = free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="lianluo-e2e-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")}
    env.update(
        DATABASE_URL=settings.database_url,
        DATABASE_APP_URL=settings.app_database_url,
        REDIS_URL=settings.redis_url,
        LIANLUO_SECURE_COOKIES="0",
        LIANLUO_SECRET_KEY=settings.secret_key,
        LIANLUO_ALLOWED_HOSTS="127.0.0.1,localhost",
        LIANLUO_DATA_DIR=str(data_dir),
        PYTHONUNBUFFERED="1",
    )
    log_path = data_dir / "server.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the server exited with {proc.returncode}:\n{log_path.read_text(errors='replace')}")
            try:
                if httpx.get(base + "/readyz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the server was not ready in {SERVER_START_TIMEOUT} s:\n"
                            f"{log_path.read_text(errors='replace')}")
            time.sleep(0.3)
        yield base
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
async def browser():
    _need_chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        # Playwright gives every launch a fresh temporary profile (user-data-dir) and removes it after.
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


async def _context(browser, live_server, **options):
    context = await browser.new_context(base_url=live_server, **options)
    context.set_default_timeout(15_000)
    return context


@pytest.fixture
async def page(browser, live_server):
    """A page in a fresh browser context (no cookies), JavaScript on, base URL = the live server."""
    context = await _context(browser, live_server, locale="zh-CN")
    page = await context.new_page()
    yield page
    await context.close()


@pytest.fixture
async def nojs_page(browser, live_server):
    """A page in a fresh context with JavaScript disabled: only real forms and links work."""
    context = await _context(browser, live_server, java_script_enabled=False, locale="zh-CN")
    page = await context.new_page()
    yield page
    await context.close()


@pytest.fixture
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


# --- operators (for the /ops console flows) ----------------------------------------------------------

@pytest.fixture
def make_operator(database, owner_sql):
    """`await make_operator("ops1")`: an operator account with TOTP already enrolled under a known secret,
    so a browser test can pass the second step with `operator.code()` (see `operator_sign_in`)."""

    async def make(username: str = "operator") -> Operator:
        import pyotp

        from tests.factories import PASSWORD, make_user

        user = await make_user(database, username, operator=True)
        secret = pyotp.random_base32()
        await owner_sql("UPDATE users SET totp_secret = $1, totp_enabled_at = now() WHERE id = $2", secret, user.id)
        return Operator(username=username, password=PASSWORD, totp_secret=secret, user_id=user.id)

    return make
