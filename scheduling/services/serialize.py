"""Plain-dict views of requests and meetings for one viewer.

Every time is given twice: in UTC (for programs) and in the viewer's own zone
(for people), so nobody has to convert a meeting time in their head.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo
from typing import Any

from scheduling import video
from scheduling.models import Meeting, MeetingRequest, Message, Person
from scheduling.services import meetings as meeting_service
from scheduling.services import requests as request_service
from scheduling.zones import zone_of


def utc_iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def local_iso(moment: datetime | None, zone: tzinfo) -> str | None:
    return None if moment is None else moment.astimezone(zone).isoformat()


def timestamp(moment: datetime | None, zone: tzinfo) -> dict[str, str | None]:
    return {"utc": utc_iso(moment), "local": local_iso(moment, zone)}


def time_range(start: datetime, end: datetime, viewer: Person) -> dict[str, Any]:
    zone = zone_of(viewer)
    return {
        "start": utc_iso(start),
        "end": utc_iso(end),
        "start_local": local_iso(start, zone),
        "end_local": local_iso(end, zone),
        "time_zone": str(zone),
    }


def person_summary(person: Person) -> dict[str, Any]:
    return {
        "id": person.id,
        "name": person.name,
        "email": person.email,
        "department": person.department,
        "title": person.title,
        "time_zone": person.time_zone,
    }


def serialize_request(
    request: MeetingRequest, viewer: Person, *, messages: Iterable[Message] = ()
) -> dict[str, Any]:
    zone = zone_of(viewer)
    counter = request_service.counter_time(request)
    return {
        "id": request.id,
        "state": request.state.value,
        "initiated_by": request.initiated_by.value,
        "topic": request.topic,
        "description": request.description,
        "skill": request.skill.name if request.skill is not None else None,
        "goals": request.goals,
        "mode": request.mode.value,
        "location": request.location,
        "mentee": person_summary(request.mentee),
        "mentor": person_summary(request.mentor),
        "proposed_times": [
            {"id": p.id, "proposed_by": p.proposed_by.value, **time_range(p.start_at, p.end_at, viewer)}
            for p in request_service.initiator_times(request)
        ],
        "counter_time": (
            None
            if counter is None
            else {
                "id": counter.id,
                "proposed_by": counter.proposed_by.value,
                **time_range(counter.start_at, counter.end_at, viewer),
            }
        ),
        "decline_reason": request.decline_reason.value if request.decline_reason else None,
        "decline_message": request.decline_message,
        "messages": [
            {"author_id": m.author_id, "body": m.body, "created_at": timestamp(m.created_at, zone)}
            for m in messages
        ],
        "created_at": timestamp(request.created_at, zone),
        "answered_at": timestamp(request.answered_at, zone),
        "closed_at": timestamp(request.closed_at, zone),
        "meeting_id": request.meeting.id if request.meeting is not None else None,
        "time_zone": str(zone),
        "actions": request_service.allowed_actions(request, viewer),
    }


def serialize_meeting(meeting: Meeting, viewer: Person) -> dict[str, Any]:
    zone = zone_of(viewer)
    return {
        "id": meeting.id,
        "request_id": meeting.request_id,
        "state": meeting.state.value,
        "topic": meeting.topic,
        "mode": meeting.mode.value,
        "location": meeting.location,
        "join_url": video.join_url(meeting),
        "mentee": person_summary(meeting.mentee),
        "mentor": person_summary(meeting.mentor),
        **time_range(meeting.start_at, meeting.end_at, viewer),
        "uid": meeting.uid,
        "sequence": meeting.sequence,
        "skill": meeting.request.skill.name if meeting.request.skill is not None else None,
        "goals": meeting.request.goals,
        "action_plan": None if not meeting.action_plan else {
            "text": meeting.action_plan, "by_id": meeting.action_plan_by_id,
            "at": timestamp(meeting.action_plan_at, zone),
        },
        "canceled_by_id": meeting.canceled_by_id,
        "cancel_reason": meeting.cancel_reason,
        # The mentee's answer to the app's invitation by mail (accepted | tentative | declined | None).
        "mentee_answer": meeting.mentee_answer.value if meeting.mentee_answer else None,
        "created_at": timestamp(meeting.created_at, zone),
        "actions": meeting_service.allowed_actions(meeting, viewer),
    }
