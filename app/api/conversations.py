"""Around a meeting: the message thread, proposals to continue, skill re-assessments, matching figures.

Threads belong to a request (a meeting's thread is its request's): the mentee and
the mentor write, admins read, anyone else gets 404. Re-assessments are confirmed by
the person's manager or an admin.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from app.api import bp
from app.api.fields import AnyObject, Flag, Given, Id, Input, Text, When
from app.api.inputs import NoFields, TimeIn, time_pairs
from app.api.meetings import visible_meeting
from app.api.operations import operation
from app.api.params import fits_id
from app.api.responses import Out, wrapped
from app.auth import require_person, roles_required
from app.db import db
from scheduling.errors import NotFound, ValidationFailed
from scheduling.services import followups, messages
from scheduling.services.program import get_program


class MessageIn(Input):
    body: Text


class FollowUpIn(Input):
    kind: Text
    message: Text = ""
    times: list[TimeIn] | None = None
    topic: Text = ""


class ReassessIn(Input):
    skill: Given
    level: Given
    meeting_id: Id | None = None


class ReassessmentQuery(Input):
    to_confirm: Flag = False


class MatchingReportQuery(Input):
    from_: When | None = Field(None, alias="from")
    to: When | None = None


class Thread(Out):
    request_id: int
    messages: list[dict[str, Any]]


MessageOut = wrapped("MessageAnswer", "message")
FollowUps = wrapped("FollowUps", "follow_ups", list[dict[str, Any]])
FollowUpOut = wrapped("FollowUpAnswer", "follow_up")
Reassessments = wrapped("Reassessments", "reassessments", list[dict[str, Any]])
ReassessmentOut = wrapped("ReassessmentAnswer", "reassessment")


class MatchingReport(Out):
    messages: AnyObject
    skill_changes: Any


def _request_id(request_id: int) -> int:
    if not fits_id(request_id):
        raise NotFound("No such request.")
    return request_id


@bp.get("/requests/<int:request_id>/messages")
@operation("A request's message thread.", ok=Thread)
def request_messages(request_id: int) -> Any:
    me = require_person()
    found = messages.thread(db(), _request_id(request_id), me)
    return {"request_id": request_id, "messages": [messages.message_view(m, me) for m in found]}


@bp.post("/requests/<int:request_id>/messages")
@operation("Write in a request's thread.", ok={201: MessageOut}, body=MessageIn)
def request_message_post(request_id: int, body: MessageIn) -> Any:
    me = require_person()
    message = messages.post_message(db(), _request_id(request_id), me, body.body)
    return {"message": messages.message_view(message, me)}, 201


@bp.get("/meetings/<int:meeting_id>/messages")
@operation("A meeting's message thread (its request's).", ok=Thread)
def meeting_messages(meeting_id: int) -> Any:
    me = require_person()
    meeting = visible_meeting(meeting_id, me)
    found = messages.thread(db(), meeting.request_id, me)
    return {"request_id": meeting.request_id, "messages": [messages.message_view(m, me) for m in found]}


@bp.post("/meetings/<int:meeting_id>/messages")
@operation("Write in a meeting's thread.", ok={201: MessageOut}, body=MessageIn)
def meeting_message_post(meeting_id: int, body: MessageIn) -> Any:
    me = require_person()
    meeting = visible_meeting(meeting_id, me)
    message = messages.post_message(db(), meeting.request_id, me, body.body)
    return {"message": messages.message_view(message, me)}, 201


# ---------------------------------------------------------------- continuing after a meeting


@bp.get("/meetings/<int:meeting_id>/follow-ups")
@operation("Proposals to continue after a meeting.", ok=FollowUps)
def meeting_follow_ups(meeting_id: int) -> Any:
    meeting = visible_meeting(meeting_id, require_person())
    return {"follow_ups": [followups.follow_up_view(f) for f in followups.follow_ups_of(db(), meeting)]}


@bp.post("/meetings/<int:meeting_id>/follow-ups")
@operation("Propose to continue: kind ongoing, or follow_up with times.", ok={201: FollowUpOut},
           body=FollowUpIn)
def meeting_follow_up_propose(meeting_id: int, body: FollowUpIn) -> Any:
    """``{"kind": "ongoing" | "follow_up", "message", "times": [{start, end}] (follow_up), "topic"}``."""
    me = require_person()
    meeting = visible_meeting(meeting_id, me)
    follow = followups.propose(db(), meeting, me, body.kind, message=body.message,
                               times=time_pairs(body.times), topic=body.topic or None)
    return {"follow_up": followups.follow_up_view(follow)}, 201


@bp.post("/follow-ups/<int:follow_up_id>/<any(accept, decline):answer>")
@operation("Accept or decline a proposal to continue.", ok=FollowUpOut, body=NoFields)
def follow_up_answer(follow_up_id: int, answer: str, body: NoFields) -> Any:
    me = require_person()
    session = db()
    follow = followups.answer(session, followups.get_follow_up(session, follow_up_id, me), me,
                              accept=answer == "accept")
    return {"follow_up": followups.follow_up_view(follow)}


# ---------------------------------------------------------------- re-assessing a skill


@bp.post("/reassessments")
@operation("My new level of a skill, for my manager to confirm.", ok={201: ReassessmentOut}, body=ReassessIn)
def reassessment_create(body: ReassessIn) -> Any:
    """``{"skill", "level", "meeting_id"?}``: my new level, for my manager to confirm."""
    me = require_person()
    row = followups.reassess(db(), me, body.skill, body.level, meeting_id=body.meeting_id)
    return {"reassessment": followups.reassessment_view(row)}, 201


@bp.get("/reassessments")
@operation("Mine, or (to_confirm=1) the ones waiting for me.", ok=Reassessments, query=ReassessmentQuery)
def reassessment_list(query: ReassessmentQuery) -> Any:
    """Mine, or (``to_confirm=1``) the pending ones of the people I manage (all, for admins)."""
    me = require_person()
    rows = followups.reassessments_for(db(), me, to_confirm=query.to_confirm)
    return {"reassessments": [followups.reassessment_view(r) for r in rows]}


@bp.post("/reassessments/<int:reassessment_id>/<any(confirm, reject):answer>")
@operation("Confirm or reject a re-assessment (manager or admin).", ok=ReassessmentOut, body=NoFields)
def reassessment_decide(reassessment_id: int, answer: str, body: NoFields) -> Any:
    me = require_person()
    session = db()
    row = followups.get_reassessment(session, reassessment_id, me)
    followups.decide(session, row, me, confirm=answer == "confirm")
    return {"reassessment": followups.reassessment_view(row)}


# ---------------------------------------------------------------- figures for reports


@bp.get("/reports/matching")
@roles_required("admin")
@operation("Messages written and skill changes confirmed after meetings.", ok=MatchingReport,
           query=MatchingReportQuery)
def matching_report(query: MatchingReportQuery) -> Any:
    """Messages written and skill changes confirmed after meetings (``from``/``to`` optional)."""
    session = db()
    program = get_program(session)
    start, end = query.from_, query.to
    if start is not None and end is not None and end <= start:
        raise ValidationFailed("to must be after from.", "to")
    return {
        "messages": messages.message_counts(session, program, start=start, end=end),
        "skill_changes": followups.skill_changes(session, program, start=start, end=end),
    }
