"""Around a meeting: the message thread, proposals to continue, skill re-assessments, matching figures.

Threads belong to a request (a meeting's thread is its request's): the mentee and
the mentor write, admins read, anyone else gets 404. Re-assessments are confirmed by
the person's manager or an admin.
"""

from __future__ import annotations

from typing import Any

from flask import request

from app.api import bp, json_body
from app.api.meetings import visible_meeting
from app.api.params import as_datetime, as_int, as_str, fits_id, query_flag, required
from app.api.requests import parse_times
from app.auth import require_person, roles_required
from app.db import db
from scheduling.errors import NotFound, ValidationFailed
from scheduling.services import followups, messages
from scheduling.services.program import get_program


def _request_id(request_id: int) -> int:
    if not fits_id(request_id):
        raise NotFound("No such request.")
    return request_id


@bp.get("/requests/<int:request_id>/messages")
def request_messages(request_id: int) -> Any:
    me = require_person()
    found = messages.thread(db(), _request_id(request_id), me)
    return {"request_id": request_id, "messages": [messages.message_view(m, me) for m in found]}


@bp.post("/requests/<int:request_id>/messages")
def request_message_post(request_id: int) -> Any:
    me = require_person()
    body = json_body()
    message = messages.post_message(db(), _request_id(request_id), me, as_str(required(body, "body"), "body"))
    return {"message": messages.message_view(message, me)}, 201


@bp.get("/meetings/<int:meeting_id>/messages")
def meeting_messages(meeting_id: int) -> Any:
    me = require_person()
    meeting = visible_meeting(meeting_id, me)
    found = messages.thread(db(), meeting.request_id, me)
    return {"request_id": meeting.request_id, "messages": [messages.message_view(m, me) for m in found]}


@bp.post("/meetings/<int:meeting_id>/messages")
def meeting_message_post(meeting_id: int) -> Any:
    me = require_person()
    body = json_body()
    meeting = visible_meeting(meeting_id, me)
    message = messages.post_message(db(), meeting.request_id, me, as_str(required(body, "body"), "body"))
    return {"message": messages.message_view(message, me)}, 201


# ---------------------------------------------------------------- continuing after a meeting


@bp.get("/meetings/<int:meeting_id>/follow-ups")
def meeting_follow_ups(meeting_id: int) -> Any:
    meeting = visible_meeting(meeting_id, require_person())
    return {"follow_ups": [followups.follow_up_view(f) for f in followups.follow_ups_of(db(), meeting)]}


@bp.post("/meetings/<int:meeting_id>/follow-ups")
def meeting_follow_up_propose(meeting_id: int) -> Any:
    """``{"kind": "ongoing" | "follow_up", "message", "times": [{start, end}] (follow_up), "topic"}``."""
    me = require_person()
    body = json_body()
    meeting = visible_meeting(meeting_id, me)
    times = parse_times(body["times"]) if body.get("times") is not None else None
    follow = followups.propose(db(), meeting, me, as_str(required(body, "kind"), "kind"),
                               message=as_str(body.get("message"), "message"), times=times,
                               topic=as_str(body.get("topic"), "topic") or None)
    return {"follow_up": followups.follow_up_view(follow)}, 201


@bp.post("/follow-ups/<int:follow_up_id>/<any(accept, decline):answer>")
def follow_up_answer(follow_up_id: int, answer: str) -> Any:
    me = require_person()
    json_body()
    session = db()
    follow = followups.answer(session, followups.get_follow_up(session, follow_up_id, me), me,
                              accept=answer == "accept")
    return {"follow_up": followups.follow_up_view(follow)}


# ---------------------------------------------------------------- re-assessing a skill


@bp.post("/reassessments")
def reassessment_create() -> Any:
    """``{"skill", "level", "meeting_id"?}``: my new level, for my manager to confirm."""
    me = require_person()
    body = json_body()
    meeting_id = as_int(body["meeting_id"], "meeting_id") if body.get("meeting_id") is not None else None
    skill, level = required(body, "skill"), required(body, "level")
    row = followups.reassess(db(), me, skill, level, meeting_id=meeting_id)
    return {"reassessment": followups.reassessment_view(row)}, 201


@bp.get("/reassessments")
def reassessment_list() -> Any:
    """Mine, or (``to_confirm=1``) the pending ones of the people I manage (all, for admins)."""
    me = require_person()
    rows = followups.reassessments_for(db(), me, to_confirm=query_flag("to_confirm"))
    return {"reassessments": [followups.reassessment_view(r) for r in rows]}


@bp.post("/reassessments/<int:reassessment_id>/<any(confirm, reject):answer>")
def reassessment_decide(reassessment_id: int, answer: str) -> Any:
    me = require_person()
    json_body()
    session = db()
    row = followups.get_reassessment(session, reassessment_id, me)
    followups.decide(session, row, me, confirm=answer == "confirm")
    return {"reassessment": followups.reassessment_view(row)}


# ---------------------------------------------------------------- figures for reports


@bp.get("/reports/matching")
@roles_required("admin")
def matching_report() -> Any:
    """Messages written and skill changes confirmed after meetings (``from``/``to`` optional)."""
    session = db()
    program = get_program(session)
    start = as_datetime(request.args["from"], "from") if request.args.get("from") else None
    end = as_datetime(request.args["to"], "to") if request.args.get("to") else None
    if start is not None and end is not None and end <= start:
        raise ValidationFailed("to must be after from.", "to")
    return {
        "messages": messages.message_counts(session, program, start=start, end=end),
        "skill_changes": followups.skill_changes(session, program, start=start, end=end),
    }
