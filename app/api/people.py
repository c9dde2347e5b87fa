"""People: the directory, profiles, and admin management.

Mentees search the mentor directory; mentors may also list mentees (to offer a
meeting); only admins list everyone. Where the program hides the directory, a
mentee's mentor search finds only their recommendations (admin pushes first, then
their best matches). A profile is visible to everyone signed in
when the person is a mentor, otherwise to themselves, their manager, mentors
and admins; to anyone else it does not exist (404). Profiles never carry the
password hash or calendar secrets.
"""

from __future__ import annotations

from typing import Any

from flask import request
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.api import bp, json_body
from app.api.params import page
from app.auth import require_person, roles_required
from app.db import db
from scheduling.db import get_row
from scheduling.errors import Forbidden, NotFound, ValidationFailed
from scheduling.matching import visible_mentor_ids
from scheduling.models import Person, Program
from scheduling.services import people as svc

FILTERS = ("q", "skill", "department", "title", "time_zone")
FILTER_MAX = 200


def _filters() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in FILTERS:
        value = (request.args.get(name) or "").strip()
        if len(value) > FILTER_MAX:
            raise ValidationFailed(f"{name} is too long (at most {FILTER_MAX} characters).", name)
        out[name] = value or None
    return out


def _role_for(viewer: Person) -> str | None:
    role = (request.args.get("role") or "mentor").strip().lower()
    if role not in (*svc.ROLES, "any"):
        raise ValidationFailed(f"Unknown role {role!r}; use mentor, mentee, admin or any.", "role")
    if role == "mentor" or viewer.is_admin:
        return None if role == "any" else role
    if role == "mentee" and viewer.is_mentor:
        return role
    raise Forbidden("You can only search the mentor directory.", "role")


def can_see(viewer: Person, person: Person) -> bool:
    if viewer.is_admin or viewer.id == person.id:
        return True
    if not person.active:
        return False
    return person.is_mentor or viewer.is_mentor or person.manager_id == viewer.id


def _visible(person_id: int, viewer: Person) -> Person:
    person = get_row(db(), Person, person_id)
    if person is None or not can_see(viewer, person):
        raise NotFound("No such person.")
    return person


def profile_for(viewer: Person, person: Person) -> dict[str, Any]:
    if viewer.is_admin or viewer.id == person.id:
        return svc.private_profile(person)
    return svc.public_profile(person)


def _directory_limit(session: Session, viewer: Person, role: str | None) -> list[int] | None:
    """With the directory hidden, a mentee searching mentors sees only their recommendations."""
    if role != "mentor":
        return None
    program = session.scalars(select(Program).order_by(Program.id).limit(1)).first()
    return visible_mentor_ids(session, program, viewer)


@bp.get("/people")
def people_list() -> Any:
    viewer = require_person()
    role = _role_for(viewer)
    filters = _filters()
    limit, offset = page()
    session = db()
    only = _directory_limit(session, viewer, role)
    items = svc.search_people(session, **filters, role=role, limit=limit, offset=offset, only_ids=only)
    total = svc.count_people(session, **filters, role=role, only_ids=only)
    return {
        "items": [profile_for(viewer, p) for p in items],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


@bp.get("/people/<int:person_id>")
def people_get(person_id: int) -> Any:
    viewer = require_person()
    return {"person": profile_for(viewer, _visible(person_id, viewer))}


@bp.post("/people")
@roles_required("admin")
def people_create() -> Any:
    person = svc.create_person(db(), json_body())
    return {"person": svc.private_profile(person)}, 201


@bp.patch("/people/<int:person_id>")
def people_update(person_id: int) -> Any:
    viewer = require_person()
    person = _visible(person_id, viewer)
    if not (viewer.is_admin or viewer.id == person.id):
        raise Forbidden("You can only edit your own profile.")
    svc.update_person(db(), person, json_body(), actor=viewer)
    return {"person": profile_for(viewer, person)}
