"""The web app rides out a Redis that is down or hangs, a database it cannot reach and calendar
providers that never answer: pages, availability (booked meetings plus a note), request creation
and sign-in keep working or fail with a clear 503, and nothing waits longer than its deadline.

Real parts: a redis-server of the test's own (stopped and started again), a loopback server that
accepts connections and never answers (a hung provider, SMTP server or Redis), a database URL
nothing listens on. Runs on SQLite and PostgreSQL (``DATABASE_URL``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app import create_app
from app.resilience import database_unavailable
from calendars import deadlines
from calendars.base import CalendarIdentity, ProviderUnavailable
from calendars.deadlines import Deadlines
from calendars.http import RetryPolicy
from calendars.registry import build_connector
from scheduling import tenants
from scheduling.calendar_reads import UNREAD_NOTE
from scheduling.db import make_engine
from scheduling.models import MeetingRequest, Person
from scheduling.notices import Notice
from tests.factories import (
    NOW,
    PASSWORD,
    at,
    login,
    make_meeting,
    make_mentee,
    make_mentor,
    make_program,
    slot,
)
from tests.fakes.google_server import make_service_account
from tests.fakes.hanging_server import HangingServer, hanging_server  # noqa: F401 (fixture)
from tests.ports import free_port
from tests.redis_process import RedisProcess, redis_process  # noqa: F401 (fixture)
from worker.mail import Mailer

WINDOW = "?from=2030-01-09T00:00:00Z&to=2030-01-10T00:00:00Z"
WED = "2030-01-09"
# Short deadlines keep the test quick; the budget is what cuts a hung provider, not its timeouts.
QUICK = Deadlines(redis_connect=0.5, redis_read=0.5, redis_retries=1, calendar_read_budget=0.5)
HTML_NOTE = UNREAD_NOTE.replace("'", "&#39;")


@pytest.fixture(autouse=True)
def _restore_deadlines() -> Iterator[None]:
    yield
    deadlines.configure(Deadlines.from_env())


def make_app(database_url: str, **overrides: Any) -> Flask:
    config: dict[str, Any] = {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "SECRET_KEY": "test",
        "DEADLINES": QUICK,
    }
    return create_app({**config, **overrides})


@pytest.fixture
def w(db: Session) -> dict[str, Any]:
    """A mentor free Wednesday 09:00-12:00 UTC in 2030 (and every workday now), booked at 10:00."""
    program = make_program(db)
    mentor = make_mentor(db, time_zone="UTC", weekly=[(d, "09:00", "12:00") for d in range(5)])
    mentee = make_mentee(db, time_zone="UTC")
    other = make_mentee(db, time_zone="UTC")
    make_meeting(db, program=program, mentor=mentor, mentee=other, start=at(WED, "10:00"), now=NOW)
    return {"program": program, "mentor": mentor, "mentee": mentee}


def availability(client: FlaskClient, mentor: Person) -> dict[str, Any]:
    res = client.get(f"/api/v1/mentors/{mentor.id}/availability{WINDOW}")
    assert res.status_code == 200, res.get_data(as_text=True)[:500]
    body: dict[str, Any] = res.get_json()
    return body


def starts(body: dict[str, Any]) -> list[str]:
    return [s["start"][11:16] for s in body["slots"]]


def request_at(client: FlaskClient, mentor: Person, hhmm: str) -> Any:
    start, end = slot(at(WED, hhmm))
    return client.post("/api/v1/requests", json={
        "mentor_id": mentor.id, "topic": "Career advice",
        "times": [{"start": start.isoformat(), "end": end.isoformat()}],
    })


def sign_in_attempts(app: Flask, person: Person, wrong: int) -> list[int]:
    """One right sign-in, then ``wrong`` wrong ones, from a fresh client: their statuses."""
    client = app.test_client()
    passwords = [PASSWORD] + ["nope"] * wrong
    return [client.post("/api/v1/auth/login", json={"email": person.email, "password": p}).status_code
            for p in passwords]


def requests_of(db: Session, mentee: Person) -> int:
    db.expire_all()
    return db.query(MeetingRequest).filter_by(mentee_id=mentee.id).count()


# --- Redis -----------------------------------------------------------------------------------------


def test_redis_down_pages_availability_booking_and_sign_in_go_on(
    db: Session, database_url: str, w: dict[str, Any], redis_process: RedisProcess  # noqa: F811
) -> None:
    app = make_app(database_url, REDIS_URL=redis_process.url, RATELIMIT_STORAGE_URI=redis_process.url,
                   RATELIMIT_ENABLED=True, BUSY_CACHE_STORE="redis",
                   BUSY_CACHE_PREFIX=f"outage-{uuid.uuid4().hex}:")
    client = app.test_client()
    login(client, w["mentee"])
    health = client.get("/api/v1/health")
    assert (health.status_code, health.get_json()["checks"]) == (
        200, {"database": {"status": "up"}, "redis": {"status": "up"}})
    up = availability(client, w["mentor"])
    assert redis_process.client().keys("outage-*")  # the busy cache really lives in this Redis

    redis_process.stop()

    down = availability(client, w["mentor"])
    assert starts(down) == starts(up) == ["09:00", "09:30", "10:30", "11:00", "11:30"]  # 10:00 is booked
    assert (down["calendars_unread"], down["note"]) == (False, None)  # nobody here has a calendar
    ranked = client.get(f"/api/v1/mentors/free{WINDOW}")
    assert ranked.status_code == 200
    assert [m["shared_slots"] for m in ranked.get_json()["mentors"]] == [5]
    made = request_at(client, w["mentor"], "09:00")
    assert made.status_code == 201, made.get_json()
    assert requests_of(db, w["mentee"]) == 1
    for page in ("/home", "/mentors", f"/mentors/{w['mentor'].id}", "/requests"):
        assert client.get(page).status_code == 200, page

    codes = sign_in_attempts(app, w["mentee"], wrong=10)
    assert codes[0] == 200  # signed in with Redis down
    assert codes[-1] == 429  # and guessing is still limited (10/minute), counted in this process
    assert set(codes[1:-1]) == {401}

    health = client.get("/api/v1/health")
    assert health.status_code == 503
    assert health.get_json()["checks"]["database"] == {"status": "up"}
    assert health.get_json()["checks"]["redis"]["status"] == "down"

    redis_process.start()
    assert client.get("/api/v1/health").status_code == 200
    assert starts(availability(client, w["mentor"])) == starts(up)


def test_a_redis_that_hangs_holds_no_request(
    db: Session, database_url: str, w: dict[str, Any], hanging_server: HangingServer  # noqa: F811
) -> None:
    """Every Redis client of the web app (busy cache, rate limits, health) has connect and read
    timeouts: a server that accepts and never answers costs them a timeout, not the request."""
    url = f"redis://127.0.0.1:{hanging_server.port}/0"
    app = make_app(database_url, REDIS_URL=url, RATELIMIT_STORAGE_URI=url, RATELIMIT_ENABLED=True,
                   BUSY_CACHE_STORE="redis")
    client = app.test_client()
    login(client, w["mentee"])
    assert starts(availability(client, w["mentor"])) == ["09:00", "09:30", "10:30", "11:00", "11:30"]
    assert request_at(client, w["mentor"], "09:30").status_code == 201
    assert sign_in_attempts(app, w["mentee"], wrong=0) == [200]
    health = client.get("/api/v1/health")
    assert (health.status_code, health.get_json()["checks"]["redis"]) == (
        503, {"status": "down", "error": "TimeoutError"})
    assert hanging_server.connections() >= 1  # they did try it


# --- the database ----------------------------------------------------------------------------------


def unreachable(database_url: str, tmp_path: Any) -> str:
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'no-such-dir' / 'db.sqlite'}"
    return f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing?connect_timeout=2"


def test_an_unreachable_database_is_a_503_not_a_stack_trace(
    database_url: str, tmp_path: Any
) -> None:
    app = make_app(unreachable(database_url, tmp_path))
    client = app.test_client()

    api = client.post("/api/v1/auth/login", json={"email": "a@example.com", "password": "x"})
    assert api.status_code == 503
    assert api.get_json()["error"]["code"] == "database_unavailable"
    assert api.headers["Retry-After"]

    page = client.post("/signin", data={"email": "a@example.com", "password": "x"})
    assert page.status_code == 503
    text = page.get_data(as_text=True)
    assert "database cannot be reached" in text and "Traceback" not in text

    with client.session_transaction() as s:
        s["person_id"] = 1
    assert client.get("/home").status_code == 503
    assert client.get("/api/v1/requests").status_code == 503

    health = client.get("/api/v1/health")
    assert health.status_code == 503
    assert health.get_json()["checks"]["database"]["status"] == "down"


# --- calendar providers that never answer ------------------------------------------------------------


@pytest.fixture
def hung_calendar(db: Session, w: dict[str, Any], hanging_server: HangingServer) -> None:  # noqa: F811
    """The mentor's calendar is on a CalDAV server that accepts connections and never answers."""
    tenant = tenants.create_tenant(db, name="Hung DAV", provider="caldav", secret="pw", config={
        "url": hanging_server.url, "username": "svc", "retry": {"max_attempts": 1}})
    tenants.connect_account(db, person=w["mentor"], tenant=tenant, external_id="/svc/calendar/")


def test_a_provider_that_never_answers_holds_a_request_only_for_its_budget(
    db: Session, database_url: str, w: dict[str, Any], hung_calendar: None,
    hanging_server: HangingServer,  # noqa: F811
) -> None:
    """The provider's own read timeout (20 s) is far off: the request's calendar budget (0.5 s
    here) is what lets every page return, with booked meetings only and the note."""
    app = make_app(database_url)
    client = app.test_client()
    login(client, w["mentee"])

    body = availability(client, w["mentor"])
    assert starts(body) == ["09:00", "09:30", "10:30", "11:00", "11:30"]
    assert (body["calendars_unread"], body["note"]) == (True, UNREAD_NOTE)
    ranked = client.get(f"/api/v1/mentors/free{WINDOW}").get_json()
    assert (ranked["calendars_unread"], [m["shared_slots"] for m in ranked["mentors"]]) == (True, [5])
    assert request_at(client, w["mentor"], "11:00").status_code == 201

    mentor_page = client.get(f"/mentors/{w['mentor'].id}")
    assert mentor_page.status_code == 200 and HTML_NOTE in mentor_page.get_data(as_text=True)
    details = {"topic": "Career advice", "description": "", "mode": "video", "location": ""}
    step_one = client.post(f"/mentors/{w['mentor'].id}/request", data=details)
    assert step_one.status_code == 302
    slots_page = client.get(f"/mentors/{w['mentor'].id}/request/time")
    assert slots_page.status_code == 200 and HTML_NOTE in slots_page.get_data(as_text=True)
    assert hanging_server.connections() >= 1  # the calendar was asked, and never answered

    calm = make_mentor(db, time_zone="UTC", weekly=[(2, "09:00", "10:00")])  # no calendar: no note
    assert availability(client, calm)["calendars_unread"] is False


def provider_settings(kind: str, server: HangingServer) -> tuple[dict[str, Any], str]:
    """A tenant's config and secret with every endpoint on the hung server."""
    once = {"retry": {"max_attempts": 3, "base_delay": 0.0}}
    if kind == "google":
        info, _ = make_service_account(f"{server.url}token")
        return {"domain": "example.com", "api_endpoint": server.url, **once}, json.dumps(info)
    if kind == "microsoft":  # MSAL wants https: the TLS handshake is what never gets an answer
        hung = f"https://127.0.0.1:{server.port}"
        return {"tenant_id": "t", "client_id": "c", "authority_host": hung, "graph_url": hung,
                **once}, "client-secret"
    return {"url": server.url, "username": "svc", **once}, "pw"


@pytest.mark.parametrize("kind", ["google", "microsoft", "caldav"])
def test_every_provider_call_gives_up_at_its_deadline(
    kind: str, hanging_server: HangingServer  # noqa: F811
) -> None:
    """Outside a web request (the worker) a hung provider ends in ``ProviderUnavailable`` after the
    configured read timeout, retried within the call's total bound, instead of holding the job."""
    deadlines.configure(Deadlines(calendar_connect=0.3, calendar_read=0.3, calendar_call_seconds=1.0))
    config, secret = provider_settings(kind, hanging_server)
    connector = build_connector(kind, config, secret)
    assert connector.policy.max_elapsed == 1.0  # type: ignore[attr-defined]
    who = CalendarIdentity("a@example.com", "/svc/calendar/" if kind == "caldav" else "a@example.com")
    with pytest.raises(ProviderUnavailable):
        connector.busy([who], at(WED, "09:00"), at(WED, "17:00"))
    assert hanging_server.connections() >= 1


def test_a_retry_that_would_run_past_the_call_bound_is_not_started() -> None:
    clock = [0.0]
    attempts: list[float] = []

    def slow_failure() -> None:
        attempts.append(clock[0])
        clock[0] += 4.0  # each attempt spends 4 s timing out
        raise ProviderUnavailable("timed out")

    policy = RetryPolicy(max_attempts=5, base_delay=1.0, max_elapsed=10.0, random=lambda: 1.0,
                         sleep=lambda s: clock.__setitem__(0, clock[0] + s), clock=lambda: clock[0])
    with pytest.raises(ProviderUnavailable):
        policy.run(slow_failure)
    assert attempts == [0.0, 5.0]  # a third attempt would start at 11 s, past the 10 s bound
    unbounded = RetryPolicy(max_attempts=5, base_delay=1.0, random=lambda: 1.0,
                            sleep=lambda s: None, clock=lambda: 0.0)
    calls: list[int] = []
    with pytest.raises(ProviderUnavailable):
        unbounded.run(lambda: calls.append(1) or slow_failure())
    assert len(calls) == 5


# --- SMTP and the settings ---------------------------------------------------------------------------


def test_smtp_that_never_answers_fails_the_send_at_its_timeout(
    hanging_server: HangingServer,  # noqa: F811
) -> None:
    mailer = Mailer.from_config({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": hanging_server.port,
                                 "DEADLINES": Deadlines(smtp=0.3)})
    assert mailer.timeout == 0.3
    notice = Notice(to=["a@example.com"], subject="Hello", text="Hi", html="<p>Hi</p>")
    with pytest.raises(OSError):  # socket timeout (TimeoutError) or the server hanging up
        mailer.send(notice)


def test_deadlines_come_from_the_environment_and_bad_values_are_refused() -> None:
    found = Deadlines.from_env({"FLASHMENTOR_CALENDAR_READ_BUDGET": "2.5", "FLASHMENTOR_REDIS_RETRIES": "0",
                                "SMTP_TIMEOUT": "", "FLASHMENTOR_REDIS_READ_TIMEOUT": " 7 "})
    assert (found.calendar_read_budget, found.redis_retries) == (2.5, 0)
    assert (found.smtp, found.redis_read) == (30.0, 7.0)
    with pytest.raises(ValueError, match="FLASHMENTOR_CALENDAR_CONNECT_TIMEOUT must be a number"):
        Deadlines.from_env({"FLASHMENTOR_CALENDAR_CONNECT_TIMEOUT": "soon"})
    with pytest.raises(ValueError, match="must be positive"):
        Deadlines.from_env({"FLASHMENTOR_REDIS_CONNECT_TIMEOUT": "0"})


def test_a_database_server_that_never_answers_fails_the_connect_at_its_timeout(
    database_url: str, hanging_server: HangingServer,  # noqa: F811
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no server to wait for")
    deadlines.configure(Deadlines(database_connect=2))  # libpq's least
    engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{hanging_server.port}/nothing")
    with pytest.raises(OperationalError) as caught, engine.connect():
        pass
    assert database_unavailable(caught.value)  # the web app answers 503 for it
    assert hanging_server.connections() >= 1
