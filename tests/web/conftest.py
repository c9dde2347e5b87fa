"""Browser-test fixtures: the real app served on a loopback port, headless Chromium, screenshots.

``live_server`` serves ``create_app`` with werkzeug in a thread on 127.0.0.1 (a free port) against the
same database as the ``db`` fixture, so a test seeds rows with ``tests/factories.py`` and then drives the
pages in Chromium. CSRF stays on: the browser posts the forms the pages render, tokens included.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from tests import worker_harness
from tests.fakes.smtp_server import SmtpServer
from tests.serving import running
from worker import startup

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def live_app(engine: Engine, database_url: str, db: Session) -> Iterator[Any]:
    """The real app on the test database, CSRF on (the browser posts real forms)."""
    from app import create_app

    application = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "WTF_CSRF_ENABLED": True,
            "RATELIMIT_ENABLED": False,
            "SECRET_KEY": "browser-test",
        }
    )
    yield application
    application.extensions["db_engine"].dispose()


@pytest.fixture
def live_server(live_app: Any) -> Iterator[str]:
    """Base URL (no trailing slash) of the app served in a background thread."""
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    with running(server, "live-server"):
        yield f"http://127.0.0.1:{server.server_port}"


@pytest.fixture
def mail_worker(live_server: str, database_url: str, redis: Any, smtp: SmtpServer) -> Iterator[Any]:
    """The real worker code (relay, RQ, mailer) sending to the test SMTP server, its links pointing
    at the live server (so a link taken out of a mail opens in the browser as sent). Run what is due
    with ``worker_harness.drain(mail_worker)``; ``smtp`` starts empty."""
    smtp.clear()
    connection = worker_harness.plain_connection(redis)
    startup.install(worker_harness.config(database_url, smtp, BASE_URL=live_server), connection=connection)
    try:
        yield connection
    finally:
        startup.uninstall()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium (Debian's package) for the whole run."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}; install Debian's 'chromium' package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    """A fresh browser context (own cookies) per test."""
    ctx = browser.new_context(viewport=DESKTOP)
    ctx.set_default_timeout(10_000)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: Any) -> Any:
    """A page in a fresh context; open another with ``new_page(browser)`` for a second person."""
    return context.new_page()


def new_page(browser: Any, *, phone: bool = False) -> Any:
    """A page in its own context (its own cookies): a second person signed in at the same time."""
    ctx = browser.new_context(viewport=PHONE if phone else DESKTOP)
    ctx.set_default_timeout(10_000)
    return ctx.new_page()


def shot(page: Any, name: str, *, full_page: bool = True) -> Path:
    """Write ``test-artifacts/screenshots/<name>.png`` so a person can look at the page afterwards."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def phone_shot(page: Any, name: str) -> Path:
    """Screenshot of the current page at a 390px-wide phone viewport, then restore the desktop size."""
    size = page.viewport_size
    page.set_viewport_size(PHONE)
    try:
        return shot(page, name)
    finally:
        if size:
            page.set_viewport_size(size)


def sign_in(page: Any, base_url: str, email: str, password: str) -> None:
    """Sign in through the real form and wait until the app has sent the browser on from /signin
    (``wait_for_load_state`` alone can return for the sign-in page itself, before the redirect)."""
    page.goto(f"{base_url}/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: urlsplit(url).path != "/signin")


@pytest.fixture(name="shot")
def shot_fixture() -> Any:
    """``shot(page, name)`` as a fixture, for tests that prefer injection over import."""
    return shot
