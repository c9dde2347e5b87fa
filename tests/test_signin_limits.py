"""Sign-in attempts are limited per account and per client, across every sign-in route and worker.

The review found 33 wrong passwords checked before the first 429: each gunicorn worker and
each route counted on its own. Here two routes share one count, and three gunicorn workers
count in one Redis.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy.orm import Session

from app.signin_limits import ACCOUNT_MESSAGE, CLIENT_MESSAGE
from tests.factories import PASSWORD, make_mentee, make_program
from tests.gunicorn_server import gunicorn
from tests.redis_process import RedisProcess, redis_process  # noqa: F401 (fixture)


@pytest.fixture
def limited_app(db: Session, database_url: str) -> Iterator[Flask]:
    from app import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test",
                      "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": True,
                      "RATELIMIT_STORAGE_URI": "memory://"})
    from app import limiter

    limiter.reset()  # the store outlives an app in this process
    make_program(db)
    yield app
    limiter.reset()
    app.extensions["db_engine"].dispose()


def _web(client: Any, email: str, password: str, address: str) -> Any:
    return client.post("/signin", data={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def _api(client: Any, email: str, password: str, address: str) -> Any:
    return client.post("/api/v1/auth/login", json={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def _forgot(client: Any, email: str, _password: str, address: str) -> Any:
    return client.post("/password/forgot", data={"email": email}, environ_base={"REMOTE_ADDR": address})


def test_one_account_gets_ten_tries_whatever_the_route_or_address(limited_app: Flask, db: Session) -> None:
    make_mentee(db, email="mo@example.com")
    client = limited_app.test_client()
    routes = [_web, _api, _forgot]
    codes = [routes[i % 3](client, " MO@example.com" if i % 2 else "mo@example.com", "guess", f"10.0.0.{i}")
             .status_code for i in range(10)]
    assert 429 not in codes
    blocked = _api(client, "mo@example.com", PASSWORD, "10.0.1.1")  # right password, new address
    assert blocked.status_code == 429
    assert blocked.json["error"]["message"] == ACCOUNT_MESSAGE
    web = _web(client, "mo@example.com", PASSWORD, "10.0.1.2")
    assert web.status_code == 429 and "for this account" in web.get_data(as_text=True)
    # Another account from the same addresses is not held up.
    make_mentee(db, email="ann@example.com")
    assert _api(client, "ann@example.com", PASSWORD, "10.0.0.1").status_code == 200


def test_one_client_gets_thirty_tries_across_accounts_and_routes(limited_app: Flask, db: Session) -> None:
    routes = [_forgot] * 3 + [_web, _api] * 13 + [_web]  # 30; "forgot" also has its own 5/minute
    client = limited_app.test_client()
    codes = [route(client, f"person{i}@example.com", "guess", "10.9.9.9").status_code
             for i, route in enumerate(routes)]
    assert 429 not in codes
    blocked = _api(client, "someone-new@example.com", "guess", "10.9.9.9")
    assert blocked.status_code == 429 and blocked.json["error"]["message"] == CLIENT_MESSAGE
    assert _api(client, "someone-new@example.com", "guess", "10.9.9.10").status_code == 401


def test_gunicorn_workers_share_one_count_in_redis(db: Session, database_url: str, tmp_path: Path,
                                                   redis_process: RedisProcess) -> None:  # noqa: F811
    make_program(db)
    make_mentee(db, email="mo@example.com")
    env = {"FLASHMENTOR_RATELIMIT": "1", "REDIS_URL": redis_process.url}
    env_without_store = {"RATELIMIT_STORAGE_URI": ""}  # the store comes from REDIS_URL
    with gunicorn(database_url, tmp_path / "gunicorn.log", workers=3, threads=2,
                  env_overrides={**env, **env_without_store}) as server:
        codes = []
        for i in range(10):  # a connection of its own each: spread over the workers
            if i % 2:
                reply = requests.post(f"{server.url}/api/v1/auth/login",
                                      json={"email": "mo@example.com", "password": "guess"}, timeout=30)
            else:
                reply = requests.post(f"{server.url}/signin",
                                      data={"email": "mo@example.com", "password": "guess"}, timeout=30)
            codes.append(reply.status_code)
        assert codes == [422, 401] * 5
        blocked = requests.post(f"{server.url}/api/v1/auth/login",
                                json={"email": "mo@example.com", "password": PASSWORD}, timeout=30)
        assert blocked.status_code == 429
        assert blocked.json()["error"]["message"] == ACCOUNT_MESSAGE
    assert redis_process.client().keys("LIMITS:*")  # counted in Redis, not in the workers
