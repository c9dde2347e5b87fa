"""The health report shared between views for REPORT_CACHE_SECONDS: same figures, fresh after it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy.orm import Session

from scheduling.reports import health_csv, program_health
from tests.factories import login, make_admin, make_mentee, make_mentor, make_program, make_request


def _app(database_url: str, **config: Any) -> Any:
    from app import create_app

    return create_app({"TESTING": True, "DATABASE_URL": database_url, "WTF_CSRF_ENABLED": False,
                       "RATELIMIT_ENABLED": False, "SECRET_KEY": "test", **config})


def _answered(client: Any, url: str) -> Any:
    res = client.get(url)
    assert res.status_code == 200, res.get_data(as_text=True)[:300]
    return res


@pytest.fixture
def world(db: Session) -> dict[str, Any]:
    program = make_program(db)
    mentor, mentee = make_mentor(db), make_mentee(db)
    make_request(db, program=program, mentee=mentee, mentor=mentor)
    return {"program": program, "mentor": mentor, "mentee": mentee, "admin": make_admin(db)}


def test_cached_report_is_the_report_until_it_expires(db: Session, database_url: str, redis: Any,
                                                      world: dict[str, Any]) -> None:
    app = _app(database_url, REPORT_CACHE_SECONDS=60)
    client = app.test_client()
    login(client, world["admin"])
    first = _answered(client, "/api/v1/reports/health").get_json()
    expected = program_health(db, world["program"])
    assert {k: v for k, v in first.items() if k != "generated_at"} == {
        k: v for k, v in json.loads(json.dumps(expected)).items() if k != "generated_at"}
    assert first["requests_total"] == 1
    make_request(db, program=world["program"], mentee=make_mentee(db), mentor=world["mentor"])
    assert _answered(client, "/api/v1/reports/health").get_json() == first  # the shared copy
    assert _answered(client, "/admin/report.csv").get_data(as_text=True) == health_csv(first)  # and the page
    for key in redis.scan_iter("flashmentor:report:*"):  # as if the minute had passed
        redis.delete(key)
    assert _answered(client, "/api/v1/reports/health").get_json()["requests_total"] == 2


def test_zero_seconds_computes_every_view(db: Session, database_url: str, redis: Any,
                                          world: dict[str, Any]) -> None:
    client = _app(database_url, REPORT_CACHE_SECONDS=0).test_client()
    login(client, world["admin"])
    assert _answered(client, "/api/v1/reports/health").get_json()["requests_total"] == 1
    make_request(db, program=world["program"], mentee=make_mentee(db), mentor=world["mentor"])
    assert _answered(client, "/api/v1/reports/health").get_json()["requests_total"] == 2
    assert not list(redis.scan_iter("flashmentor:report:*"))


def test_redis_down_still_answers(db: Session, database_url: str, world: dict[str, Any]) -> None:
    client = _app(database_url, REPORT_CACHE_SECONDS=60, REDIS_URL="redis://127.0.0.1:9/0").test_client()
    login(client, world["admin"])
    assert _answered(client, "/api/v1/reports/health").get_json()["requests_total"] == 1
