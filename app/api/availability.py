"""When the signed-in mentee can meet: one mentor's slots, and mentors ranked by shared slots.

``from`` / ``to`` are ISO date-times with an offset, or plain dates read in the
viewer's own zone (``from`` = the start of that day, ``to`` = the end of that day,
so ``from=2030-01-09&to=2030-01-09`` is one whole local day). Defaults: from now,
for 14 days. At most 62 days at once. Every slot is given in UTC and in the
viewer's zone, with a short human label. ``calendars_unread`` / ``note``: some calendar
could not be read within the request's budget (provider down or slow), so the slots
leave out only booked meetings. ``calendars_broken``: whose calendar connection is broken
(not read at all; ``scheduling.calendar_health``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Annotated, Any

from pydantic import Field, WithJsonSchema
from sqlalchemy.orm import joinedload, lazyload

from app.api import bp
from app.api.fields import Input, checked, short_text
from app.api.inputs import Page
from app.api.operations import operation
from app.api.params import as_datetime
from app.api.responses import Out
from app.auth import require_person
from app.db import db
from freebusy.slots import Slot
from scheduling import calendar_reads
from scheduling.availability import bookable_slots, person_zone
from scheduling.db import get_row, utcnow
from scheduling.errors import NotFound, ValidationFailed
from scheduling.free_mentors import free_mentors as free_mentors_of
from scheduling.mentor_visibility import may_see_mentor, visible_mentor_ids
from scheduling.models import Person, Program
from scheduling.services.program import get_program
from scheduling.services.serialize import local_iso, utc_iso
from scheduling.services.skills import find_skill

DEFAULT_DAYS = 14
MAX_DAYS = 62
SKILL_MAX = 200


def calendar_status() -> dict[str, Any]:
    """``calendars_unread``: some calendar could not be read (down, too slow), so the slots leave
    out only booked meetings; ``calendars_broken``: the people (``person_id``, ``name``) whose
    calendar connection is broken, so their calendar was not read at all; ``note`` says both in
    words (null when every calendar answered)."""
    return {"calendars_unread": calendar_reads.unread(), "calendars_broken": calendar_reads.broken(),
            "note": calendar_reads.note()}


def _moment(raw: str | None, name: str, zone: tzinfo, *, end_of_day: bool) -> datetime | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    if len(raw) == 10:
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            message = f"{name} is not a date (YYYY-MM-DD) or ISO date-time: {raw!r}."
            raise ValidationFailed(message, name) from None
        if end_of_day:
            day += timedelta(days=1)
        return datetime.combine(day, time(), tzinfo=zone)
    return as_datetime(raw, name)


def _day_or_moment(value: Any, field: str) -> str:
    """Checks the form of ``from``/``to`` now; :func:`window` reads them in the viewer's zone."""
    raw = value if isinstance(value, str) else ""
    _moment(raw, field, UTC, end_of_day=False)
    return raw


DayOrMoment = Annotated[str, checked(_day_or_moment), WithJsonSchema({
    "type": "string", "description": "YYYY-MM-DD (a whole day in my zone) or an ISO date-time with offset.",
    "anyOf": [{"format": "date"}, {"format": "date-time"}]})]


class WindowQuery(Input):
    from_: DayOrMoment | None = Field(None, alias="from")
    to: DayOrMoment | None = None


class FreeQuery(WindowQuery, Page):
    skill: short_text(SKILL_MAX) | None = None  # type: ignore[valid-type]


class Slots(Out):
    mentor: dict[str, Any]
    slots: list[dict[str, Any]]
    calendars_unread: bool
    calendars_broken: list[dict[str, Any]]
    note: str | None


class FreeMentors(Out):
    total: int
    mentors: list[dict[str, Any]]
    calendars_unread: bool
    calendars_broken: list[dict[str, Any]]
    note: str | None


def window(viewer: Person, raw_from: str | None, raw_to: str | None) -> tuple[datetime, datetime]:
    """The ``[from, to)`` the query asks for, validated (422 naming the field)."""
    zone = person_zone(viewer)
    start = _moment(raw_from, "from", zone, end_of_day=False) or utcnow().replace(second=0, microsecond=0)
    end = _moment(raw_to, "to", zone, end_of_day=True) or start + timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise ValidationFailed("to must be after from.", "to")
    if end - start > timedelta(days=MAX_DAYS):
        raise ValidationFailed(f"Ask for at most {MAX_DAYS} days at once.", "to")
    return start, end


def label(slot: Slot, zone: tzinfo) -> str:
    """'Wed 9 Jan 2030, 10:00-10:30 GMT' in the viewer's zone."""
    s, e = slot.start.astimezone(zone), slot.end.astimezone(zone)
    return f"{s:%a} {s.day} {s:%b %Y}, {s:%H:%M}-{e:%H:%M} {s.tzname()}"


def slot_view(slot: Slot, zone: tzinfo) -> dict[str, Any]:
    return {
        "start": utc_iso(slot.start),
        "end": utc_iso(slot.end),
        "start_local": local_iso(slot.start, zone),
        "end_local": local_iso(slot.end, zone),
        "label": label(slot, zone),
    }


_MENTOR_LOAD = (lazyload(Person.skills), joinedload(Person.weekly_slots))


def _mentor(mentor_id: int, viewer: Person, program: Program) -> Person:
    """The mentor, if the viewer may see them (a hidden directory: recommended or already asked)."""
    # The slots read the mentor's weekly slots (joined: one round trip), never their skills.
    session = db()
    mentor = get_row(session, Person, mentor_id, options=_MENTOR_LOAD)
    if (mentor is None or not mentor.is_mentor or not mentor.active
            or not may_see_mentor(session, program, viewer, mentor.id)):
        raise NotFound("No such mentor.")
    return mentor


@bp.get("/mentors/<int:mentor_id>/availability")
@operation("One mentor's bookable slots for me.", ok=Slots, query=WindowQuery)
def mentor_availability(mentor_id: int, query: WindowQuery) -> Any:
    viewer = require_person()
    program = get_program(db())
    mentor = _mentor(mentor_id, viewer, program)
    start, end = window(viewer, query.from_, query.to)
    zone = person_zone(viewer)
    slots = bookable_slots(db(), program, mentor, viewer, start, end)
    return {
        "mentor": {"id": mentor.id, "name": mentor.name, "time_zone": mentor.time_zone},
        "from": utc_iso(start),
        "to": utc_iso(end),
        "time_zone": str(zone),
        "slot_minutes": program.slot_minutes,
        "slots": [slot_view(s, zone) for s in slots],
        **calendar_status(),
    }


@bp.get("/mentors/free")
@operation("Mentors (optionally offering skill) ranked by shared slots with me.", ok=FreeMentors,
           query=FreeQuery)
def free_mentors(query: FreeQuery) -> Any:
    """Active mentors (optionally offering ``skill``) ranked by shared slots with the viewer."""
    viewer = require_person()
    start, end = window(viewer, query.from_, query.to)
    limit, offset = query.limit, query.offset
    skill_name = query.skill or ""
    session = db()
    skill_id = None
    if skill_name:
        skill = find_skill(session, skill_name)
        if skill is None:
            raise ValidationFailed(f"Unknown skill {skill_name!r}.", "skill")
        skill_id = skill.id
    program = get_program(session)
    # None: everybody; else the program hides the directory: recommendations only.
    visible = visible_mentor_ids(session, program, viewer)
    ranked = free_mentors_of(session, program, viewer, start, end, skill_id=skill_id, only=visible)
    return {
        "from": utc_iso(start),
        "to": utc_iso(end),
        "time_zone": str(person_zone(viewer)),
        "slot_minutes": program.slot_minutes,
        "total": len(ranked),
        "mentors": [
            {"id": m.id, "name": m.name, "title": m.title, "department": m.department,
             "time_zone": m.time_zone, "shared_slots": f.shared_slots}
            for f in ranked[offset:offset + limit] for m in (f.mentor,)
        ],
        **calendar_status(),
    }
