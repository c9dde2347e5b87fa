"""Timed work survives Redis: rows in the database are the truth, RQ only the transport.

Each test runs a redis-server of its own (persistence off, as on the project's machines),
flushes, kills or stops it at the worst moment, and drives time through every due time
with the real relay and a real worker: every notice, reminder and survey arrives, once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from rq.job import Job, JobStatus
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling import timed_work
from scheduling.events import subscribe, unsubscribe
from scheduling.models import Meeting, Person, TimedWork, WorkKind, WorkState
from scheduling.services import requests as svc
from tests.factories import NOW, at, login, make_mentee, make_mentor, make_program, make_request, slot
from tests.fakes.smtp_server import SmtpServer
from tests.redis_process import RedisProcess, redis_process
from tests.worker_harness import Life, config
from worker import relay, runtime, startup

__all__ = ["redis_process"]
START = at("2030-01-15", "10:00")  # a week after NOW; 30 minutes
H = timedelta(hours=1)
D = timedelta(days=1)
M = timedelta(minutes=1)
MEETINGS = 20


@pytest.fixture
def life(db: Session, database_url: str, redis_process: RedisProcess, smtp: SmtpServer) -> Iterator[Life]:
    smtp.clear()
    connection = redis_process.client()
    startup.install(config(database_url, smtp), connection=connection)
    with time_machine.travel(NOW, tick=True) as clock:
        try:
            yield Life(db, connection, smtp, clock)
        finally:
            startup.uninstall()


def book(life: Life, count: int = MEETINGS) -> list[tuple[Person, Person, Meeting]]:
    """``count`` accepted meetings, each with its own mentor and mentee, a week from now."""
    program = make_program(life.db, meeting_reminder_hours=24, survey_delay_hours=2)
    booked = []
    for i in range(count):
        mentor, mentee = make_mentor(life.db), make_mentee(life.db)
        start = START + (i % 6) * H
        request = make_request(life.db, program=program, mentee=mentee, mentor=mentor, times=[slot(start)])
        booked.append((mentor, mentee, svc.accept(life.db, request, actor=mentor, now=NOW)))
    return booked


def live_through_the_meetings(life: Life) -> None:
    """Every due time: the reminders a day before, the surveys after, their reminders."""
    for moment in (NOW + H, START - 24 * H + M, START + 6 * H + 3 * H, START + 6 * H + D + H,
                   START + 6 * H + 5 * D + H):
        life.run_until(moment)


def assert_each_got_everything_once(life: Life, booked: list[tuple[Person, Person, Meeting]]) -> None:
    for mentor, mentee, meeting in booked:
        for person, other in ((mentor, mentee), (mentee, mentor)):
            subjects = Counter(life.mail_to(person.email))
            assert subjects[f"Meeting: {meeting.topic} with {other.name}"] == 1, subjects
            assert subjects[f"Reminder: {meeting.topic} with {other.name}"] == 1, subjects
            assert subjects[f"How was your meeting with {other.name}?"] == 1, subjects
            assert subjects[f"Reminder: How was your meeting with {other.name}?"] == 2, subjects
    finished = [WorkState.DONE, WorkState.CANCELED]
    open_rows = life.db.scalars(select(TimedWork).where(TimedWork.state.not_in(finished))).all()
    assert [(r.key, r.state) for r in open_rows] == []


def test_a_flushed_redis_loses_nothing_and_doubles_nothing(life: Life) -> None:
    booked = book(life)
    life.run_until(NOW + M)  # invitations out; reminders and surveys wait in the database
    life.connection.flushall()
    live_through_the_meetings(life)
    assert_each_got_everything_once(life, booked)


def test_work_queued_when_redis_is_flushed_is_relayed_again(life: Life) -> None:
    booked = book(life)  # the invitations are queued on Redis right after each accept
    queued = life.db.scalars(select(TimedWork).where(TimedWork.state == WorkState.QUEUED)).all()
    assert len(queued) == 3 * MEETINGS  # each request's notice, each meeting's calendar write and invitation
    life.connection.flushall()  # ... and gone from it
    live_through_the_meetings(life)
    assert_each_got_everything_once(life, booked)


def test_redis_killed_and_restarted_empty_loses_nothing(life: Life, redis_process: RedisProcess) -> None:
    booked = book(life)
    life.run_until(NOW + M)
    redis_process.kill()  # kill -9, no persistence: it comes back empty
    redis_process.start()
    live_through_the_meetings(life)
    assert_each_got_everything_once(life, booked)


def test_redis_down_for_the_whole_accept(life: Life, redis_process: RedisProcess, client: Any) -> None:
    """The accept answers 2xx; when Redis is back, everything that follows it arrives, once."""
    program = make_program(life.db, meeting_reminder_hours=24, survey_delay_hours=2)
    booked = []
    for i in range(3):
        mentor, mentee = make_mentor(life.db), make_mentee(life.db)
        request = make_request(life.db, program=program, mentee=mentee, mentor=mentor,
                               times=[slot(START + i * H)])
        booked.append((mentor, mentee, request))
    life.run_until(NOW + M)  # the requests' own notices
    redis_process.stop()
    meetings = []
    for mentor, mentee, request in booked:
        login(client, mentor)
        response = client.post(f"/api/v1/requests/{request.id}/accept", json={})
        assert response.status_code == 200, response.get_json()
        meetings.append((mentor, mentee, life.db.get(Meeting, response.get_json()["meeting"]["id"])))
    redis_process.start()
    live_through_the_meetings(life)
    assert_each_got_everything_once(life, meetings)


def test_redis_cut_right_after_the_accept_commits(
    life: Life, redis_process: RedisProcess, database_url: str
) -> None:
    """The worst moment: the meeting is committed, and Redis goes before anything is enqueued."""

    def cut(_event: Any) -> None:
        if redis_process.process is not None:
            redis_process.kill()

    startup.uninstall()
    subscribe(cut)  # runs before the relay's nudge, which is subscribed after it
    startup.install(config(database_url, life.mail), connection=life.connection)
    try:
        booked = book(life, 3)
    finally:
        unsubscribe(cut)
    assert not life.db.scalars(select(TimedWork).where(TimedWork.state == WorkState.QUEUED)).all()
    redis_process.start()
    live_through_the_meetings(life)
    assert_each_got_everything_once(life, booked)


def test_a_relay_that_runs_twice_enqueues_once(life: Life) -> None:
    book(life, 2)
    life.run_until(NOW + M)
    plan_now = [timed_work.plan(life.db, WorkKind.REQUEST_REMINDER, f"request-{n}-manual-reminder-1",
                                due_at=NOW, args=[n, True]) for n in (101, 102)]
    startup.uninstall()  # no nudge: the relays below are the only ones
    startup.install(config(str(life.db.get_bind().url.render_as_string(hide_password=False)), life.mail),
                    connection=life.connection, nudge=False)
    life.db.commit()
    queue = life.queue
    assert relay.relay_due(runtime.session_factory()(), queue, now=NOW + M) == 2
    assert relay.relay_due(runtime.session_factory()(), queue, now=NOW + M) == 0
    for row in plan_now:
        life.db.refresh(row)
    assert queue.job_ids == ["fm-batch-request-101-manual-reminder-1"]  # two of one kind: one batch
    assert [row.handed_job_id for row in plan_now] == queue.job_ids * 2


def test_a_started_job_whose_worker_went_quiet_is_handed_over_again(life: Life) -> None:
    row = timed_work.plan(life.db, WorkKind.REQUEST_REMINDER, "request-7-manual-reminder-1", due_at=NOW,
                          args=[7, True])
    life.db.commit()  # ... and the nudge after the commit hands it to RQ
    life.db.refresh(row)
    assert row.state == WorkState.QUEUED
    job = Job.fetch(row.job_id, connection=life.connection)
    job.set_status(JobStatus.STARTED)
    job.heartbeat(NOW + relay.LEASE, ttl=60)  # the worker beat for it, then died

    soon = NOW + relay.LEASE + relay.HEARTBEAT_GRACE / 2
    assert relay.recover(runtime.session_factory()(), life.connection, now=soon) == []
    life.db.refresh(row)
    assert (row.state, row.relays) == (WorkState.QUEUED, 0)  # still beating recently enough

    later = NOW + relay.LEASE + relay.HEARTBEAT_GRACE + M
    assert relay.recover(runtime.session_factory()(), life.connection, now=later) == [row.key]
    life.db.refresh(row)
    assert (row.state, row.relays, row.attempts) == (WorkState.DUE, 1, 1)
    assert "no heartbeat" in row.last_error and row.job_id.endswith("-r1")
