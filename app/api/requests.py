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

from app.api import bp, json_body
from app.api.listing import participant_rows
from app.api.params import (
    as_datetime,
    as_enum,
    as_int,
    as_str,
    required,
)
from app.auth import require_person, roles_required
from app.db import db
from scheduling.db import get_row
from scheduling.errors import Forbidden, NotFound, ValidationFailed
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
from scheduling.services.serialize import serialize_meeting, serialize_request


def current_program(body: dict[str, Any] | None = None) -> Program:
    """The program named in the body, else the (first) program of this installation."""
    session = db()
    if body and body.get("program_id") is not None:
        program = session.get(Program, as_int(body["program_id"], "program_id"))
        if program is None:
            raise NotFound("No such program.", "program_id")
        return program
    program = session.scalars(select(Program).order_by(Program.id).limit(1)).first()
    if program is None:
        raise NotFound("No mentoring program is set up yet.")
    return program


def load_person(person_id: Any, field: str) -> Person:
    person = db().get(Person, as_int(person_id, field))
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


def parse_times(value: Any) -> list[tuple[Any, Any]]:
    if not isinstance(value, list):
        raise ValidationFailed("times must be a list of {start, end} objects.", "times")
    times = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise ValidationFailed("Each time is an object with start and end.", f"times[{i}]")
        for key in ("start", "end"):
            if item.get(key) is None:
                raise ValidationFailed(f"{key} is required.", f"times[{i}].{key}")
        times.append(
            (as_datetime(item["start"], f"times[{i}].start"), as_datetime(item["end"], f"times[{i}].end"))
        )
    return times


@bp.post("/requests")
@roles_required("mentee", "mentor")
def create_request() -> Any:
    """A mentee asks a mentor (``mentor_id``); where the program allows it, a mentor may ask a
    mentee instead (``mentee_id``)."""
    me = require_person()
    body = json_body()
    program = current_program(body)
    if body.get("mentee_id") is not None and as_int(body["mentee_id"], "mentee_id") != me.id:
        if not me.is_mentor:
            raise Forbidden("Only mentors can ask a mentee for a meeting.", "mentee_id")
        mentee, mentor, initiated_by = load_person(body["mentee_id"], "mentee_id"), me, Initiator.MENTOR
    else:
        mentee, initiated_by = me, Initiator.MENTEE
        mentor = load_person(required(body, "mentor_id"), "mentor_id")
    req = svc.request_meeting(
        db(),
        program=program,
        mentee=mentee,
        mentor=mentor,
        topic=as_str(body.get("topic"), "topic"),
        description=as_str(body.get("description"), "description"),
        mode=as_enum(MeetingMode, body.get("mode", MeetingMode.VIDEO.value), "mode"),
        location=as_str(body.get("location"), "location"),
        times=parse_times(required(body, "times")),
        initiated_by=initiated_by,
    )
    return request_view(req, me), 201, {"Location": url_for("api.get_request", request_id=req.id)}


@bp.get("/requests")
def list_requests() -> Any:
    """My requests (as mentee or mentor); admins pass ``all=1`` to see everyone's."""
    me = require_person()
    rows, total = participant_rows(
        MeetingRequest, RequestState, me, noun="requests",
        order_by=(MeetingRequest.created_at.desc(), MeetingRequest.id.desc()),
        options=(
            selectinload(MeetingRequest.mentee),
            selectinload(MeetingRequest.mentor),
            selectinload(MeetingRequest.meeting),
        ),
    )
    return {"requests": [serialize_request(r, me) for r in rows], "total": total}


@bp.get("/requests/<int:request_id>")
def get_request(request_id: int) -> Any:
    me = require_person()
    return request_view(visible_request(request_id, me), me)


@bp.post("/requests/<int:request_id>/accept")
def accept_request(request_id: int) -> Any:
    me = require_person()
    body = json_body()
    req = visible_request(request_id, me)
    time_id = body.get("time_id")
    if time_id is None:
        if len(svc.initiator_times(req)) != 1:
            raise ValidationFailed("Choose one of the proposed times (time_id).", "time_id")
        meeting = svc.accept(db(), req, actor=me, time_index=0)
    else:
        meeting = svc.accept(db(), req, actor=me, proposed_time_id=as_int(time_id, "time_id"))
    return {"request": request_view(req, me), "meeting": serialize_meeting(meeting, me)}


@bp.post("/requests/<int:request_id>/counter")
def counter_request(request_id: int) -> Any:
    me = require_person()
    body = json_body()
    req = visible_request(request_id, me)
    start = as_datetime(required(body, "start"), "start")
    end = as_datetime(required(body, "end"), "end")
    svc.counter(db(), req, actor=me, start=start, end=end, message=as_str(body.get("message"), "message"))
    return request_view(req, me)


@bp.post("/requests/<int:request_id>/confirm")
def confirm_request(request_id: int) -> Any:
    me = require_person()
    json_body()
    req = visible_request(request_id, me)
    meeting = svc.confirm_counter(db(), req, actor=me)
    return {"request": request_view(req, me), "meeting": serialize_meeting(meeting, me)}


@bp.post("/requests/<int:request_id>/decline")
def decline_request(request_id: int) -> Any:
    me = require_person()
    body = json_body()
    req = visible_request(request_id, me)
    reason = as_enum(DeclineReason, required(body, "reason"), "reason")
    svc.decline(db(), req, actor=me, reason=reason, message=as_str(body.get("message"), "message"))
    return request_view(req, me)


@bp.post("/requests/<int:request_id>/withdraw")
def withdraw_request(request_id: int) -> Any:
    me = require_person()
    json_body()
    req = visible_request(request_id, me)
    svc.withdraw(db(), req, actor=me)
    return request_view(req, me)


@bp.post("/requests/<int:request_id>/close")
@roles_required("admin")
def close_request(request_id: int) -> Any:
    """An admin closes an open request by hand (it becomes ``expired``)."""
    me = require_person()
    json_body()
    req = get_row(db(), MeetingRequest, request_id)
    if req is None:
        abort(404, description="No such request.")
    svc.expire(db(), req, by_admin=me)
    return request_view(req, me)
