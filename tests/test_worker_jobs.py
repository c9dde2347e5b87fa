"""The jobs one by one: stale jobs do nothing, retries send nothing twice, a counter restarts the
auto-close clock, jobs outlive the worker that saw them scheduled, failures land in RQ's failed
registry (and the admin API) after their retries, admins remind and close by hand, and the
calendar-sync chain follows a move made in a calendar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis import Redis
from rq.job import Job
from sqlalchemy import select
from sqlalchemy.orm import Session

from calendars.base import CalendarIdentity
from scheduling.errors import Forbidden, InvalidTransition
from scheduling.models import CalendarEventLink, CalendarTenant, MeetingState, RequestState
from scheduling.services import meetings as meeting_svc
from scheduling.services import request_admin
from scheduling.services import requests as svc
from tests import calendar_backends as harness
from tests.factories import (
    NOW,
    at,
    login,
    make_admin,
    make_mentee,
    make_mentor,
    make_program,
    make_request,
    slot,
)
from tests.fakes.dav_servers import DavServer
from tests.ports import free_port
from tests.test_lifecycle import mentor_on_radicale
from tests.worker_harness import Life, config, life, plain_connection
from worker import calendar_jobs, failures, startup
from worker.jobs import calendars as calendar_rounds
from worker.jobs import meetings as meetings_jobs
from worker.jobs import requests as requests_jobs
from worker.jobs import surveys as surveys_jobs

__all__ = ["life"]
START = at("2030-01-15", "10:00")
D = timedelta(days=1)
H = timedelta(hours=1)
M = timedelta(minutes=1)


def pending(db: Session, **program: Any):  # type: ignore[no-untyped-def]
    prog = make_program(db, **program)
    mentor = make_mentor(db, name="Grace Mentor")
    mentee = make_mentee(db, name="Ada Mentee")
    request = make_request(db, program=prog, mentee=mentee, mentor=mentor, times=[slot(START)])
    return prog, mentor, mentee, request


def test_stale_jobs_do_nothing(life: Life) -> None:
    db = life.db
    _, mentor, mentee, request = pending(db, meeting_reminder_hours=24)
    life.run_until(NOW + M)  # the new-request notice
    assert requests_jobs.remind_request(request.id) == 0  # not due yet: a job from an older schedule
    meeting = svc.accept(db, request, actor=mentor, now=life.at(NOW + H))
    old_start = meeting.start_at.isoformat()
    meeting_svc.reschedule(db, meeting, actor=mentee, start=START + D, end=START + D + 30 * M, now=NOW + H)
    sent = len(life.mail.received)

    life.at(NOW + 5 * D)
    assert requests_jobs.remind_request(request.id) == 0  # answered
    assert requests_jobs.notify_request_answered(request.id, "declined") == 0  # it was accepted, not declined
    assert meetings_jobs.remind_meeting(meeting.id, old_start) == 0  # moved since
    assert meetings_jobs.send_meeting_invite(meeting.id, 0) == 0  # superseded by sequence 1
    assert surveys_jobs.invite_survey(meeting.id, (START + 30 * M).isoformat()) == 0  # the old end time
    assert len(life.mail.received) == sent

    assert meetings_jobs.remind_meeting(meeting.id, meeting.start_at.isoformat()) == 2  # the current one


def test_a_retried_invite_or_reminder_sends_nothing_twice(life: Life) -> None:
    db = life.db
    _, mentor, _, request = pending(db, remind_after_days=3)
    meeting = svc.accept(db, request, actor=mentor, now=NOW)
    life.run_until(NOW + M)
    count = len(life.mail.received)

    assert meetings_jobs.send_meeting_invite(meeting.id, 0) == 0
    assert meetings_jobs.remind_meeting(meeting.id, meeting.start_at.isoformat()) == 2
    assert meetings_jobs.remind_meeting(meeting.id, meeting.start_at.isoformat()) == 0
    assert len(life.mail.received) == count + 2

    _, _, _, other = pending(db, remind_after_days=3)
    life.at(NOW + 3 * D + M)
    assert requests_jobs.remind_request(other.id) == 1
    assert requests_jobs.remind_request(other.id) == 0
    assert requests_jobs.remind_request(other.id, manual=True) == 1  # an admin may remind again


def test_a_counter_restarts_the_auto_close_clock(life: Life) -> None:
    db = life.db
    _, mentor, _, request = pending(db, auto_close_after_days=14)
    counter_start = START + D
    svc.counter(db, request, actor=mentor, start=counter_start, end=counter_start + 30 * M,
                now=life.at(NOW + 5 * D))
    assert life.scheduled()[f"fm-request-{request.id}-auto-close"] == NOW + 19 * D

    life.run_until(NOW + 14 * D + M)
    db.refresh(request)
    assert request.state == RequestState.COUNTERED
    life.run_until(NOW + 19 * D + M)
    db.refresh(request)
    assert request.state == RequestState.EXPIRED


def test_jobs_outlive_the_worker(life: Life, redis: Any) -> None:
    db = life.db
    _, mentor, _, request = pending(db, remind_after_days=3)
    life.run_until(NOW + D)  # a worker runs and goes away; the reminder is not due yet
    assert len(life.mail.to(mentor.email)) == 1

    # A new worker, on a new connection, created after the job was scheduled.
    pool = plain_connection(redis).connection_pool
    fresh = Redis(
        connection_pool=type(pool)(connection_class=pool.connection_class, **pool.connection_kwargs)
    )
    assert f"fm-request-{request.id}-reminder" in life.scheduled()  # kept in the database
    life.run_until(NOW + 3 * D + M, connection=fresh)
    assert life.mail_to(mentor.email)[-1].startswith("Reminder:")


def test_a_failing_job_is_retried_then_lands_in_the_failed_registry(
    life: Life, database_url: str, client: Any
) -> None:
    db = life.db
    startup.install(config(database_url, life.mail, SMTP_PORT=free_port()), connection=life.connection)
    _, _, mentee, request = pending(db)
    key = f"request-{request.id}-created"

    moment = NOW
    for _ in range(8):  # first try, then five retries 30 s .. 1 h apart
        moment += 2 * H
        life.run_until(moment)
    job_id = f"fm-{key}-r5"  # the sixth and last hand-over
    job = Job.fetch(job_id, connection=life.connection)
    assert job.get_status() == "failed"

    [failed] = failures.failed_jobs(db, life.connection)
    assert failed["key"] == key and failed["function"] == "request.created"
    assert (failed["state"], failed["attempts"]) == ("dead", 6)
    assert failed["args"] == [request.id] and "ConnectionRefusedError" in failed["error"]
    assert isinstance(failed["failed_at"], datetime) and failed["failed_at"].tzinfo is not None

    login(client, make_admin(db))
    body = client.get("/api/v1/admin/jobs/failed").get_json()
    assert [j["key"] for j in body["jobs"]] == [key]
    assert "ConnectionRefusedError" in body["jobs"][0]["traceback"]
    login(client, mentee)
    assert client.get("/api/v1/admin/jobs/failed").status_code == 403


def test_admins_remind_by_hand_through_the_api(life: Life, client: Any) -> None:
    db = life.db
    _, mentor, mentee, request = pending(db, remind_after_days=3)
    life.run_until(NOW + M)

    login(client, mentee)
    assert client.post(f"/api/v1/requests/{request.id}/remind", json={}).status_code == 403
    login(client, make_admin(db))
    response = client.post(f"/api/v1/requests/{request.id}/remind", json={})
    assert response.status_code == 202
    life.run_until(NOW + 2 * M)  # long before the scheduled reminder
    assert life.mail_to(mentor.email)[-1] == "Reminder: Ada Mentee is waiting for your answer"
    assert client.post("/api/v1/requests/999999/remind", json={}).status_code == 404

    svc.decline(db, request, actor=mentor, reason="no_time", now=NOW + H)
    response = client.post(f"/api/v1/requests/{request.id}/remind", json={})
    assert response.status_code == 409 and response.get_json()["error"]["code"]


def test_admins_close_by_hand_and_the_mentee_is_told(life: Life) -> None:
    db = life.db
    _, mentor, mentee, request = pending(db)
    with pytest.raises(Forbidden):
        request_admin.close_now(db, request.id, mentor)
    closed = request_admin.close_now(db, request.id, make_admin(db))
    assert closed.state == RequestState.EXPIRED
    with pytest.raises(InvalidTransition):
        request_admin.remind_now(db, request.id)

    life.run_until(NOW + M)
    assert life.mail_to(mentee.email) == [f"Closed without an answer: {request.topic}"]
    assert life.scheduled() == {}


def test_calendar_sync_runs_in_rounds_and_follows_a_move(life: Life, radicale_server: DavServer) -> None:
    db = life.db
    program = make_program(db)
    mentor, calendar_url = mentor_on_radicale(db, radicale_server)
    mentee = make_mentee(db)
    request = make_request(db, program=program, mentee=mentee, mentor=mentor, times=[slot(START)])
    meeting = svc.accept(db, request, actor=mentor, now=NOW)
    life.run_until(NOW + M)
    [link] = db.scalars(select(CalendarEventLink).where(CalendarEventLink.meeting_id == meeting.id))

    first = calendar_rounds.ensure_calendar_sync()
    assert calendar_rounds.ensure_calendar_sync() == first  # booked once
    boundary = datetime.fromtimestamp((int(NOW.timestamp()) // 300 + 1) * 300, UTC)
    assert life.scheduled()[str(first)] == boundary

    # The mentor drags the event an hour later in their calendar app.
    owner = CalendarIdentity(mentor.email, calendar_url.removeprefix(radicale_server.base_url))
    harness.DavBackend(radicale_server).move(owner, link.event_id, START + H, START + H + 30 * M)
    life.run_until(boundary + M)

    db.refresh(meeting)
    assert (meeting.start_at, meeting.state) == (START + H, MeetingState.RESCHEDULED)
    tenant = db.get(CalendarTenant, link.tenant_id)
    assert tenant is not None and (tenant.last_sync_status or "").startswith("ok: 1")
    next_round = [k for k in life.scheduled() if k.startswith("fm-calendar-sync-")]
    assert next_round == [f"fm-calendar-sync-{int(boundary.timestamp()) // 300 + 1}"]
    assert life.scheduled()[f"fm-meeting-{meeting.id}-reminder"] == START + H - 24 * H  # re-timed


def test_a_push_notification_syncs_the_tenant_once_on_the_worker(
    life: Life, radicale_server: DavServer
) -> None:
    """Providers send bursts of notifications for one change: one queued sync covers them."""
    db = life.db
    program = make_program(db)
    mentor, calendar_url = mentor_on_radicale(db, radicale_server)
    request = make_request(db, program=program, mentee=make_mentee(db), mentor=mentor, times=[slot(START)])
    meeting = svc.accept(db, request, actor=mentor, now=NOW)
    life.run_until(NOW + M)
    [link] = db.scalars(select(CalendarEventLink).where(CalendarEventLink.meeting_id == meeting.id))
    owner = CalendarIdentity(mentor.email, calendar_url.removeprefix(radicale_server.base_url))
    harness.DavBackend(radicale_server).move(owner, link.event_id, START + H, START + H + 30 * M)

    first = calendar_jobs.on_push(link.tenant_id)
    assert calendar_jobs.on_push(link.tenant_id) == first
    assert life.queue.job_ids == [first]
    db.refresh(meeting)
    assert meeting.start_at == START  # nothing applied in the web process

    life.run_until(NOW + 2 * M)
    db.refresh(meeting)
    assert (meeting.start_at, meeting.state) == (START + H, MeetingState.RESCHEDULED)
