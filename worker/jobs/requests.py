"""Jobs of meeting requests: the notice to the person asked, the answer's notice to the
other side, the pending reminder and the auto-close."""

from __future__ import annotations

from scheduling import due_times, notices
from scheduling.db import utcnow
from scheduling.errors import InvalidTransition
from scheduling.loading import request_for_notice
from scheduling.models import MeetingRequest, RequestState
from scheduling.services.requests import expire
from worker import runtime
from worker.jobs.notices import send_all


def notify_request_created(request_id: int) -> int:
    """Tell the person asked about a new request (if it still waits for them)."""
    with runtime.session_scope() as db:
        request = request_for_notice(db, request_id)
        if request is None or request.state != RequestState.PENDING:
            return 0
        items = notices.request_created(request, runtime.base_url())
        return send_all(items, lambda n: f"request-{request_id}-created-{n.to[0]}")


def notify_request_answered(request_id: int, state: str) -> int:
    """Tell the other side what became of the request (no-op if it moved on since)."""
    with runtime.session_scope() as db:
        request = request_for_notice(db, request_id)
        if request is None or request.state.value != state:
            return 0
        items = notices.request_answered(request, runtime.base_url())
        return send_all(items, lambda n: f"request-{request_id}-{state}-{n.to[0]}")


def remind_request(request_id: int, manual: bool = False) -> int:
    """Remind the person asked of a request still pending.

    The scheduled reminder sends once: it is skipped when a reminder went out at or
    after its due time (a retry, or a second delivery). An admin's reminder
    (``manual``) always sends while the request is pending.
    """
    with runtime.session_scope() as db:
        request = request_for_notice(db, request_id)
        if request is None or request.state != RequestState.PENDING:
            return 0
        now = utcnow()
        if not manual:
            due = due_times.request_reminder_at(request)
            if due is None or now < due:
                return 0  # off, or a row from an older plan
            if request.last_reminded_at is not None and request.last_reminded_at >= due:
                return 0  # sent already
        for notice in notices.request_reminder(request, runtime.base_url()):
            runtime.mailer().send(notice)
        request.reminders_sent += 1
        request.last_reminded_at = now
        db.commit()
        return 1


def auto_close_request(request_id: int) -> bool:
    """Expire a request nobody finished in time; the mentee is told (via RequestAnswered)."""
    with runtime.session_scope() as db:
        request = db.get(MeetingRequest, request_id)  # expire() locks it: no joined people
        if request is None:
            return False
        due = due_times.auto_close_at(request)
        now = utcnow()
        if due is None or now < due:
            return False  # answered, closed, auto-close off, or its clock restarted (countered)
        try:
            expire(db, request, now=now)
        except InvalidTransition:
            return False  # answered between our check and the lock
        return True
