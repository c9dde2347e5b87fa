"""The mentor's answer to a request's hold, read from their calendar (``scheduling.request_holds``).

Accepting one hold accepts the request for that time, exactly as accepting in the app does (the
meeting is booked and written as its own event; the holds are removed). Declining declines the
request with the reason "declined from calendar" once every time the mentee proposed is declined
(a mentor may turn down one time and take another). A request that is no longer pending, or a
hold whose time the mentor moved, is not answered from the calendar.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from scheduling.models import DeclineReason, MeetingRequest, RequestHold, RequestState
from scheduling.request_holds import holds_of, wanted_times
from scheduling.services import requests as request_service

ACCEPTED = "accepted"
DECLINED = "declined"


def answer_hold(
    session: Session,
    hold: RequestHold,
    answer: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    note: str = "",
    now: datetime | None = None,
) -> str | None:
    """Apply the mentor's ``answer`` (a lower-case PARTSTAT) to ``hold``; returns what became of
    the request (``accepted`` / ``declined``) or None when it did not change. Raises the
    services' :class:`~scheduling.errors.DomainError` (nothing changed) when the answer cannot
    apply, e.g. the time is no longer bookable."""
    request = session.get(MeetingRequest, hold.request_id)
    if request is None or request.state != RequestState.PENDING or answer == hold.answer:
        return None
    if answer not in (ACCEPTED, DECLINED):
        hold.answer = answer
        session.commit()
        return None
    if answer == ACCEPTED:
        if start is not None and (start, end) != (hold.start_at, hold.end_at):
            return None  # the mentor moved the invitation: not the time she asked for
        request_service.accept(session, request, actor=request.mentor, proposed_time_id=hold.proposed_time_id,
                               now=now)
        return ACCEPTED
    hold.answer = DECLINED
    declined = {h.proposed_time_id for h in holds_of(session, request.id) if h.answer == DECLINED}
    if not {p.id for p in wanted_times(request)} <= declined:
        session.commit()
        return None
    request_service.decline(session, request, actor=request.mentor,
                            reason=DeclineReason.DECLINED_FROM_CALENDAR,
                            message=note[:request_service.MESSAGE_MAX], now=now)
    return DECLINED
