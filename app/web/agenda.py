"""My week: meetings and the times of open requests, day by day in my own time zone.

The meetings list says what is booked; this view says what a week looks like, including the times
still waiting for an answer (and whose answer), so a person sees at a glance where a request would
land next to the meetings they already have.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import MAXYEAR, MINYEAR, date, datetime, timedelta
from typing import Any

from flask import render_template, request, url_for
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from app.db import db
from app.web import bp
from app.web.common import local, local_midnight, me, signed_in, week_start, zone_name
from app.web.meetings import STATE_LABELS
from scheduling.db import utcnow
from scheduling.errors import ValidationFailed
from scheduling.models import Meeting, MeetingRequest, Person, RequestState
from scheduling.models.requests import OPEN_REQUEST_STATES
from scheduling.services import requests as requests_svc

OPEN_REQUESTS_SHOWN = 200  # a person has a handful; the bound keeps a pathological account cheap


@dataclass(frozen=True)
class AgendaItem:
    """One entry of a day: a meeting, or a time an open request proposes."""

    start: datetime
    end: datetime
    kind: str  # "meeting" | "request"
    topic: str
    other: Person
    url: str
    status: str  # what it is now, in words
    needs_me: bool = False  # the next step is the viewer's


@dataclass(frozen=True)
class AgendaDay:
    day: date
    label: str
    items: list[AgendaItem]
    today: bool


def parse_monday(raw: str | None, viewer: Person) -> date:
    """The Monday of the week asked for (any day of it, ``YYYY-MM-DD``), else of this week."""
    if not raw:
        return week_start(local(utcnow(), viewer).date())  # type: ignore[union-attr]
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed("Give the week as a date, like 2030-01-07.", "week") from None
    if not MINYEAR < day.year < MAXYEAR:
        raise ValidationFailed("That week is out of range.", "week")
    return week_start(day)


def _meeting_items(viewer: Person, start: datetime, end: datetime) -> list[AgendaItem]:
    rows = db().scalars(
        select(Meeting)
        .options(selectinload(Meeting.mentee), selectinload(Meeting.mentor))
        .where(or_(Meeting.mentee_id == viewer.id, Meeting.mentor_id == viewer.id),
               Meeting.start_at < end, Meeting.end_at > start)
    )
    return [AgendaItem(m.start_at, m.end_at, "meeting", m.topic,
                       m.mentor if m.mentee_id == viewer.id else m.mentee,
                       url_for("web.meeting_detail", meeting_id=m.id), STATE_LABELS[m.state])
            for m in rows]


def _request_items(viewer: Person, start: datetime, end: datetime) -> list[AgendaItem]:
    rows = db().scalars(
        select(MeetingRequest)
        .options(selectinload(MeetingRequest.mentee), selectinload(MeetingRequest.mentor))
        .where(MeetingRequest.state.in_(OPEN_REQUEST_STATES),
               or_(MeetingRequest.mentee_id == viewer.id, MeetingRequest.mentor_id == viewer.id))
        .order_by(MeetingRequest.id)
        .limit(OPEN_REQUESTS_SHOWN)
    )
    items = []
    for req in rows:
        countered = req.state == RequestState.COUNTERED
        counter = requests_svc.counter_time(req)
        times = [counter] if countered and counter else requests_svc.initiator_times(req)
        next_step = requests_svc.initiator_id(req) if countered else requests_svc.answerer_id(req)
        other = req.mentor if req.mentee_id == viewer.id else req.mentee
        needs_me = next_step == viewer.id
        if countered:
            status = ("Other time proposed: confirm or decline" if needs_me
                      else f"You proposed it; {other.name} confirms")
        else:
            status = "Proposed: answer the request" if needs_me else f"Proposed: waiting for {other.name}"
        url = url_for("web.request_detail", request_id=req.id)
        items += [AgendaItem(t.start_at, t.end_at, "request", req.topic, other, url, status, needs_me)
                  for t in times if t.start_at < end and t.end_at > start]
    return items


def week_days(viewer: Person, monday: date) -> list[AgendaDay]:
    """The seven days from ``monday`` in the viewer's zone, each with what starts (or runs) in it."""
    bounds = [local_midnight(monday + timedelta(days=i), viewer) for i in range(8)]
    items = _meeting_items(viewer, bounds[0], bounds[7]) + _request_items(viewer, bounds[0], bounds[7])
    items.sort(key=lambda item: (item.start, item.kind != "meeting", item.topic))
    today = local(utcnow(), viewer).date()  # type: ignore[union-attr]
    days = []
    for i in range(7):
        day = monday + timedelta(days=i)
        mine = [item for item in items if bounds[i] <= max(item.start, bounds[0]) < bounds[i + 1]]
        days.append(AgendaDay(day, f"{day:%a} {day.day} {day:%b}", mine, day == today))
    return days


def clock(item: AgendaItem, viewer: Person) -> str:
    """'09:00-09:30 CET' (an en dash) in the viewer's zone."""
    s, e = local(item.start, viewer), local(item.end, viewer)
    assert s is not None and e is not None
    return f"{s:%H:%M}\u2013{e:%H:%M} {s.tzname()}"


@bp.get("/meetings/week")
@signed_in()
def agenda() -> Any:
    person = me()
    monday = parse_monday(request.args.get("week"), person)
    this_monday = parse_monday(None, person)
    return render_template(
        "web/agenda.html", me=person, days=week_days(person, monday), monday=monday, zone=zone_name(person),
        prev_week=(monday - timedelta(weeks=1)).isoformat() if monday.year > MINYEAR + 1 else None,
        next_week=(monday + timedelta(weeks=1)).isoformat() if monday.year < MAXYEAR - 1 else None,
        this_week=None if monday == this_monday else this_monday.isoformat(), clock=clock,
        sunday=monday + timedelta(days=6),
    )

