"""Planning timed work: the rows that follow a state change, written in its transaction.

:func:`plan_for_events` runs just before a session commits (hooked in
:mod:`scheduling.events`) and turns the domain events the services recorded into
:class:`TimedWork` rows: a new request gets its notice, reminder and auto-close; an
accepted meeting its calendar writes, invitation, reminder and survey; a moved meeting
re-times its rows, a canceled one cancels them. Rows and change commit or roll back
together, so no follow-up is lost to a Redis blip and none exists for a change that
did not happen.

Keys are idempotency keys (``request-12-reminder``, ``meeting-7-invite-2``): planning a
key again re-times the same row. Due times come from :mod:`scheduling.due_times`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from scheduling import due_times, request_holds
from scheduling.db import utcnow
from scheduling.errors import InvalidTransition, NotFound
from scheduling.events import (
    ActionPlanRecorded,
    CalendarConnected,
    DomainEvent,
    MeetingCanceled,
    MeetingRescheduled,
    MeetingScheduled,
    RequestAnswered,
    RequestCreated,
)
from scheduling.models import (
    Meeting,
    MeetingRequest,
    RequestState,
    TimedWork,
    WorkKind,
    WorkState,
)

# Seconds to wait before each retry of a failed run; the row is dead after the last one.
# Calendar providers get about a day; email about two hours; periodic rounds are not
# retried (the next round does their work).
CALENDAR_RETRY = (30, 60, 120, 300, 600, 1200, 1800, 3600, 3600, 7200)
MAIL_RETRY = (30, 120, 600, 1800, 3600)
ROUND_RETRY: tuple[int, ...] = ()

RETRY_DELAYS: dict[WorkKind, tuple[int, ...]] = {
    WorkKind.CALENDAR_WRITE: CALENDAR_RETRY,
    WorkKind.CALENDAR_CANCEL: CALENDAR_RETRY,
    WorkKind.REQUEST_HOLDS: CALENDAR_RETRY,
    WorkKind.TENANT_SYNC: CALENDAR_RETRY[:4],
    WorkKind.ENSURE_PUSH: ROUND_RETRY,
    WorkKind.SYNC_ROUND: ROUND_RETRY,
    WorkKind.PUSH_ROUND: ROUND_RETRY,
}

_PLANNED = "flashmentor_planned_work"


def retry_delays(kind: WorkKind) -> tuple[int, ...]:
    return RETRY_DELAYS.get(kind, MAIL_RETRY)


# --- rows -------------------------------------------------------------------------------------------


def find(session: Session, key: str) -> TimedWork | None:
    return session.scalar(select(TimedWork).where(TimedWork.key == key))


def plan(
    session: Session, kind: WorkKind, key: str, *, due_at: datetime, args: Sequence[Any] = ()
) -> TimedWork:
    """Have ``kind`` run at ``due_at`` under ``key``; an existing row with the key is re-timed
    (and handed over afresh, so a job of its older plan finds itself superseded)."""
    row = find(session, key)
    if row is None:
        row = TimedWork(
            key=key,
            kind=kind,
            args=list(args),
            due_at=due_at,
            state=WorkState.DUE,
            attempts=0,
            relays=0,
            max_attempts=len(retry_delays(kind)) + 1,
            last_error="",
        )
        session.add(row)
    else:
        if row.state != WorkState.DUE or row.relayed_at is not None:
            row.relays += 1
        row.kind, row.args, row.due_at = kind, list(args), due_at
        row.state, row.attempts, row.last_error = WorkState.DUE, 0, ""
        row.relayed_at = row.finished_at = None
    session.info.setdefault(_PLANNED, []).append(row)
    return row


def _insert_once(
    session: Session, kind: WorkKind, key: str, *, due_at: datetime, args: Sequence[Any]
) -> TimedWork | None:
    """Insert a new row for ``key`` under a savepoint; None if a concurrent planner won."""
    try:
        with session.begin_nested():
            return plan(session, kind, key, due_at=due_at, args=args)
    except IntegrityError:
        return None


def plan_once(
    session: Session, kind: WorkKind, key: str, *, due_at: datetime, args: Sequence[Any] = ()
) -> bool:
    """Plan ``key`` unless a row with it exists (whoever planned it). Safe against a concurrent
    planner of the same key: the loser's insert is rolled back to a savepoint."""
    if find(session, key) is not None:
        return False
    return _insert_once(session, kind, key, due_at=due_at, args=args) is not None


def plan_unless_waiting(
    session: Session, kind: WorkKind, key: str, *, due_at: datetime, args: Sequence[Any] = ()
) -> TimedWork:
    """Plan ``key`` now unless it waits to run already: a burst of triggers makes one run.
    (A trigger that lands while the run is under way is caught by the next periodic round.)"""
    row = find(session, key)
    if row is not None and row.is_open:
        return row
    if row is None:
        row = _insert_once(session, kind, key, due_at=due_at, args=args) or find(session, key)
        if row is not None:
            return row
    return plan(session, kind, key, due_at=due_at, args=args)


def cancel(session: Session, key: str) -> bool:
    """The change this row followed was undone: it will not run (unless it is running now)."""
    row = find(session, key)
    if row is None or row.state != WorkState.DUE:
        return False
    row.state = WorkState.CANCELED
    row.finished_at = utcnow()
    return True


def has_planned(session: Session) -> bool:
    return bool(session.info.get(_PLANNED))


def planned_ids(session: Session) -> list[int]:
    """Ids of the rows planned in this transaction (after the flush that gave them ids)."""
    return [row.id for row in session.info.get(_PLANNED, []) if row.id is not None]


def forget_planned(session: Session) -> None:
    session.info.pop(_PLANNED, None)


# --- the plan for each domain event ------------------------------------------------------------------


def plan_for_events(session: Session, events: Iterable[DomainEvent], *, now: datetime | None = None) -> None:
    """Write the follow-up rows of these events into ``session`` (before it commits)."""
    now = now or utcnow()
    for ev in events:
        if isinstance(ev, RequestCreated):
            _request_created(session, ev.request_id, now)
            request_holds.plan(session, ev.request_id, now)
        elif isinstance(ev, RequestAnswered):
            _request_answered(session, ev.request_id, ev.state, now)
            request_holds.plan(session, ev.request_id, now)
        elif isinstance(ev, MeetingScheduled | MeetingRescheduled):
            _meeting_on(session, ev.meeting_id, now)
        elif isinstance(ev, MeetingCanceled):
            _meeting_canceled(session, ev.meeting_id, now)
        elif isinstance(ev, ActionPlanRecorded):
            _action_plan_recorded(session, ev.meeting_id)
        elif isinstance(ev, CalendarConnected):
            key = f"tenant-{ev.tenant_id}-push-{ev.person_id}-connected"
            plan(session, WorkKind.ENSURE_PUSH, key, due_at=now, args=[ev.tenant_id, ev.person_id])


def request_key(request_id: int, what: str) -> str:
    return f"request-{request_id}-{what}"


def meeting_key(meeting_id: int, what: str) -> str:
    return f"meeting-{meeting_id}-{what}"


def _plan_or_cancel(
    session: Session, kind: WorkKind, key: str, due_at: datetime | None, args: Sequence[Any]
) -> None:
    if due_at is None:
        cancel(session, key)
    else:
        plan(session, kind, key, due_at=due_at, args=args)


def _request_created(session: Session, request_id: int, now: datetime) -> None:
    request = session.get(MeetingRequest, request_id)
    if request is None or request.state != RequestState.PENDING:
        return
    rid = request.id
    plan(session, WorkKind.REQUEST_CREATED, request_key(rid, "created"), due_at=now, args=[rid])
    _plan_or_cancel(session, WorkKind.REQUEST_REMINDER, request_key(rid, "reminder"),
                    due_times.request_reminder_at(request), [rid])
    _plan_or_cancel(session, WorkKind.REQUEST_AUTO_CLOSE, request_key(rid, "auto-close"),
                    due_times.auto_close_at(request), [rid])


def _request_answered(session: Session, request_id: int, state: str, now: datetime) -> None:
    cancel(session, request_key(request_id, "reminder"))
    request = session.get(MeetingRequest, request_id)
    close_at = due_times.auto_close_at(request) if request is not None else None
    if state != RequestState.COUNTERED.value:
        close_at = None  # the request is closed; only a counter restarts the clock
    _plan_or_cancel(session, WorkKind.REQUEST_AUTO_CLOSE, request_key(request_id, "auto-close"),
                    close_at, [request_id])
    if state != RequestState.ACCEPTED.value:  # an accepted request's meeting invite says it all
        plan(session, WorkKind.REQUEST_ANSWERED, request_key(request_id, f"answered-{state}"),
             due_at=now, args=[request_id, state])


def _calendar_and_invite(session: Session, meeting: Meeting, kind: WorkKind, now: datetime) -> None:
    mid, seq = meeting.id, meeting.sequence
    plan(session, kind, meeting_key(mid, f"calendar-{seq}"), due_at=now, args=[mid])
    plan(session, WorkKind.MEETING_INVITE, meeting_key(mid, f"invite-{seq}"), due_at=now, args=[mid, seq])


def _meeting_on(session: Session, meeting_id: int, now: datetime) -> None:
    meeting = session.get(Meeting, meeting_id)
    if meeting is None or not meeting.is_active:
        return
    mid = meeting.id
    _calendar_and_invite(session, meeting, WorkKind.CALENDAR_WRITE, now)
    remind_at = due_times.meeting_reminder_at(meeting)
    if remind_at is not None and remind_at <= now:
        remind_at = None  # booked too close to the start for a reminder
    _plan_or_cancel(session, WorkKind.MEETING_REMINDER, meeting_key(mid, "reminder"), remind_at,
                    [mid, meeting.start_at.isoformat()])
    plan(session, WorkKind.SURVEY_INVITE, meeting_key(mid, "survey"),
         due_at=due_times.survey_at(meeting, now=now), args=[mid, meeting.end_at.isoformat()])


def _meeting_canceled(session: Session, meeting_id: int, now: datetime) -> None:
    """Cancel invite and calendar events; no reminder; the canceled-survey variant is sent
    a few hours after the cancellation."""
    meeting = session.get(Meeting, meeting_id)
    if meeting is None:
        return
    _calendar_and_invite(session, meeting, WorkKind.CALENDAR_CANCEL, now)
    cancel(session, meeting_key(meeting.id, "reminder"))
    plan(session, WorkKind.SURVEY_INVITE, meeting_key(meeting.id, "survey"),
         due_at=due_times.survey_at(meeting, now=now), args=[meeting.id])


def _action_plan_recorded(session: Session, meeting_id: int) -> None:
    """One reminder row per meeting: a rewritten plan re-times it (the job checks the version)."""
    meeting = session.get(Meeting, meeting_id)
    if meeting is None:
        return
    when = due_times.action_plan_reminder_at(meeting)
    stamp = meeting.action_plan_at.isoformat() if meeting.action_plan_at is not None else ""
    _plan_or_cancel(session, WorkKind.ACTION_PLAN_REMINDER, meeting_key(meeting.id, "action-plan-reminder"),
                    when, [meeting.id, stamp])


def plan_survey_reminders(session: Session, meeting: Meeting, *, invited_at: datetime) -> list[str]:
    """The survey's reminders, planned when the survey goes out; returns their keys."""
    keys = []
    for round_, when in due_times.survey_reminder_times(meeting, invited_at=invited_at):
        key = meeting_key(meeting.id, f"survey-reminder-{round_}")
        plan(session, WorkKind.SURVEY_REMINDER, key, due_at=when, args=[meeting.id, round_])
        keys.append(key)
    return keys


def plan_manual_reminder(session: Session, request_id: int, *, now: datetime) -> TimedWork:
    """An admin's "remind now": its own row, so it is sent even if the scheduled one was."""
    key = request_key(request_id, f"manual-reminder-{int(now.timestamp())}")
    return plan(session, WorkKind.REQUEST_REMINDER, key, due_at=now, args=[request_id, True])


# --- results of a run -------------------------------------------------------------------------------


def record_failure(row: TimedWork, error: str, *, now: datetime) -> None:
    """A run failed: retry after the kind's next delay, or give up (dead) after the last."""
    delays = retry_delays(row.kind)
    row.attempts += 1
    row.last_error = error[-2000:]
    if row.attempts > len(delays):
        row.state = WorkState.DEAD
        row.finished_at = now
        return
    row.state = WorkState.DUE
    row.due_at = now + timedelta(seconds=delays[row.attempts - 1])
    row.relays += 1
    row.relayed_at = None


# --- an admin's handles -------------------------------------------------------------------------------


def retry_now(session: Session, work_id: int, *, now: datetime | None = None) -> TimedWork:
    """Run a failed or dead row again now, with a fresh count of attempts. Does not commit."""
    row = session.get(TimedWork, work_id)
    if row is None:
        raise NotFound("No such timed work.")
    if row.state not in (WorkState.DUE, WorkState.DEAD) or (row.state == WorkState.DUE and not row.attempts):
        raise InvalidTransition(f"Only failed work can be retried; this is {row.state.value}.")
    return plan(session, row.kind, row.key, due_at=now or utcnow(), args=row.args)


def drop(session: Session, work_id: int, *, now: datetime | None = None) -> TimedWork:
    """Give up on a failed or dead row: it will not run again. Does not commit."""
    row = session.get(TimedWork, work_id)
    if row is None:
        raise NotFound("No such timed work.")
    if row.state not in (WorkState.DUE, WorkState.DEAD) or (row.state == WorkState.DUE and not row.attempts):
        raise InvalidTransition(f"Only failed work can be dropped; this is {row.state.value}.")
    row.state = WorkState.CANCELED
    row.finished_at = now or utcnow()
    row.last_error = (row.last_error + "\ndropped by an admin").strip()
    return row
