"""Taking a person out of the program (the directory deprovisioned them) and letting them back in.

Nothing is deleted: reports still count their past meetings and answers. What is
still open is closed through the same services people use, so the other person hears
about it exactly as if it had been done by hand: requests they started are withdrawn,
requests waiting on them are declined (or closed, when they had countered), and their
future meetings are canceled, which also takes the events off both calendars. Their
push channels are stopped at the provider by a timed work row (``person-<id>-stop-push``,
written with the deactivation), and nothing renews or reopens a channel of an inactive
person. Every step is its own transaction and skips what is already closed, so running it
again finishes an interrupted run.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from scheduling import timed_work
from scheduling.models import (
    ACTIVE_MEETING_STATES,
    OPEN_REQUEST_STATES,
    DeclineReason,
    Meeting,
    MeetingRequest,
    Person,
    PushSubscription,
    RequestState,
    WorkKind,
)
from scheduling.services import meetings as meeting_service
from scheduling.services import requests as request_service
from scheduling.services.transaction import retry_lost_races, unit_of_work
from scheduling.services.validation import current_time


@retry_lost_races
def deactivate(session: Session, person: Person, *, now: datetime | None = None) -> Person:
    """Close everything open of ``person`` through the domain services, then mark them inactive."""
    now = current_time(now)
    note = f"{person.name} has left the mentoring program."
    open_requests = session.scalars(select(MeetingRequest).where(
        or_(MeetingRequest.mentee_id == person.id, MeetingRequest.mentor_id == person.id),
        MeetingRequest.state.in_(OPEN_REQUEST_STATES)).order_by(MeetingRequest.id)).all()
    for request in open_requests:
        if request_service.initiator_id(request) == person.id:
            request_service.withdraw(session, request, actor=person, now=now)
        elif request.state == RequestState.PENDING:
            request_service.decline(session, request, actor=person, reason=DeclineReason.OTHER,
                                    message=note, now=now)
        else:  # they had countered; the initiator's answer will never come back to them
            request_service.expire(session, request, now=now)
    future = session.scalars(select(Meeting).where(
        or_(Meeting.mentee_id == person.id, Meeting.mentor_id == person.id),
        Meeting.state.in_(ACTIVE_MEETING_STATES), Meeting.start_at > now).order_by(Meeting.id)).all()
    for meeting in future:
        meeting_service.cancel(session, meeting, actor=None, reason=note, now=now)
    with unit_of_work(session):
        if session.scalar(select(PushSubscription.id).where(PushSubscription.person_id == person.id)
                          .limit(1)) is not None:
            timed_work.plan(session, WorkKind.STOP_PUSH, f"person-{person.id}-stop-push", due_at=now,
                            args=[person.id])
        person.active = False
        session.commit()
    return person


def reactivate(session: Session, person: Person) -> Person:
    with unit_of_work(session):
        person.active = True
        session.commit()
    return person
