"""Turning domain events into RQ jobs, and the admin's handles on them.

:func:`install` subscribes :func:`on_event` to the domain events (published after
commit, so no job exists for a change that was rolled back). Timed jobs are put
in RQ's scheduled registry with ``enqueue_at`` under deterministic ids
(``fm-request-<id>-reminder``, ``fm-meeting-<id>-survey``, ...), so a later event
can cancel or re-time them by id; each job also checks at run time that what it
was scheduled for still holds.

Calendar sync runs as a chain: ``fm-calendar-sync-<n>`` runs at the n-th multiple
of ``CALENDAR_SYNC_SECONDS`` (env ``FLASHMENTOR_CALENDAR_SYNC_SECONDS``, default
300; 0 turns it off), enqueues one ``sync_calendars`` job per tenant and books the
next round. Aligning runs to multiples makes the ids the same whoever books
them (a worker starting, or the chain), so a round is never booked twice.

Push subscriptions are kept the same way: ``fm-calendar-push-<n>`` runs every
``CALENDAR_PUSH_SECONDS`` (env ``FLASHMENTOR_CALENDAR_PUSH_SECONDS``, default 3600; 0 turns
it off) and enqueues one ``ensure_push`` job per person whose subscription is missing,
expires within a day, or points at an old calendar/address; a provider refusing one person
fails that job alone (RQ's failed registry) and the next round tries again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from typing import Any

from redis import Redis
from rq import Retry, get_current_job
from rq.job import Job
from rq.registry import FailedJobRegistry
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling.errors import InvalidTransition, NotFound
from scheduling.events import (
    CalendarConnected,
    DomainEvent,
    MeetingCanceled,
    MeetingRescheduled,
    MeetingScheduled,
    RequestAnswered,
    RequestCreated,
    subscribe,
    unsubscribe,
)
from scheduling.models import CalendarTenant, Meeting, MeetingRequest, Person, RequestState
from worker import calendar_jobs, jobs
from worker.calendar_jobs import RETRY as CALENDAR_RETRY
from worker.calendar_jobs import set_push_handler

log = logging.getLogger(__name__)

# Email jobs: an SMTP outage delays a notice by up to about two hours, then it fails visibly.
MAIL_RETRY = Retry(max=5, interval=[30, 120, 600, 1800, 3600])
DEFAULT_SYNC_SECONDS = 300
DEFAULT_PUSH_SECONDS = 3600
SURVEY_REMINDER_DAYS = (1, 5)  # after the meeting: the next day, and five days later


# --- installing -----------------------------------------------------------------------------------


def install(config: Mapping[str, Any], *, connection: Redis | None = None, periodic: bool = False) -> None:
    """Schedule jobs from domain events using ``config`` (the app's); ``periodic`` also
    makes sure the calendar-sync chain is running (the worker does this)."""
    jobs.configure(config, connection=connection)
    subscribe(on_event)
    set_push_handler(sync_tenant_soon)
    if periodic:
        ensure_calendar_sync()
        ensure_push_renewal()


def uninstall() -> None:
    unsubscribe(on_event)
    set_push_handler(None)
    jobs.configure({})


def on_event(ev: DomainEvent) -> None:
    """Called after commit. An enqueue failure is logged, never raised: the change is
    committed already and the caller must not see it as failed."""
    try:
        handler = _HANDLERS.get(type(ev))
        if handler is not None:
            handler(ev)
    except Exception:
        log.exception("could not schedule jobs for %s", ev)


# --- job ids and queue helpers --------------------------------------------------------------------


def request_job_id(request_id: int, what: str) -> str:
    return f"fm-request-{request_id}-{what}"


def meeting_job_id(meeting_id: int, what: str) -> str:
    return f"fm-meeting-{meeting_id}-{what}"


def cancel_job(job_id: str) -> bool:
    """Remove a queued or scheduled job (never the one running now: it is finishing)."""
    current = get_current_job()
    if current is not None and current.id == job_id:
        return False
    connection = jobs.queue().connection
    try:
        job = Job.fetch(job_id, connection=connection)
    except Exception:  # NoSuchJobError, or a hash that cannot be read
        return False
    if job.get_status(refresh=False) == "started":
        return False
    job.delete()
    return True


def _at(when: datetime, func: str, *args: Any, job_id: str, retry: Retry | None = MAIL_RETRY) -> Job:
    """(Re)schedule ``func`` at ``when`` under ``job_id``, replacing an earlier one."""
    cancel_job(job_id)
    return jobs.queue().enqueue_at(when.astimezone(UTC), func, *args, job_id=job_id, retry=retry)


def _now(func: str, *args: Any, job_id: str, retry: Retry | None = MAIL_RETRY) -> Job:
    cancel_job(job_id)
    return jobs.queue().enqueue(func, *args, job_id=job_id, retry=retry)


# --- requests -------------------------------------------------------------------------------------


def _on_request_created(ev: RequestCreated) -> None:
    from scheduling.services.requests import auto_close_due_at

    with jobs.session_scope() as db:
        request = db.get(MeetingRequest, ev.request_id)
        if request is None or request.state != RequestState.PENDING:
            return
        rid = request.id
        _now("worker.jobs.notify_request_created", rid, job_id=request_job_id(rid, "created"))
        remind_at = jobs.reminder_due_at(request)
        if remind_at is not None:
            _at(remind_at, "worker.jobs.remind_request", rid, job_id=request_job_id(rid, "reminder"))
        close_at = auto_close_due_at(request)
        if close_at is not None:
            _at(close_at, "worker.jobs.auto_close_request", rid, job_id=request_job_id(rid, "auto-close"))


def _on_request_answered(ev: RequestAnswered) -> None:
    from scheduling.services.requests import auto_close_due_at

    rid = ev.request_id
    cancel_job(request_job_id(rid, "reminder"))
    if ev.state == RequestState.COUNTERED.value:
        # The request now waits on the initiator; its auto-close clock restarts.
        with jobs.session_scope() as db:
            request = db.get(MeetingRequest, rid)
            close_at = auto_close_due_at(request) if request is not None else None
        if close_at is not None:
            _at(close_at, "worker.jobs.auto_close_request", rid, job_id=request_job_id(rid, "auto-close"))
    else:
        cancel_job(request_job_id(rid, "auto-close"))
    if ev.state != RequestState.ACCEPTED.value:  # an accepted request's meeting invite says it all
        _now(
            "worker.jobs.notify_request_answered",
            rid,
            ev.state,
            job_id=request_job_id(rid, f"answered-{ev.state}"),
        )


def remind_request_now(request_id: int, *, session: Session | None = None) -> str:
    """An admin reminds the person asked, now. Returns the job id."""
    with jobs.session_scope() if session is None else nullcontext(session) as db:
        request = db.get(MeetingRequest, request_id)
        if request is None:
            raise NotFound("No such request.")
        if request.state != RequestState.PENDING:
            raise InvalidTransition(f"Cannot remind about a request that is {request.state.value}.")
    stamp = int(datetime.now(UTC).timestamp())
    job = jobs.queue().enqueue(
        "worker.jobs.remind_request",
        request_id,
        True,
        job_id=request_job_id(request_id, f"manual-reminder-{stamp}"),
        retry=MAIL_RETRY,
    )
    return str(job.id)


def close_request_now(request_id: int, admin: Person, *, session: Session | None = None) -> MeetingRequest:
    """An admin closes an open request by hand (``expired``); the mentee is told by the job
    that the resulting event schedules."""
    from scheduling.services.requests import expire

    with jobs.session_scope() if session is None else nullcontext(session) as db:
        request = db.get(MeetingRequest, request_id)
        if request is None:
            raise NotFound("No such request.")
        actor = db.get(Person, admin.id)
        if actor is None:
            raise NotFound("No such admin.")
        return expire(db, request, by_admin=actor)


# --- meetings -------------------------------------------------------------------------------------


def _load_meeting(db: Session, meeting_id: int) -> Meeting | None:
    return db.get(Meeting, meeting_id)


def _calendar_and_invite(meeting: Meeting, *, cancel: bool) -> None:
    mid, seq = meeting.id, meeting.sequence
    _now(
        "worker.jobs.cancel_calendar" if cancel else "worker.jobs.write_calendar",
        mid,
        job_id=meeting_job_id(mid, f"calendar-{seq}"),
        retry=CALENDAR_RETRY,
    )
    _now("worker.jobs.send_meeting_invite", mid, seq, job_id=meeting_job_id(mid, f"invite-{seq}"))


def _time_meeting_jobs(meeting: Meeting, program_reminder_hours: int | None, survey_delay_hours: int) -> None:
    """(Re)schedule the reminder before and the survey after the meeting, for its current time."""
    mid = meeting.id
    now = datetime.now(UTC)
    reminder_id = meeting_job_id(mid, "reminder")
    if program_reminder_hours:
        remind_at = meeting.start_at - timedelta(hours=program_reminder_hours)
        if remind_at > now:
            _at(remind_at, "worker.jobs.remind_meeting", mid, jobs.iso(meeting.start_at), job_id=reminder_id)
        else:
            cancel_job(reminder_id)  # booked too close to the start for a reminder
    else:
        cancel_job(reminder_id)
    survey_at = meeting.end_at + timedelta(hours=survey_delay_hours)
    _at(survey_at, "worker.jobs.invite_survey", mid, jobs.iso(meeting.end_at),
        job_id=meeting_job_id(mid, "survey"))


def _on_meeting_scheduled(ev: MeetingScheduled | MeetingRescheduled) -> None:
    with jobs.session_scope() as db:
        meeting = _load_meeting(db, ev.meeting_id)
        if meeting is None or not meeting.is_active:
            return
        program = meeting.request.program
        _calendar_and_invite(meeting, cancel=False)
        _time_meeting_jobs(meeting, program.meeting_reminder_hours, program.survey_delay_hours)


def _on_meeting_canceled(ev: MeetingCanceled) -> None:
    """Cancel invite and calendar events; no reminder; the canceled-survey variant is sent
    ``survey_delay_hours`` after the cancellation."""
    with jobs.session_scope() as db:
        meeting = _load_meeting(db, ev.meeting_id)
        if meeting is None:
            return
        mid = meeting.id
        _calendar_and_invite(meeting, cancel=True)
        cancel_job(meeting_job_id(mid, "reminder"))
        delay = meeting.request.program.survey_delay_hours
        _at(datetime.now(UTC) + timedelta(hours=delay), "worker.jobs.invite_survey", mid,
            job_id=meeting_job_id(mid, "survey"))


def schedule_survey_reminders(meeting: Meeting, *, invited_at: datetime) -> list[str]:
    """Reminders the day after and five days after the meeting (or after the invitation,
    for a canceled meeting's survey); a time already past is skipped."""
    base = max(meeting.end_at, invited_at) if meeting.state.value == "canceled" else meeting.end_at
    ids = []
    for round_, days in enumerate(SURVEY_REMINDER_DAYS, start=1):
        when = base + timedelta(days=days)
        if when <= invited_at:
            continue
        job_id = meeting_job_id(meeting.id, f"survey-reminder-{round_}")
        _at(when, "worker.jobs.remind_survey", meeting.id, round_, job_id=job_id)
        ids.append(job_id)
    return ids


# --- calendar sync --------------------------------------------------------------------------------


def sync_interval() -> int:
    return int(jobs.settings().get("CALENDAR_SYNC_SECONDS", DEFAULT_SYNC_SECONDS) or 0)


def _round_after(moment: datetime, interval: int) -> int:
    return int(moment.timestamp()) // interval + 1


def _book_round(prefix: str, interval: int, func: str, after: datetime | None) -> str | None:
    """Book ``func`` at the next multiple of ``interval`` as ``<prefix>-<n>`` unless booked."""
    if interval <= 0:
        return None
    n = _round_after(after or datetime.now(UTC), interval)
    job_id = f"{prefix}-{n}"
    q = jobs.queue()
    if Job.exists(job_id, connection=q.connection):
        return job_id
    when = datetime.fromtimestamp(n * interval, UTC)
    q.enqueue_at(when, func, job_id=job_id, retry=None)
    return job_id


def ensure_calendar_sync(*, after: datetime | None = None) -> str | None:
    """Book the next calendar-sync round unless it is booked (or sync is off)."""
    return _book_round("fm-calendar-sync", sync_interval(), "worker.scheduler.sync_all_calendars", after)


def sync_all_calendars() -> list[int]:
    """One round: a sync job per tenant (a failing tenant fails alone), then the next round."""
    ensure_calendar_sync()
    with jobs.session_scope() as db:
        tenant_ids = list(db.scalars(select(CalendarTenant.id).order_by(CalendarTenant.id)))
    q = jobs.queue()
    current = get_current_job()
    round_ = current.id.rsplit("-", 1)[-1] if current is not None else "manual"
    for tid in tenant_ids:
        q.enqueue("worker.jobs.sync_calendars", tid, job_id=f"fm-tenant-{tid}-sync-{round_}")
    return tenant_ids


def sync_tenant_soon(tenant_id: int) -> str:
    """A provider pushed a change notification: sync that tenant on the worker, once for a
    burst (providers send several notifications for one change; a queued sync covers them all)."""
    job_id = f"fm-tenant-{tenant_id}-push-sync"
    connection = jobs.queue().connection
    try:
        waiting = Job.fetch(job_id, connection=connection).get_status(refresh=False) in (
            "queued", "scheduled", "deferred")
    except Exception:  # NoSuchJobError: none yet
        waiting = False
    if not waiting:
        jobs.queue().enqueue("worker.jobs.sync_calendars", tenant_id, job_id=job_id, retry=CALENDAR_RETRY)
    return job_id


# --- push subscriptions ---------------------------------------------------------------------------


def push_interval() -> int:
    return int(jobs.settings().get("CALENDAR_PUSH_SECONDS", DEFAULT_PUSH_SECONDS) or 0)


def ensure_push_renewal(*, after: datetime | None = None) -> str | None:
    """Book the next push-subscription round unless it is booked (or push renewal is off)."""
    func = "worker.scheduler.renew_push_subscriptions"
    return _book_round("fm-calendar-push", push_interval(), func, after)


def _enqueue_ensure_push(tenant_id: int, person_id: int, why: str) -> None:
    """One person's ``ensure_push`` job; ``why`` (a round number, "connected") keeps the id unique."""
    jobs.queue().enqueue("worker.scheduler.ensure_push", tenant_id, person_id,
                         job_id=f"fm-tenant-{tenant_id}-push-{person_id}-{why}", retry=None)


def _on_calendar_connected(ev: CalendarConnected) -> None:
    """Open the new calendar's push channel now rather than at the next round (up to an hour)."""
    if push_interval() <= 0 or not calendar_jobs.push_reachable(jobs.base_url()):
        return
    _enqueue_ensure_push(ev.tenant_id, ev.person_id, "connected")


def renew_push_subscriptions() -> dict[int, list[int]]:
    """One round: an ``ensure_push`` job per person with work (tenant id -> person ids), then
    the next round. Cheap when nothing is due: one query per tenant, no provider call."""
    ensure_push_renewal()
    base_url = jobs.base_url()
    if not calendar_jobs.push_reachable(base_url):
        log.warning("no push subscriptions: providers cannot call %s (FLASHMENTOR_BASE_URL must be https)",
                    base_url)
        return {}
    with jobs.session_scope() as db:
        tenant_ids = list(db.scalars(select(CalendarTenant.id).order_by(CalendarTenant.id)))
        due = {tid: calendar_jobs.push_due(db, tid, base_url=base_url) for tid in tenant_ids}
    current = get_current_job()
    round_ = current.id.rsplit("-", 1)[-1] if current is not None else "manual"
    for tid, person_ids in due.items():
        for pid in person_ids:
            _enqueue_ensure_push(tid, pid, round_)
    return {tid: pids for tid, pids in due.items() if pids}


def ensure_push(tenant_id: int, person_id: int) -> str:
    """Open, renew, move or remove one person's push subscription (see ``calendar_jobs.ensure_push``)."""
    with jobs.session_scope() as db:
        return calendar_jobs.ensure_push(db, tenant_id, person_id, base_url=jobs.base_url())


# --- failed jobs ----------------------------------------------------------------------------------


def failed_jobs(limit: int = 50) -> list[dict[str, Any]]:
    """The newest failed jobs with their error, for the admin pages."""
    q = jobs.queue()
    registry = FailedJobRegistry(queue=q)
    ids = registry.get_job_ids(0, max(limit, 1) - 1, desc=True)
    out = []
    for job in Job.fetch_many(ids, connection=q.connection):
        if job is None:
            continue
        result = job.latest_result()
        trace = result.exc_string if result is not None and result.exc_string else ""
        lines = [line for line in trace.strip().splitlines() if line.strip()]
        out.append(
            {
                "id": job.id,
                "function": job.func_name,
                "args": [_plain(a) for a in job.args],
                "kwargs": {k: _plain(v) for k, v in job.kwargs.items()},
                "error": lines[-1] if lines else "",
                "traceback": trace,
                "failed_at": job.ended_at.astimezone(UTC) if job.ended_at else None,
            }
        )
    return out


def _plain(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | type(None)) else repr(value)


_HANDLERS: dict[type, Any] = {
    RequestCreated: _on_request_created,
    RequestAnswered: _on_request_answered,
    MeetingScheduled: _on_meeting_scheduled,
    CalendarConnected: _on_calendar_connected,
    MeetingRescheduled: _on_meeting_scheduled,
    MeetingCanceled: _on_meeting_canceled,
}
