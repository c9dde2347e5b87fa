"""Meetings: list, read, cancel, reschedule. Visible to the two participants and admins only."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import selectinload

from app.api import bp
from app.api.fields import Input, Text, When, one_of
from app.api.listing import ParticipantQuery, participant_rows
from app.api.operations import operation
from app.api.responses import Meeting as MeetingOut
from app.api.responses import MeetingList
from app.auth import require_person
from app.db import db
from scheduling.db import get_row
from scheduling.errors import NotFound
from scheduling.models import Meeting, MeetingState, Person
from scheduling.services import action_plans
from scheduling.services import meetings as svc
from scheduling.services.serialize import serialize_meeting


class MeetingQuery(ParticipantQuery):
    state: one_of(MeetingState) | None = None  # type: ignore[valid-type]


class CancelIn(Input):
    reason: Text = ""


class ActionPlanIn(Input):
    action_plan: Text = ""


class RescheduleIn(Input):
    start: When
    end: When


def visible_meeting(meeting_id: int, viewer: Person) -> Meeting:
    meeting = get_row(db(), Meeting, meeting_id)
    if meeting is None or not (viewer.is_admin or svc.is_participant(meeting, viewer)):
        raise NotFound("No such meeting.")
    return meeting


@bp.get("/meetings")
@operation("My meetings, soonest first; admins pass all=1 to see everyone's.", ok=MeetingList,
           query=MeetingQuery)
def list_meetings(query: MeetingQuery) -> Any:
    """My meetings, soonest first; admins pass ``all=1`` (and filters) to see everyone's."""
    me = require_person()
    rows, total = participant_rows(
        Meeting, query, me, noun="meetings", order_by=(Meeting.start_at, Meeting.id),
        options=(selectinload(Meeting.mentee), selectinload(Meeting.mentor)),
    )
    return {"meetings": [serialize_meeting(m, me) for m in rows], "total": total}


@bp.get("/meetings/<int:meeting_id>")
@operation("One meeting.", ok=MeetingOut)
def get_meeting(meeting_id: int) -> Any:
    me = require_person()
    return serialize_meeting(visible_meeting(meeting_id, me), me)


@bp.post("/meetings/<int:meeting_id>/cancel")
@operation("Cancel a meeting.", ok=MeetingOut, body=CancelIn)
def cancel_meeting(meeting_id: int, body: CancelIn) -> Any:
    me = require_person()
    meeting = visible_meeting(meeting_id, me)
    svc.cancel(db(), meeting, actor=me, reason=body.reason)
    return serialize_meeting(meeting, me)


@bp.post("/meetings/<int:meeting_id>/reschedule")
@operation("Move a meeting.", ok=MeetingOut, body=RescheduleIn)
def reschedule_meeting(meeting_id: int, body: RescheduleIn) -> Any:
    me = require_person()
    meeting = visible_meeting(meeting_id, me)
    svc.reschedule(db(), meeting, actor=me, start=body.start, end=body.end)
    return serialize_meeting(meeting, me)


@bp.put("/meetings/<int:meeting_id>/action-plan")
@operation("Record (or rewrite) the next step both sides agreed on, after the meeting; both are reminded "
           "of it later.", ok=MeetingOut, body=ActionPlanIn)
def put_action_plan(meeting_id: int, body: ActionPlanIn) -> Any:
    me = require_person()
    meeting = visible_meeting(meeting_id, me)
    action_plans.record_plan(db(), meeting, me, body.action_plan)
    return serialize_meeting(meeting, me)
