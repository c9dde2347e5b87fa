"""What the API answers, as pydantic models the OpenAPI document shows (never used to build answers:
the schemathesis run in ``tests/test_openapi.py`` checks the answers against them)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from scheduling.models import AttendeeAnswer, MeetingMode, MeetingState, RequestState


class Out(BaseModel):
    """An answer object: the keys listed are always there; more may be added later."""

    model_config = ConfigDict(extra="allow")


class Moment(Out):
    utc: str | None
    local: str | None


class PersonSummary(Out):
    id: int
    name: str
    email: str
    time_zone: str


class FieldAnswer(Out):
    """An answer to one of the program's profile fields (``GET /api/v1/profile-fields``)."""

    id: int
    label: str
    value: str


class Profile(Out):
    """A person's profile; their own view (and an admin's) adds manager, cap, active, has_password.
    ``profile_fields``: their answers, in the fields' order; every field to themselves and admins,
    to others only the directory filters' answers (what the directory's mentor cards show)."""

    id: int
    name: str
    email: str
    department: str | None
    title: str | None
    time_zone: str
    roles: list[str]
    is_mentor: bool
    offers: list[Any]
    wants: list[Any]
    profile_fields: list[FieldAnswer]


class PersonAnswer(Out):
    person: Profile


class TimeRange(Out):
    start: str
    end: str
    start_local: str
    end_local: str


class ProposedTime(TimeRange):
    id: int
    proposed_by: str


class Request(Out):
    id: int
    state: RequestState
    initiated_by: str
    topic: str
    description: str
    skill: str | None
    goals: str
    mode: MeetingMode
    location: str | None
    mentee: PersonSummary
    mentor: PersonSummary
    proposed_times: list[ProposedTime]
    counter_time: ProposedTime | None
    decline_reason: str | None
    messages: list[dict[str, Any]]
    created_at: Moment
    meeting_id: int | None
    time_zone: str
    actions: list[str]


class ActionPlan(Out):
    text: str
    by_id: int
    at: Moment


class Meeting(TimeRange):
    id: int
    request_id: int
    state: MeetingState
    topic: str
    mode: MeetingMode
    join_url: str  # the video call's link ("" when there is none)
    mentee: PersonSummary
    mentor: PersonSummary
    uid: str
    sequence: int
    mentee_answer: AttendeeAnswer | None  # her answer to the invitation by mail (docs/calendars.md)
    skill: str | None
    goals: str
    action_plan: ActionPlan | None
    created_at: Moment
    actions: list[str]


class RequestList(Out):
    requests: list[Request]
    total: int


class MeetingList(Out):
    meetings: list[Meeting]
    total: int


class RequestAndMeeting(Out):
    request: Request
    meeting: Meeting


def wrapped(name: str, key: str, item: Any = dict[str, Any]) -> type[BaseModel]:
    """``{key: item}``: the many answers that wrap one object or list under one key."""
    from pydantic import create_model

    return create_model(name, __base__=Out, **{key: (item, ...)})  # type: ignore[call-overload]
