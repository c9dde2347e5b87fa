"""Behind a reverse proxy (TRUSTED_PROXIES = number of proxies) the sign-in limit per client is
keyed by the client in X-Forwarded-For, not by the proxy's address; with 0 (default) the header
is ignored, so a client cannot pick its own key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from app.signin_limits import CLIENT_MESSAGE
from tests.factories import make_program

PROXY = "10.0.0.1"


def limited(database_url: str, proxies: int) -> Flask:
    from app import create_app, limiter

    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test",
                      "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": True,
                      "RATELIMIT_STORAGE_URI": "memory://", "TRUSTED_PROXIES": proxies})
    limiter.reset()  # the store outlives an app in this process
    return app


@pytest.fixture
def apps(db: Session, database_url: str) -> Iterator[list[Flask]]:
    from app import limiter

    make_program(db)
    made: list[Flask] = []
    yield made
    limiter.reset()
    for app in made:
        app.extensions["db_engine"].dispose()


def _login(client: Any, i: int, forwarded_for: str | None) -> Any:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return client.post("/api/v1/auth/login", json={"email": f"p{i}@example.com", "password": "guess"},
                       headers=headers, environ_base={"REMOTE_ADDR": PROXY})


def test_behind_one_proxy_the_forwarded_client_is_counted(apps: list[Flask], database_url: str) -> None:
    apps.append(app := limited(database_url, proxies=1))
    client = app.test_client()
    codes = [_login(client, i, "203.0.113.5").status_code for i in range(30)]
    assert 429 not in codes

    blocked = _login(client, 30, "203.0.113.5")
    assert blocked.status_code == 429 and blocked.json["error"]["message"] == CLIENT_MESSAGE
    # A client naming another address in front of what the proxy appended is still itself.
    assert _login(client, 31, "198.51.100.7, 203.0.113.5").status_code == 429
    # Another client through the same proxy is not held up.
    assert _login(client, 32, "203.0.113.6").status_code == 401


def test_without_trusted_proxies_the_header_is_ignored(apps: list[Flask], database_url: str) -> None:
    apps.append(app := limited(database_url, proxies=0))
    client = app.test_client()
    codes = [_login(client, i, f"203.0.113.{i}").status_code for i in range(30)]
    assert 429 not in codes
    # Each request named another client, but all came from the proxy's address: one client.
    assert _login(client, 30, "203.0.113.99").status_code == 429


def test_a_bad_setting_stops_the_start(database_url: str) -> None:
    from app import create_app

    with pytest.raises(ValueError, match="TRUSTED_PROXIES"):
        create_app({"TESTING": True, "DATABASE_URL": database_url, "TRUSTED_PROXIES": -1})
