"""The meeting-request state machine.

::

    pending ──accept──────────────> accepted (+ Meeting)
       │  └──counter──> countered ──confirm_counter──> accepted (+ Meeting)
       │                    │
       ├──decline──> declined
       ├──withdraw─────────┴──> withdrawn
       └──expire───────────┴──> expired  (auto-close job, or an admin)

Usually the mentee asks and the mentor answers. Where the program lets mentors
create meetings, a mentor may ask instead; then the mentee answers. So the rules
speak of the *initiator* (may withdraw, confirms a counter) and the *answerer*
(accepts, counters, declines). Every function is one transaction and changes
nothing when it raises.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from scheduling import due_times, notifications
from scheduling.availability import check_bookable
from scheduling.errors import (
    AdminRoutingRequired,
    DomainError,
    Forbidden,
    InvalidTransition,
    MeetingOverlap,
    MentorCreationNotAllowed,
    MentorPaused,
    NotAMentee,
    NotAMentor,
    NotParticipant,
    SelfRequest,
    ValidationFailed,
)
from scheduling.events import DomainEvent, MeetingScheduled, RequestAnswered, RequestCreated, record
from scheduling.locks import lock_people, lock_row
from scheduling.models import (
    ACTIVE_MEETING_STATES,
    OPEN_REQUEST_STATES,
    DeclineReason,
    FollowUp,
    FollowUpKind,
    FollowUpState,
    Initiator,
    Meeting,
    MeetingMode,
    MeetingRequest,
    MeetingState,
    Message,
    NotificationKind,
    Person,
    Program,
    ProposedTime,
    RequestKind,
    RequestState,
    Skill,
)
from scheduling.services import modes
from scheduling.services.limits import check_meeting_limits, check_mentor_cap, check_pending_limit
from scheduling.services.skills import find_skill
from scheduling.services.transaction import retry_lost_races, unit_of_work
from scheduling.services.validation import current_time, enum_value, text, time_range

MAX_PROPOSED_TIMES = 5
TOPIC_MAX = 200
DESCRIPTION_MAX = 5000
LOCATION_MAX = 500
MESSAGE_MAX = 2000
GOALS_MAX = 2000


# --- who is who -------------------------------------------------------------------------------


def initiator_id(request: MeetingRequest) -> int:
    return request.mentee_id if request.initiated_by == Initiator.MENTEE else request.mentor_id


def answerer_id(request: MeetingRequest) -> int:
    return request.mentor_id if request.initiated_by == Initiator.MENTEE else request.mentee_id


def is_participant(request: MeetingRequest, person: Person) -> bool:
    return person.id in (request.mentee_id, request.mentor_id)


def allowed_actions(request: MeetingRequest, viewer: Person) -> list[str]:
    """What ``viewer`` may do with the request now (for UIs; the services check again)."""
    actions: list[str] = []
    if request.state == RequestState.PENDING:
        if viewer.id == answerer_id(request):
            actions += ["accept", "counter", "decline"]
        if viewer.id == initiator_id(request):
            actions.append("withdraw")
    elif request.state == RequestState.COUNTERED and viewer.id == initiator_id(request):
        actions += ["confirm", "withdraw"]
    if request.is_open and viewer.is_admin:
        actions.append("close")
    return actions


def counter_time(request: MeetingRequest) -> ProposedTime | None:
    """The answerer's counter-proposal, if there is one."""
    theirs = [p for p in request.proposed_times if p.proposed_by != request.initiated_by]
    return max(theirs, key=lambda p: p.id) if theirs else None


def initiator_times(request: MeetingRequest) -> list[ProposedTime]:
    return [p for p in request.proposed_times if p.proposed_by == request.initiated_by]


# When an open request expires is decided with the other timed rules, in one place.
auto_close_due_at = due_times.auto_close_at


# --- creating -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestDetails:
    """What a request is about and how to meet, checked (its people, times and limits are not)."""

    topic: str
    description: str
    goals: str
    skill: Skill | None
    mode: MeetingMode
    location: str
    kind: RequestKind


def detail_errors(
    session: Session,
    program: Program,
    mentor: Person,
    *,
    topic: str,
    description: str = "",
    mode: MeetingMode | str = MeetingMode.VIDEO,
    location: str = "",
    kind: RequestKind | str | None = None,
    skill: str | None = None,
    goals: str = "",
) -> tuple[RequestDetails | None, list[DomainError]]:
    """Every rule on a request's details, each refusal naming its field, in the order
    :func:`request_meeting` applies them: the details, or every refusal (a form shows them all
    at once; :func:`request_meeting` raises the first). ``kind`` None: the mentor's default."""
    values: dict[str, Any] = {}

    def where() -> None:
        if values.get("mode") == MeetingMode.IN_PERSON and "location" in values and not values["location"]:
            raise ValidationFailed("Say where to meet for an in-person meeting.", "location")

    def what_kind() -> RequestKind:
        if kind is None:
            chosen = modes.default_kind(program, mentor)
        else:
            chosen = enum_value(RequestKind, kind, "kind")
        modes.check_kind(program, mentor, chosen)
        return chosen

    checks: list[tuple[str, Callable[[], Any]]] = [
        ("topic", lambda: text(topic, "topic", max_length=TOPIC_MAX, required=True)),
        ("description", lambda: text(description, "description", max_length=DESCRIPTION_MAX)),
        ("goals", lambda: text(goals, "goals", max_length=GOALS_MAX)),
        ("skill", lambda: _catalogue_skill(session, skill)),
        ("mode", lambda: enum_value(MeetingMode, mode, "mode")),
        ("location", lambda: text(location, "location", max_length=LOCATION_MAX)),
        ("where", where),
        ("kind", what_kind),
    ]
    problems: list[DomainError] = []
    for name, check in checks:
        try:
            values[name] = check()
        except DomainError as exc:
            problems.append(exc)
    if problems:
        return None, problems
    del values["where"]
    return RequestDetails(**values), []


def check_details(session: Session, program: Program, mentor: Person, **details: Any) -> RequestDetails:
    """:func:`detail_errors`, raising the first refusal."""
    checked, problems = detail_errors(session, program, mentor, **details)
    if problems:
        raise problems[0]
    assert checked is not None
    return checked


@retry_lost_races
def request_meeting(
    session: Session,
    *,
    program: Program,
    mentee: Person,
    mentor: Person,
    topic: str,
    description: str = "",
    mode: MeetingMode | str = MeetingMode.VIDEO,
    location: str = "",
    times: list[tuple[datetime, datetime]],
    now: datetime | None = None,
    initiated_by: Initiator | str = Initiator.MENTEE,
    routed: bool = False,
    kind: RequestKind | str | None = None,
    skill: str | None = None,
    goals: str = "",
) -> MeetingRequest:
    """Create a pending request after checking every program rule for every proposed time.

    In an admin-routed program a mentee's request is made by the admin's assignment
    (``routed=True``, see ``services.routing``), never by the mentee directly. The limits
    are counted under both people's row locks: the mentee's serialises their pending
    requests and meetings, the mentor's their capacity. ``skill`` names a catalogue skill
    (any spelling or alias) the request is about; ``goals`` are what the mentee wants from it.
    """
    now = current_time(now)
    with unit_of_work(session):
        lock_people(session, mentee.id, mentor.id)
        initiated_by = enum_value(Initiator, initiated_by, "initiated_by")
        if not mentor.is_mentor or not mentor.active:
            raise NotAMentor(f"{mentor.name} is not an active mentor.", "mentor_id")
        if mentor.id == mentee.id:
            raise SelfRequest("You cannot request a meeting with yourself.", "mentor_id")
        if not mentee.is_mentee or not mentee.active:
            raise NotAMentee(f"{mentee.name} is not an active mentee.", "mentee_id")
        if initiated_by == Initiator.MENTOR and not program.mentors_may_create:
            raise MentorCreationNotAllowed("In this program only mentees can ask for meetings.")
        if initiated_by == Initiator.MENTEE and program.admin_routed and not routed:
            raise AdminRoutingRequired(
                "In this program an admin assigns mentors: send your preferred mentors instead.", "mentor_id"
            )
        details = check_details(session, program, mentor, topic=topic, description=description, mode=mode,
                                location=location, kind=kind, skill=skill, goals=goals)
        if initiated_by == Initiator.MENTEE and mentor.paused_at(now):
            raise MentorPaused(f"{mentor.name} is not taking requests until "
                               f"{mentor.paused_until:%Y-%m-%d}.", "mentor_id")
        slots = _proposed_times(times)
        if initiated_by == Initiator.MENTEE:
            check_pending_limit(session, program, mentee)
        for i, (start, end) in enumerate(slots):
            field = f"times[{i}]"
            with _field(field):
                check_bookable(session, program, mentor, mentee, start, end, now=now)
            check_meeting_limits(session, program, mentee, start, field=field)
            check_mentor_cap(session, mentor, start, field=field)

        request = MeetingRequest(
            program=program,
            mentee=mentee,
            mentor=mentor,
            initiated_by=initiated_by,
            kind=details.kind,
            topic=details.topic,
            description=details.description,
            skill_id=details.skill.id if details.skill is not None else None,
            goals=details.goals,
            mode=details.mode,
            location=details.location,
            state=RequestState.PENDING,
            created_at=now,
        )
        request.proposed_times = [
            ProposedTime(start_at=s, end_at=e, proposed_by=initiated_by) for s, e in sorted(slots)
        ]
        session.add(request)
        session.flush()
        record(session, RequestCreated(request.id))
        session.commit()
    return request


def _catalogue_skill(session: Session, name: str | None) -> Skill | None:
    """The catalogue skill a request names (None when it names none); an unknown name is refused."""
    if name is None or (isinstance(name, str) and not name.strip()):
        return None
    found = find_skill(session, name) if isinstance(name, str) else None
    if found is None:
        raise ValidationFailed(f"Unknown skill {name!r}: choose one from the skill catalogue.", "skill")
    return found


def goals_editable(request: MeetingRequest, now: datetime) -> bool:
    """The mentee states goals until the meeting starts (while the request is open or booked)."""
    if request.is_open:
        return True
    meeting = request.meeting
    return (request.state == RequestState.ACCEPTED and meeting is not None and meeting.is_active
            and meeting.start_at > now)


@retry_lost_races
def set_goals(
    session: Session, request: MeetingRequest, actor: Person, goals: str, *, now: datetime | None = None
) -> MeetingRequest:
    """The mentee states (or rewrites) what they want from the meeting, before it starts."""
    now = current_time(now)
    if actor.id != request.mentee_id:
        raise Forbidden("Only the mentee states the goals of the meeting.", "goals")
    cleaned = text(goals, "goals", max_length=GOALS_MAX)
    with unit_of_work(session):
        lock_people(session, request.mentee_id, request.mentor_id)
        lock_row(session, request)
        if not goals_editable(request, now):
            raise InvalidTransition("Goals are stated before the meeting: it has started, or the request "
                                    "is closed.", "goals")
        request.goals = cleaned
        if cleaned:
            notifications.notify(session, request.mentor_id, NotificationKind.MESSAGE,
                                 f"{actor.name} stated goals for “{request.topic}”",
                                 body=cleaned[:500], link=f"/requests/{request.id}", now=now)
        session.commit()
    return request


def _proposed_times(times: object) -> list[tuple[datetime, datetime]]:
    if not isinstance(times, list | tuple) or not times:
        raise ValidationFailed("Propose at least one time.", "times")
    if len(times) > MAX_PROPOSED_TIMES:
        raise ValidationFailed(f"Propose at most {MAX_PROPOSED_TIMES} times.", "times")
    slots: list[tuple[datetime, datetime]] = []
    for i, pair in enumerate(times):
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise ValidationFailed("Each time is a (start, end) pair.", f"times[{i}]")
        slot = time_range(pair[0], pair[1], f"times[{i}]")
        if slot in slots:
            raise ValidationFailed("The same time is proposed twice.", f"times[{i}]")
        slots.append(slot)
    return slots  # in the caller's order, so error fields (times[i]) point at what they sent


@contextmanager
def _field(field: str) -> Iterator[None]:
    """Attach ``field`` to a domain error raised without one (e.g. by check_bookable)."""
    try:
        yield
    except DomainError as exc:
        if exc.field is None:
            exc.field = field
        raise


@contextmanager
def _answer(
    session: Session,
    request: MeetingRequest,
    *,
    side_id: int | None,
    actor: Person | None,
    allowed: tuple[RequestState, ...],
    verb: str,
) -> Iterator[list[DomainEvent]]:
    """One answer to a request: check who and from which state, let the caller change it, commit.

    The caller sets the new state inside the block and may add events to the yielded list; they are
    recorded after ``RequestAnswered`` (with the new state) on the way out. Any error rolls all back.
    """
    with unit_of_work(session):
        if side_id is not None and actor is not None:
            _require_side(request, actor, side_id, verb)
        _lock(session, request)
        _require_state(request, allowed, verb)
        then: list[DomainEvent] = []
        yield then
        session.flush()
        for event in [RequestAnswered(request.id, request.state.value), *then]:
            record(session, event)
        session.commit()


# --- answering ----------------------------------------------------------------------------------


@retry_lost_races
def accept(
    session: Session,
    request: MeetingRequest,
    *,
    actor: Person,
    time_index: int | None = None,
    proposed_time_id: int | None = None,
    now: datetime | None = None,
) -> Meeting:
    """The answerer takes one of the proposed times; the meeting is booked in the same transaction."""
    now = current_time(now)
    with _answer(session, request, side_id=answerer_id(request), actor=actor,
                 allowed=(RequestState.PENDING,), verb="accept") as then:
        chosen = _choose(request, time_index, proposed_time_id)
        meeting = _book(session, request, chosen.start_at, chosen.end_at, now, field="time_id")
        request.state = RequestState.ACCEPTED
        request.answered_at = now
        request.closed_at = now
        then.append(MeetingScheduled(meeting.id))
    return meeting


@retry_lost_races
def counter(
    session: Session,
    request: MeetingRequest,
    *,
    actor: Person,
    start: datetime,
    end: datetime,
    message: str = "",
    now: datetime | None = None,
) -> MeetingRequest:
    """The answerer accepts in principle but at another time; the initiator then confirms or withdraws."""
    now = current_time(now)
    with _answer(session, request, side_id=answerer_id(request), actor=actor,
                 allowed=(RequestState.PENDING,), verb="counter"):
        start, end = time_range(start, end, "start")
        body = text(message, "message", max_length=MESSAGE_MAX)
        if any((p.start_at, p.end_at) == (start, end) for p in request.proposed_times):
            raise ValidationFailed("That time was already proposed; accept it instead.", "start")
        with _field("start"):  # not bound to the mentor's published slots (scheduling.counter_times)
            check_bookable(session, request.program, request.mentor, request.mentee, start, end, now=now,
                           exclude_request_id=request.id, within_availability=False)
        _check_no_overlap(session, request, start, end)
        check_meeting_limits(session, request.program, request.mentee, start, field="start")
        check_mentor_cap(session, request.mentor, start, field="start")

        side = Initiator.MENTOR if actor.id == request.mentor_id else Initiator.MENTEE
        request.proposed_times.append(ProposedTime(start_at=start, end_at=end, proposed_by=side))
        if body:
            session.add(Message(request_id=request.id, author_id=actor.id, body=body, created_at=now))
        request.state = RequestState.COUNTERED
        request.answered_at = now
    return request


@retry_lost_races
def confirm_counter(
    session: Session, request: MeetingRequest, *, actor: Person, now: datetime | None = None
) -> Meeting:
    """The initiator takes the counter-proposed time; the meeting is booked."""
    now = current_time(now)
    with _answer(session, request, side_id=initiator_id(request), actor=actor,
                 allowed=(RequestState.COUNTERED,), verb="confirm") as then:
        proposal = counter_time(request)
        if proposal is None:  # a countered request always has one; guard against hand-edited data
            raise InvalidTransition("This request has no counter-proposal to confirm.")
        meeting = _book(session, request, proposal.start_at, proposal.end_at, now, field=None,
                        within_availability=False)  # a counter-proposal: both free is what counts
        request.state = RequestState.ACCEPTED
        request.closed_at = now
        then.append(MeetingScheduled(meeting.id))
    return meeting


@retry_lost_races
def decline(
    session: Session,
    request: MeetingRequest,
    *,
    actor: Person,
    reason: DeclineReason | str,
    message: str = "",
    now: datetime | None = None,
) -> MeetingRequest:
    """Say no, with a reason from the list; the reason and message are shown to the mentee and admins."""
    now = current_time(now)
    with _answer(session, request, side_id=answerer_id(request), actor=actor,
                 allowed=(RequestState.PENDING,), verb="decline"):
        reason = enum_value(DeclineReason, reason, "reason")
        body = text(message, "message", max_length=MESSAGE_MAX)
        if reason == DeclineReason.OTHER and not body:
            raise ValidationFailed("Say why in a message when the reason is 'other'.", "message")
        request.state = RequestState.DECLINED
        request.decline_reason = reason
        request.decline_message = body
        request.answered_at = now
        request.closed_at = now
    return request


@retry_lost_races
def withdraw(
    session: Session, request: MeetingRequest, *, actor: Person, now: datetime | None = None
) -> MeetingRequest:
    """The initiator takes the request back (pending, or countered and the new time does not suit)."""
    now = current_time(now)
    with _answer(session, request, side_id=initiator_id(request), actor=actor,
                 allowed=OPEN_REQUEST_STATES, verb="withdraw"):
        request.state = RequestState.WITHDRAWN
        request.closed_at = now
    return request


@retry_lost_races
def expire(
    session: Session,
    request: MeetingRequest,
    *,
    now: datetime | None = None,
    by_admin: Person | None = None,
) -> MeetingRequest:
    """Close an open request nobody finished: the auto-close job (``by_admin=None``) or an admin."""
    now = current_time(now)
    if by_admin is not None and not by_admin.is_admin:
        raise Forbidden("Only an admin can close a request by hand.")
    with _answer(session, request, side_id=None, actor=None,
                 allowed=OPEN_REQUEST_STATES, verb="close"):
        request.state = RequestState.EXPIRED
        request.closed_at = now
    return request


# --- helpers ------------------------------------------------------------------------------------


def _require_side(request: MeetingRequest, actor: Person, allowed_id: int, verb: str) -> None:
    if actor.id == allowed_id:
        return
    if not is_participant(request, actor):
        raise NotParticipant("You are not part of this request.")
    side = "mentor" if allowed_id == request.mentor_id else "mentee"
    raise Forbidden(f"Only the {side} can {verb} this request.")


def _require_state(request: MeetingRequest, allowed: tuple[RequestState, ...], verb: str) -> None:
    if request.state not in allowed:
        raise InvalidTransition(f"Cannot {verb} a request that is {request.state.value}.")


def _lock(session: Session, request: MeetingRequest) -> None:
    """Serialise answers to one request, and bookings and limits of its two people.

    People, then the request (the order of ``scheduling.locks``). Re-reading under the
    lock means the state check below sees what another answer committed.
    """
    lock_people(session, request.mentor_id, request.mentee_id)
    lock_row(session, request)


def _choose(request: MeetingRequest, time_index: int | None, proposed_time_id: int | None) -> ProposedTime:
    times = initiator_times(request)
    if proposed_time_id is not None:
        for p in times:
            if p.id == proposed_time_id:
                return p
        raise ValidationFailed("That time is not one of the proposed times.", "time_id")
    index = 0 if time_index is None else time_index
    if not 0 <= index < len(times):
        raise ValidationFailed(f"Choose a time between 0 and {len(times) - 1}.", "time_id")
    return times[index]


def find_overlapping_meeting(
    session: Session,
    person_ids: tuple[int, ...],
    start: datetime,
    end: datetime,
    *,
    exclude_meeting_id: int | None = None,
) -> Meeting | None:
    """An active meeting of any of these people (on either side) overlapping [start, end)."""
    query = select(Meeting).where(
        Meeting.state.in_(ACTIVE_MEETING_STATES),
        or_(Meeting.mentor_id.in_(person_ids), Meeting.mentee_id.in_(person_ids)),
        Meeting.start_at < end,
        Meeting.end_at > start,
    )
    if exclude_meeting_id is not None:
        query = query.where(Meeting.id != exclude_meeting_id)
    return session.scalars(query.limit(1)).first()


def _check_no_overlap(
    session: Session,
    request: MeetingRequest,
    start: datetime,
    end: datetime,
    *,
    field: str | None = "start",
) -> None:
    clash = find_overlapping_meeting(session, (request.mentor_id, request.mentee_id), start, end)
    if clash is not None:
        who = request.mentor if request.mentor_id in (clash.mentor_id, clash.mentee_id) else request.mentee
        raise MeetingOverlap(f"{who.name} already has a meeting at that time.", field)


def new_meeting_uid() -> str:
    """Stable for the meeting's life: calendar writes and the iCalendar UID derive from it."""
    return f"meeting-{uuid.uuid4()}@flashmentor"


def _book(
    session: Session,
    request: MeetingRequest,
    start: datetime,
    end: datetime,
    now: datetime,
    *,
    field: str | None,
    within_availability: bool = True,
) -> Meeting:
    with _field(field or "start"):
        check_bookable(session, request.program, request.mentor, request.mentee, start, end, now=now,
                       exclude_request_id=request.id,  # its own holds are not in its way
                       within_availability=within_availability)
    _check_no_overlap(session, request, start, end, field=field)
    check_meeting_limits(session, request.program, request.mentee, start, field=field)
    check_mentor_cap(session, request.mentor, start, field=field)
    meeting = Meeting(
        request=request,
        program_id=request.program_id,
        mentor_id=request.mentor_id,
        mentee_id=request.mentee_id,
        start_at=start,
        end_at=end,
        state=MeetingState.SCHEDULED,
        topic=request.topic,
        mode=request.mode,
        location=request.location,
        uid=new_meeting_uid(),
        sequence=0,
        created_at=now,
        updated_at=now,
    )
    session.add(meeting)
    session.flush()
    if request.kind == RequestKind.ONGOING and len(modes.offered_kinds(request.program, request.mentor)) > 1:
        # Chosen over one meeting, a mentoring connection is agreed by accepting it. (In an
        # ongoing-only program both sides agree to continue after the first meeting, as before.)
        session.add(FollowUp(meeting_id=meeting.id, proposed_by_id=request.mentee_id,
                             kind=FollowUpKind.ONGOING, state=FollowUpState.ACCEPTED,
                             message="Asked for as a mentoring connection.", created_at=now, answered_at=now))
    return meeting


def waiting_for(session: Session, person: Person, *, limit: int = 20) -> list[MeetingRequest]:
    """Open requests whose next step is ``person``'s (answer one pending, confirm a counter), oldest first."""
    query = (
        select(MeetingRequest)
        .where(MeetingRequest.state.in_(OPEN_REQUEST_STATES),
               or_(MeetingRequest.mentee_id == person.id, MeetingRequest.mentor_id == person.id))
        .order_by(MeetingRequest.created_at, MeetingRequest.id)
    )
    waiting = []
    for req in session.scalars(query):
        mine = (answerer_id(req) if req.state == RequestState.PENDING else initiator_id(req)) == person.id
        if mine:
            waiting.append(req)
            if len(waiting) == limit:
                break
    return waiting
