"""The signed-in person's own availability and skills.

Weekly slots are shown and edited as wall times in their zone (the mentor's own
by default); dated slots are given in UTC and in the mentor's zone.
"""

from __future__ import annotations

from typing import Any

from app.api import bp
from app.api.fields import Passed, hint
from app.api.operations import operation
from app.api.responses import Out, PersonAnswer
from app.auth import require_person, roles_required
from app.db import db
from scheduling.errors import ValidationFailed
from scheduling.models import Person
from scheduling.services import availability_editing as avail
from scheduling.services.people import private_profile, set_skills
from scheduling.services.program import first_program

AVAILABILITY_KEYS = {"weekly_slots", "dated_slots", "note", "time_zone"}
LIST = {"type": "array"}


class AvailabilityIn(Passed):
    """At least one of weekly_slots, dated_slots, note; time_zone says which zone weekly times are in."""

    weekly_slots: hint(LIST) = None  # type: ignore[valid-type]
    dated_slots: hint(LIST) = None  # type: ignore[valid-type]
    note: hint({"type": "string"}) = None  # type: ignore[valid-type]
    time_zone: hint({"type": "string"}) = None  # type: ignore[valid-type]


class DatedSlotIn(Passed):
    start: hint({"type": "string", "format": "date-time"}) = None  # type: ignore[valid-type]
    end: hint({"type": "string", "format": "date-time"}) = None  # type: ignore[valid-type]


class SkillsIn(Passed):
    """Each list replaces mine: names, or ``{"name", "level"}`` with level 1..5; only mentors offer."""

    offers: hint(LIST) = None  # type: ignore[valid-type]
    wants: hint(LIST) = None  # type: ignore[valid-type]
    has: hint(LIST) = None  # type: ignore[valid-type]


class Availability(Out):
    time_zone: str
    availability_mode: str | None
    weekly_slots: Any
    dated_slots: list[Any]
    note: str | None


class DatedSlot(Out):
    id: int


def availability_view(person: Person) -> dict[str, Any]:
    session = db()
    program = first_program(session)
    mode = program.availability_mode.value if program is not None else None  # none yet: the editor works
    return {
        "time_zone": person.time_zone,
        "availability_mode": mode,
        "weekly_slots": avail.weekly_view(person),
        "dated_slots": [avail.dated_view(d, person) for d in avail.upcoming_dated_slots(session, person)],
        "note": person.availability_note,
    }


@bp.get("/me/availability")
@operation("My availability.", ok=Availability)
def my_availability() -> Any:
    return availability_view(require_person())


@bp.put("/me/availability")
@roles_required("mentor")
@operation("Replace parts of my availability (mentors).", ok=Availability, body=AvailabilityIn)
def my_availability_put(body: AvailabilityIn) -> Any:
    person = require_person()
    data = body.given()
    unknown = set(data) - AVAILABILITY_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise ValidationFailed(f"Unknown field {key!r}; send weekly_slots, dated_slots and/or note.", key)
    if not set(data) - {"time_zone"}:
        raise ValidationFailed("Send at least one of weekly_slots, dated_slots, note.")
    zone = data.get("time_zone")
    if zone is not None and not isinstance(zone, str):
        raise ValidationFailed("time_zone must be an IANA zone name.", "time_zone")
    avail.update_availability(
        db(),
        person,
        weekly=data.get("weekly_slots", avail.UNSET),
        dated=data.get("dated_slots", avail.UNSET),
        note=data.get("note", avail.UNSET),
        time_zone=zone,
    )
    return availability_view(person)


@bp.post("/me/availability/dated-slots")
@roles_required("mentor")
@operation("Add a one-off slot (mentors).", ok={201: DatedSlot}, body=DatedSlotIn)
def my_dated_slot_add(body: DatedSlotIn) -> Any:
    person = require_person()
    slot = avail.add_dated_slot(db(), person, body.given().get("start"), body.given().get("end"))
    return avail.dated_view(slot, person), 201


@bp.delete("/me/availability/dated-slots/<int:slot_id>")
@roles_required("mentor")
@operation("Remove a one-off slot (mentors).", ok={204: None})
def my_dated_slot_remove(slot_id: int) -> Any:
    avail.remove_dated_slot(db(), require_person(), slot_id)
    return "", 204


@bp.put("/me/skills")
@operation("Replace my skill lists.", ok=PersonAnswer, body=SkillsIn)
def my_skills_put(body: SkillsIn) -> Any:
    person = require_person()
    set_skills(db(), person, body.given())
    return {"person": private_profile(person)}
