"""Meetings: list, read, cancel, reschedule. Visible to the two participants and admins only."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import selectinload

from app.api import bp, json_body
from app.api.listing import participant_rows
from app.api.params import as_datetime, as_str, required
from app.auth import require_person
from app.db import db
from scheduling.db import get_row
from scheduling.errors import NotFound
from scheduling.models import Meeting, MeetingState, Person
from scheduling.services import meetings as svc
from scheduling.services.serialize import serialize_meeting


def visible_meeting(meeting_id: int, viewer: Person) -> Meeting:
    meeting = get_row(db(), Meeting, meeting_id)
    if meeting is None or not (viewer.is_admin or svc.is_participant(meeting, viewer)):
        raise NotFound("No such meeting.")
    return meeting


@bp.get("/meetings")
def list_meetings() -> Any:
    """My meetings, soonest first; admins pass ``all=1`` (and filters) to see everyone's."""
    me = require_person()
    rows, total = participant_rows(
        Meeting, MeetingState, me, noun="meetings", order_by=(Meeting.start_at, Meeting.id),
        options=(selectinload(Meeting.mentee), selectinload(Meeting.mentor)),
    )
    return {"meetings": [serialize_meeting(m, me) for m in rows], "total": total}


@bp.get("/meetings/<int:meeting_id>")
def get_meeting(meeting_id: int) -> Any:
    me = require_person()
    return serialize_meeting(visible_meeting(meeting_id, me), me)


@bp.post("/meetings/<int:meeting_id>/cancel")
def cancel_meeting(meeting_id: int) -> Any:
    me = require_person()
    body = json_body()
    meeting = visible_meeting(meeting_id, me)
    svc.cancel(db(), meeting, actor=me, reason=as_str(body.get("reason"), "reason"))
    return serialize_meeting(meeting, me)


@bp.post("/meetings/<int:meeting_id>/reschedule")
def reschedule_meeting(meeting_id: int) -> Any:
    me = require_person()
    body = json_body()
    meeting = visible_meeting(meeting_id, me)
    start = as_datetime(required(body, "start"), "start")
    end = as_datetime(required(body, "end"), "end")
    svc.reschedule(db(), meeting, actor=me, start=start, end=end)
    return serialize_meeting(meeting, me)
