"""Pending requests as tentative holds in the mentor's calendar (program setting ``calendar_holds``).

While a request a mentee made waits for the mentor, each time she proposed is an invitation in
the mentor's calendar (organizer: the mentee; the mentor a NEEDS-ACTION attendee; STATUS
tentative), so the time shows as held to everyone who reads that calendar, and the mentor can
answer there (``scheduling.services.hold_answers``). A request countered by the mentor holds the
counter time instead (it waits on the mentee; the mentor's answer to that hold is not asked for).
Any other state holds nothing: the worker (``worker.request_holds``) removes what is no longer
wanted, and an accepted request's meeting is written as the meeting's own event.

Holds are busy time in the mentor's calendar, so the mentor's other requests cannot take those
times. The request a hold stands for is not blocked by it: booking that request subtracts its
own holds from the mentor's calendar busy time (:func:`own_hold_spans`).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from calendars.base import Attendee, EventSpec
from freebusy.intervals import EMPTY, IntervalSet
from scheduling import due_times
from scheduling.models import (
    Initiator,
    MeetingRequest,
    ProposedTime,
    RequestHold,
    RequestState,
    WorkKind,
)


def wanted_times(request: MeetingRequest) -> list[ProposedTime]:
    """The times the mentor's calendar should hold for ``request`` now (none when switched off)."""
    if not request.program.calendar_holds or request.initiated_by != Initiator.MENTEE:
        return []
    if request.state == RequestState.PENDING:
        return [p for p in request.proposed_times if p.proposed_by == Initiator.MENTEE]
    if request.state == RequestState.COUNTERED:
        theirs = [p for p in request.proposed_times if p.proposed_by == Initiator.MENTOR]
        return [max(theirs, key=lambda p: p.id)] if theirs else []
    return []


def holds_of(session: Session, request_id: int) -> list[RequestHold]:
    query = select(RequestHold).where(RequestHold.request_id == request_id).order_by(RequestHold.id)
    return list(session.scalars(query))


def hold_uid(request: MeetingRequest, proposed_time_id: int) -> str:
    """One UID per held time, stable for the hold's life (providers de-duplicate writes by it).
    The request's creation time makes it unique beyond this database (ids restart elsewhere),
    as a meeting's random UID is."""
    salt = hashlib.sha256(f"{request.id}|{proposed_time_id}|{request.created_at.isoformat()}".encode())
    return f"request-{request.id}-time-{proposed_time_id}-{salt.hexdigest()[:16]}@flashmentor"


def hold_event(
    request: MeetingRequest, uid: str, start: datetime, end: datetime, *, link: str = ""
) -> EventSpec:
    """The invitation the mentor gets for one proposed time: the mentee organizes, the mentor is asked."""
    mentee, mentor = request.mentee, request.mentor
    lines = [
        f"{mentee.name} asks you for a flash mentoring meeting: {request.topic}",
        "Accept this invitation to accept the request for this time; decline it to decline the request.",
    ]
    if link:
        lines.append(f"Or answer in the app: {link}")
    return EventSpec(
        uid=uid,
        summary=f"Request (tentative): {request.topic}",
        description="\n".join(lines),
        start=start,
        end=end,
        organizer=Attendee(mentee.email, mentee.name),
        attendees=(Attendee(mentor.email, mentor.name),),
        location=request.location,
        hold=True,
    )


def plan(session: Session, request_id: int, now: datetime) -> None:
    """Have the worker bring the request's holds in line with its state (called by the planner on
    ``RequestCreated`` / ``RequestAnswered``): when it should hold times or still holds some."""
    request = session.get(MeetingRequest, request_id)
    if request is None:
        return
    due = due_times.holds_due_at(request, now=now, held=bool(holds_of(session, request_id)),
                                 wanted=bool(wanted_times(request)))
    if due is None:
        return
    from scheduling import timed_work  # it imports this module (the planner calls :func:`plan`)

    key = timed_work.request_key(request_id, "holds")
    timed_work.plan(session, WorkKind.REQUEST_HOLDS, key, due_at=due, args=[request_id])


def own_hold_spans(session: Session, request_id: int) -> dict[int, IntervalSet]:
    """Per person, the time the request's own holds take in their calendar (subtracted from the
    calendar busy time when that very request is booked)."""
    spans: dict[int, IntervalSet] = {}
    for hold in holds_of(session, request_id):
        held = IntervalSet.span(hold.start_at, hold.end_at)
        spans[hold.person_id] = spans.get(hold.person_id, EMPTY).union(held)
    return spans
