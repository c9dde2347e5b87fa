"""An admin's handles on a request that waits: remind the person asked now, or close it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from scheduling import timed_work
from scheduling.db import get_row
from scheduling.errors import InvalidTransition, NotFound
from scheduling.models import MeetingRequest, Person, RequestState
from scheduling.services.requests import expire
from scheduling.services.validation import current_time


def remind_now(session: Session, request_id: int, *, now: datetime | None = None) -> str:
    """Plan a reminder to the person asked, due now; commits. Returns its job id."""
    request = get_row(session, MeetingRequest, request_id)
    if request is None:
        raise NotFound("No such request.")
    if request.state != RequestState.PENDING:
        raise InvalidTransition(f"Cannot remind about a request that is {request.state.value}.")
    row = timed_work.plan_manual_reminder(session, request.id, now=current_time(now))
    session.commit()
    return row.job_id


def close_now(session: Session, request_id: int, admin: Person) -> MeetingRequest:
    """Close an open request by hand (``expired``); the mentee is told by the notice that
    the resulting event plans."""
    request = get_row(session, MeetingRequest, request_id)
    if request is None:
        raise NotFound("No such request.")
    actor = session.get(Person, admin.id)
    if actor is None:
        raise NotFound("No such admin.")
    return expire(session, request, by_admin=actor)
