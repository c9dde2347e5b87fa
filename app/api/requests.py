"""Meeting requests: create, list, read, and every transition of the state machine.

Routes only parse input and pick the objects; :mod:`scheduling.services.requests`
decides. A request is visible to its mentee, its mentor and admins; to anyone
else it does not exist (404), so mentees never learn of each other's requests.
"""

from __future__ import annotations

from typing import Any

from flask import abort, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.api import bp
from app.api.fields import Id, Input, Text, When, one_of
from app.api.inputs import NoFields, TimeIn, time_pairs
from app.api.listing import ParticipantQuery, participant_rows
from app.api.operations import operation
from app.api.responses import Request, RequestAndMeeting, RequestList
from app.auth import require_person, roles_required
from app.db import db
from scheduling.db import get_row
from scheduling.errors import Forbidden, NotFound, ValidationFailed
from scheduling.mentor_visibility import may_see_mentor
from scheduling.models import (
    DeclineReason,
    Initiator,
    MeetingMode,
    MeetingRequest,
    Message,
    Person,
    Program,
    RequestState,
)
from scheduling.services import requests as svc
from scheduling.services.program import get_program
from scheduling.services.serialize import serialize_meeting, serialize_request


class NewRequest(Input):
    """``mentor_id`` (a mentee asks) or ``mentee_id`` (a mentor asks, where the program allows)."""

    mentor_id: Id | None = None
    mentee_id: Id | None = None
    program_id: Id | None = None
    topic: Text = ""
    description: Text = ""
    mode: one_of(MeetingMode) = MeetingMode.VIDEO  # type: ignore[valid-type]
    location: Text = ""
    times: list[TimeIn]
    skill: Text = ""  # a catalogue skill (any spelling or alias) the request is about
    goals: Text = ""  # what the mentee wants from the meeting


class GoalsIn(Input):
    goals: Text = ""


class AcceptIn(Input):
    time_id: Id | None = None


class CounterIn(Input):
    start: When
    end: When
    message: Text = ""


class DeclineIn(Input):
    reason: one_of(DeclineReason)  # type: ignore[valid-type]
    message: Text = ""


class RequestQuery(ParticipantQuery):
    state: one_of(RequestState) | None = None  # type: ignore[valid-type]


def current_program(program_id: int | None = None) -> Program:
    """The program named in the body, else the (first) program of this installation."""
    session = db()
    if program_id is not None:
        program = session.get(Program, program_id)
        if program is None:
            raise NotFound("No such program.", "program_id")
        return program
    return get_program(session)


def load_person(person_id: int, field: str) -> Person:
    person = db().get(Person, person_id)
    if person is None or not person.active:
        raise NotFound("No such person.", field)
    return person


def visible_request(request_id: int, viewer: Person) -> MeetingRequest:
    req = get_row(db(), MeetingRequest, request_id)
    if req is None or not (viewer.is_admin or svc.is_participant(req, viewer)):
        raise NotFound("No such request.")
    return req


def request_view(req: MeetingRequest, viewer: Person) -> dict[str, Any]:
    messages = db().scalars(
        select(Message).where(Message.request_id == req.id).order_by(Message.created_at, Message.id)
    )
    return serialize_request(req, viewer, messages=list(messages))


@bp.post("/requests")
@roles_required("mentee", "mentor")
@operation("Ask for a meeting.", ok={201: Request}, body=NewRequest)
def create_request(body: NewRequest) -> Any:
    """A mentee asks a mentor (``mentor_id``); where the program allows it, a mentor may ask a
    mentee instead (``mentee_id``)."""
    me = require_person()
    program = current_program(body.program_id)
    if body.mentee_id is not None and body.mentee_id != me.id:
        if not me.is_mentor:
            raise Forbidden("Only mentors can ask a mentee for a meeting.", "mentee_id")
        mentee, mentor, initiated_by = load_person(body.mentee_id, "mentee_id"), me, Initiator.MENTOR
    else:
        if body.mentor_id is None:
            raise ValidationFailed("mentor_id is required.", "mentor_id")
        mentee, initiated_by = me, Initiator.MENTEE
        mentor = load_person(body.mentor_id, "mentor_id")
        if mentor.is_mentor and not may_see_mentor(db(), program, me, mentor.id):  # hidden: as the form
            raise NotFound("No such person.", "mentor_id")
    req = svc.request_meeting(
        db(),
        program=program,
        mentee=mentee,
        mentor=mentor,
        topic=body.topic,
        description=body.description,
        mode=body.mode,
        location=body.location,
        times=time_pairs(body.times),
        initiated_by=initiated_by,
        skill=body.skill or None,
        goals=body.goals,
    )
    return request_view(req, me), 201, {"Location": url_for("api.get_request", request_id=req.id)}


@bp.get("/requests")
@operation("My requests (as mentee or mentor); admins pass all=1 to see everyone's.", ok=RequestList,
           query=RequestQuery)
def list_requests(query: RequestQuery) -> Any:
    """My requests (as mentee or mentor); admins pass ``all=1`` to see everyone's."""
    me = require_person()
    rows, total = participant_rows(
        MeetingRequest, query, me, noun="requests",
        order_by=(MeetingRequest.created_at.desc(), MeetingRequest.id.desc()),
        options=(
            selectinload(MeetingRequest.mentee),
            selectinload(MeetingRequest.mentor),
            selectinload(MeetingRequest.meeting),
        ),
    )
    return {"requests": [serialize_request(r, me) for r in rows], "total": total}


@bp.get("/requests/<int:request_id>")
@operation("One request with its thread.", ok=Request)
def get_request(request_id: int) -> Any:
    me = require_person()
    return request_view(visible_request(request_id, me), me)


@bp.post("/requests/<int:request_id>/accept")
@operation("Accept one of the proposed times (time_id; may be left out when there is one).",
           ok=RequestAndMeeting, body=AcceptIn)
def accept_request(request_id: int, body: AcceptIn) -> Any:
    me = require_person()
    req = visible_request(request_id, me)
    time_id = body.time_id
    if time_id is None:
        if len(svc.initiator_times(req)) != 1:
            raise ValidationFailed("Choose one of the proposed times (time_id).", "time_id")
        meeting = svc.accept(db(), req, actor=me, time_index=0)
    else:
        meeting = svc.accept(db(), req, actor=me, proposed_time_id=time_id)
    return {"request": request_view(req, me), "meeting": serialize_meeting(meeting, me)}


@bp.put("/requests/<int:request_id>/goals")
@operation("The mentee states (or rewrites) their goals for the meeting, until it starts.", ok=Request,
           body=GoalsIn)
def put_request_goals(request_id: int, body: GoalsIn) -> Any:
    me = require_person()
    req = visible_request(request_id, me)
    svc.set_goals(db(), req, me, body.goals)
    return request_view(req, me)


@bp.post("/requests/<int:request_id>/counter")
@operation("Propose another time.", ok=Request, body=CounterIn)
def counter_request(request_id: int, body: CounterIn) -> Any:
    me = require_person()
    req = visible_request(request_id, me)
    svc.counter(db(), req, actor=me, start=body.start, end=body.end, message=body.message)
    return request_view(req, me)


@bp.post("/requests/<int:request_id>/confirm")
@operation("Take the counter-proposed time.", ok=RequestAndMeeting, body=NoFields)
def confirm_request(request_id: int, body: NoFields) -> Any:
    me = require_person()
    req = visible_request(request_id, me)
    meeting = svc.confirm_counter(db(), req, actor=me)
    return {"request": request_view(req, me), "meeting": serialize_meeting(meeting, me)}


@bp.post("/requests/<int:request_id>/decline")
@operation("Decline, with a reason.", ok=Request, body=DeclineIn)
def decline_request(request_id: int, body: DeclineIn) -> Any:
    me = require_person()
    req = visible_request(request_id, me)
    svc.decline(db(), req, actor=me, reason=body.reason, message=body.message)
    return request_view(req, me)


@bp.post("/requests/<int:request_id>/withdraw")
@operation("Withdraw my request.", ok=Request, body=NoFields)
def withdraw_request(request_id: int, body: NoFields) -> Any:
    me = require_person()
    req = visible_request(request_id, me)
    svc.withdraw(db(), req, actor=me)
    return request_view(req, me)


@bp.post("/requests/<int:request_id>/close")
@roles_required("admin")
@operation("Close an open request by hand (admins).", ok=Request, body=NoFields)
def close_request(request_id: int, body: NoFields) -> Any:
    """An admin closes an open request by hand (it becomes ``expired``)."""
    me = require_person()
    req = get_row(db(), MeetingRequest, request_id)
    if req is None:
        abort(404, description="No such request.")
    svc.expire(db(), req, by_admin=me)
    return request_view(req, me)
