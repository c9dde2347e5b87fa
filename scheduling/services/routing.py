"""Admin routing: a mentee ranks preferred mentors, an admin assigns one, the mentor is asked as usual.

Only in programs with ``admin_routed`` on (there, mentees cannot send requests
themselves; see ``services.requests.request_meeting``). The assignment makes an
ordinary pending request through ``request_meeting`` with every program rule, at the
times the admin picks or, by default, the first bookable slots the two share, so the
mentor answers it like any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduling import notifications
from scheduling.availability import bookable_slots
from scheduling.db import get_row
from scheduling.errors import (
    AdminRoutingOff,
    Forbidden,
    InvalidTransition,
    NotAMentee,
    NotFound,
    PendingLimitReached,
    SlotNotAvailable,
    ValidationFailed,
)
from scheduling.locks import lock_people, lock_row
from scheduling.mentor_visibility import mentors_seen
from scheduling.models import (
    MeetingRequest,
    NotificationKind,
    Person,
    Program,
    RoutingChoice,
    RoutingRequest,
    RoutingState,
)
from scheduling.services.requests import DESCRIPTION_MAX, TOPIC_MAX, request_meeting
from scheduling.services.transaction import retry_lost_races, unit_of_work
from scheduling.services.validation import current_time, text

MAX_CHOICES = 5
DEFAULT_TIMES = 3
SEARCH_DAYS = 14


@retry_lost_races
def submit_preferences(
    session: Session,
    program: Program,
    mentee: Person,
    mentor_ids: Sequence[int],
    *,
    topic: str,
    description: str = "",
    now: datetime | None = None,
) -> RoutingRequest:
    """The mentee's ranked list (first = most preferred) of up to ``MAX_CHOICES`` mentors."""
    now = current_time(now)
    if not program.admin_routed:
        raise AdminRoutingOff("This program does not route requests through admins; ask a mentor directly.")
    if not mentee.is_mentee or not mentee.active:
        raise NotAMentee(f"{mentee.name} is not an active mentee.", "mentee_id")
    topic = text(topic, "topic", max_length=TOPIC_MAX, required=True)
    description = text(description, "description", max_length=DESCRIPTION_MAX)
    if not isinstance(mentor_ids, list | tuple) or not mentor_ids:
        raise ValidationFailed("Rank at least one mentor.", "mentor_ids")
    if len(mentor_ids) > MAX_CHOICES:
        raise ValidationFailed(f"Rank at most {MAX_CHOICES} mentors.", "mentor_ids")
    if len(set(mentor_ids)) != len(mentor_ids):
        raise ValidationFailed("A mentor is ranked twice.", "mentor_ids")
    mentors = {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(list(mentor_ids))))}
    seen = mentors_seen(session, program, mentee, list(mentors))  # a hidden directory: hers only
    for i, mid in enumerate(mentor_ids):
        m = mentors.get(mid)
        if m is None or not m.is_mentor or not m.active or m.id == mentee.id or m.id not in seen:
            raise ValidationFailed(f"#{mid} is not a mentor you can ask.", f"mentor_ids[{i}]")
    cap = program.max_pending_requests
    with unit_of_work(session):
        lock_people(session, mentee.id)  # counted under the mentee's lock, as requests are
        if cap is not None and _open_count(session, program, mentee) + 1 > cap:
            raise PendingLimitReached(f"You already have {cap} open request(s) waiting for an admin.")
        routing = RoutingRequest(program_id=program.id, mentee_id=mentee.id, topic=topic,
                                 description=description, state=RoutingState.OPEN, created_at=now)
        routing.choices = [RoutingChoice(mentor_id=mid, rank=i + 1) for i, mid in enumerate(mentor_ids)]
        session.add(routing)
        session.commit()
    return routing


def _open_count(session: Session, program: Program, mentee: Person) -> int:
    return session.scalar(select(func.count(RoutingRequest.id)).where(
        RoutingRequest.program_id == program.id, RoutingRequest.mentee_id == mentee.id,
        RoutingRequest.state == RoutingState.OPEN,
    )) or 0


def get_routing(session: Session, routing_id: int, viewer: Person) -> RoutingRequest:
    """The routing request, for its mentee or an admin (404 for anyone else)."""
    routing = get_row(session, RoutingRequest, routing_id)
    if routing is None or not (viewer.is_admin or routing.mentee_id == viewer.id):
        raise NotFound("No such routing request.")
    return routing


def routings(
    session: Session, program: Program, viewer: Person, *, state: RoutingState | None = None
) -> list[RoutingRequest]:
    """An admin's queue (everyone's), or a mentee's own."""
    query = select(RoutingRequest).where(RoutingRequest.program_id == program.id)
    if not viewer.is_admin:
        query = query.where(RoutingRequest.mentee_id == viewer.id)
    if state is not None:
        query = query.where(RoutingRequest.state == state)
    return list(session.scalars(query.order_by(RoutingRequest.created_at, RoutingRequest.id)))


@retry_lost_races
def withdraw_preferences(
    session: Session, routing: RoutingRequest, actor: Person, *, now: datetime | None = None
) -> RoutingRequest:
    now = current_time(now)
    if actor.id != routing.mentee_id:
        raise Forbidden("Only the mentee can withdraw their preferences.")
    with unit_of_work(session):
        lock_people(session, routing.mentee_id)
        lock_row(session, routing)
        if routing.state != RoutingState.OPEN:
            raise InvalidTransition(f"Cannot withdraw preferences that are {routing.state.value}.")
        routing.state = RoutingState.WITHDRAWN
        routing.decided_at = now
        session.commit()
    return routing


@retry_lost_races
def assign(
    session: Session,
    routing: RoutingRequest,
    admin: Person,
    mentor_id: int,
    *,
    times: list[tuple[datetime, datetime]] | None = None,
    now: datetime | None = None,
) -> MeetingRequest:
    """The admin picks one of the ranked mentors; a normal pending request is made to them.

    Without ``times`` the request proposes the first ``DEFAULT_TIMES`` slots the two share
    in the next ``SEARCH_DAYS`` days. Refused (nothing changed) if any program rule fails.
    """
    now = current_time(now)
    if not admin.is_admin:
        raise Forbidden("Only admins assign mentors.")
    choice = next((c for c in routing.choices if c.mentor_id == mentor_id), None)
    if choice is None:
        raise ValidationFailed("Assign one of the mentors the mentee ranked.", "mentor_id")
    with unit_of_work(session):  # a refusal below leaves no lock held
        # The two people, then the routing request: two admins at once, the second waits, then sees it.
        lock_people(session, routing.mentee_id, choice.mentor_id)
        lock_row(session, routing)
        if routing.state != RoutingState.OPEN:
            raise InvalidTransition(f"These preferences are already {routing.state.value}.")
        program = session.get(Program, routing.program_id)
        assert program is not None
        mentee, mentor = routing.mentee, choice.mentor
        if times is None:
            until = now + timedelta(days=SEARCH_DAYS)
            slots = bookable_slots(session, program, mentor, mentee, now, until, now=now)
            if not slots:
                raise SlotNotAvailable(
                    f"{mentor.name} and {mentee.name} share no free time in the next {SEARCH_DAYS} days; "
                    "pick times or another mentor.", "times")
            times = [(s.start, s.end) for s in slots[:DEFAULT_TIMES]]
        # Marked assigned in the request's own transaction: a refused request rolls this back too.
        routing.state = RoutingState.ASSIGNED
        routing.assigned_mentor_id = mentor.id
        routing.decided_by_id = admin.id
        routing.decided_at = now
        request = request_meeting(session, program=program, mentee=mentee, mentor=mentor, topic=routing.topic,
                                  description=routing.description, times=times, now=now, routed=True)
    with unit_of_work(session):
        routing.request_id = request.id
        notifications.notify(session, routing.mentee_id, NotificationKind.ROUTED,
                             f"An admin asked {mentor.name} to meet you about “{routing.topic}”",
                             link=f"/requests/{request.id}", now=now)
        session.commit()
    return request


def routing_view(routing: RoutingRequest) -> dict[str, Any]:
    return {
        "id": routing.id,
        "state": routing.state.value,
        "topic": routing.topic,
        "description": routing.description,
        "mentee": {"id": routing.mentee.id, "name": routing.mentee.name},
        "choices": [{"rank": c.rank, "mentor": {"id": c.mentor.id, "name": c.mentor.name}}
                    for c in routing.choices],
        "assigned_mentor_id": routing.assigned_mentor_id,
        "request_id": routing.request_id,
        "created_at": routing.created_at.isoformat(),
    }
