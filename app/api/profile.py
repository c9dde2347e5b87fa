"""The signed-in person's own availability and skills.

Weekly slots are shown and edited as wall times in their zone (the mentor's own
by default); dated slots are given in UTC and in the mentor's zone.
"""

from __future__ import annotations

from typing import Any

from app.api import bp, json_body
from app.auth import require_person, roles_required
from app.db import db
from scheduling.errors import NotFound, ValidationFailed
from scheduling.models import Person
from scheduling.services import availability_editing as avail
from scheduling.services.people import private_profile, set_skills
from scheduling.services.program import get_program

AVAILABILITY_KEYS = {"weekly_slots", "dated_slots", "note", "time_zone"}


def availability_view(person: Person) -> dict[str, Any]:
    session = db()
    try:
        mode = get_program(session).availability_mode.value
    except NotFound:  # no program yet: the editor still works
        mode = None
    return {
        "time_zone": person.time_zone,
        "availability_mode": mode,
        "weekly_slots": avail.weekly_view(person),
        "dated_slots": [avail.dated_view(d, person) for d in avail.upcoming_dated_slots(session, person)],
        "note": person.availability_note,
    }


@bp.get("/me/availability")
def my_availability() -> Any:
    return availability_view(require_person())


@bp.put("/me/availability")
@roles_required("mentor")
def my_availability_put() -> Any:
    person = require_person()
    body = json_body()
    unknown = set(body) - AVAILABILITY_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise ValidationFailed(f"Unknown field {key!r}; send weekly_slots, dated_slots and/or note.", key)
    if not set(body) - {"time_zone"}:
        raise ValidationFailed("Send at least one of weekly_slots, dated_slots, note.")
    zone = body.get("time_zone")
    if zone is not None and not isinstance(zone, str):
        raise ValidationFailed("time_zone must be an IANA zone name.", "time_zone")
    avail.update_availability(
        db(),
        person,
        weekly=body.get("weekly_slots", avail.UNSET),
        dated=body.get("dated_slots", avail.UNSET),
        note=body.get("note", avail.UNSET),
        time_zone=zone,
    )
    return availability_view(person)


@bp.post("/me/availability/dated-slots")
@roles_required("mentor")
def my_dated_slot_add() -> Any:
    person = require_person()
    body = json_body()
    slot = avail.add_dated_slot(db(), person, body.get("start"), body.get("end"))
    return avail.dated_view(slot, person), 201


@bp.delete("/me/availability/dated-slots/<int:slot_id>")
@roles_required("mentor")
def my_dated_slot_remove(slot_id: int) -> Any:
    avail.remove_dated_slot(db(), require_person(), slot_id)
    return "", 204


@bp.put("/me/skills")
def my_skills_put() -> Any:
    person = require_person()
    set_skills(db(), person, json_body())
    return {"person": private_profile(person)}
