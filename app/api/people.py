"""People: the directory, profiles, and admin management.

Mentees search the mentor directory; mentors may also list mentees (to offer a
meeting); only admins list everyone. Where the program hides the directory, a
mentee's mentor search finds only their recommendations (admin pushes first, then
their best matches). A profile is visible to everyone signed in
when the person is a mentor (with the directory hidden, to those who may see that mentor:
``scheduling.mentor_visibility``), otherwise to themselves, their manager, mentors
and admins; to anyone else it does not exist (404). Profiles never carry the
password hash or calendar secrets. The program's own profile fields (seed 003) filter
the directory as ``field[<id>]=<answer>``, and a profile carries the answers its viewer
may see (``profile_fields``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.api import bp
from app.api.fields import Passed, hint, short_text
from app.api.inputs import Page
from app.api.operations import operation
from app.api.profile_fields import FieldFiltered, field_filters
from app.api.responses import Out, PersonAnswer, Profile
from app.auth import require_person, roles_required
from app.db import db
from scheduling.db import get_row, utcnow
from scheduling.errors import Forbidden, NotFound, ValidationFailed
from scheduling.mentor_visibility import may_see_mentor, visible_mentor_ids
from scheduling.models import Person
from scheduling.services import people as svc
from scheduling.services.profile_fields import only_answering
from scheduling.services.program import first_program

FILTERS = ("q", "skill", "department", "title", "time_zone")
FILTER_MAX = 200


Filter = short_text(FILTER_MAX)
TEXT = {"type": "string"}


class PeopleQuery(Page, FieldFiltered):
    """``role``: mentor (default), mentee (mentors and admins), admin or any (admins)."""

    role: Filter | None = None  # type: ignore[valid-type]
    q: Filter | None = None  # type: ignore[valid-type]
    skill: Filter | None = None  # type: ignore[valid-type]
    department: Filter | None = None  # type: ignore[valid-type]
    title: Filter | None = None  # type: ignore[valid-type]
    time_zone: Filter | None = None  # type: ignore[valid-type]


class PersonFields(Passed):
    """Profile fields; ``email``, ``roles``, ``manager_id``, ``active`` and ``password`` are for admins."""

    name: hint(TEXT) = None  # type: ignore[valid-type]
    email: hint({"type": "string", "format": "email"}) = None  # type: ignore[valid-type]
    time_zone: hint({"type": "string", "description": "An IANA zone, e.g. Europe/Paris."}) = None  # type: ignore[valid-type]
    roles: hint({"type": "array", "items": {"enum": list(svc.ROLES)}}) = None  # type: ignore[valid-type]
    department: hint(TEXT) = None  # type: ignore[valid-type]
    title: hint(TEXT) = None  # type: ignore[valid-type]
    region: hint(TEXT) = None  # type: ignore[valid-type]
    bio: hint(TEXT) = None  # type: ignore[valid-type]
    password: hint(TEXT) = None  # type: ignore[valid-type]
    manager_id: hint({"type": ["integer", "null"]}) = None  # type: ignore[valid-type]
    monthly_meeting_cap: hint({"type": ["integer", "null"], "minimum": 0}) = None  # type: ignore[valid-type]
    active: hint({"type": "boolean"}) = None  # type: ignore[valid-type]


class PeoplePage(Out):
    items: list[Profile]
    total: int
    limit: int
    offset: int


def _role_for(viewer: Person, asked: str | None) -> str | None:
    role = (asked or "mentor").lower()
    if role not in (*svc.ROLES, "any"):
        raise ValidationFailed(f"Unknown role {role!r}; use mentor, mentee, admin or any.", "role")
    if role == "mentor" or viewer.is_admin:
        return None if role == "any" else role
    if role == "mentee" and viewer.is_mentor:
        return role
    raise Forbidden("You can only search the mentor directory.", "role")


def can_see(session: Session, viewer: Person, person: Person) -> bool:
    """Oneself, and as an admin everyone; a person one manages; as a mentor, anyone (a mentee to
    offer a meeting); a mentor, where the program's directory lets the viewer see them."""
    if viewer.is_admin or viewer.id == person.id:
        return True
    if not person.active:
        return False
    if person.manager_id == viewer.id or (viewer.is_mentor and (person.is_mentee or not person.is_mentor)):
        return True
    return person.is_mentor and may_see_mentor(session, first_program(session), viewer, person.id)


def _visible(person_id: int, viewer: Person) -> Person:
    session = db()
    person = get_row(session, Person, person_id)
    if person is None or not can_see(session, viewer, person):
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
    return visible_mentor_ids(session, first_program(session), viewer)


@bp.get("/people")
@operation("The directory: mentors by default; filters q, skill, department, title, time_zone, and "
           "field[<id>]=<answer> for the program's profile fields that are directory filters.",
           ok=PeoplePage, query=PeopleQuery)
def people_list(query: PeopleQuery) -> Any:
    viewer = require_person()
    role = _role_for(viewer, query.role)
    filters = {name: getattr(query, name) for name in FILTERS}
    limit, offset = query.limit, query.offset
    session = db()
    chosen = field_filters(session, query)
    only = only_answering(session, chosen, _directory_limit(session, viewer, role))
    # As on the /mentors page: a mentor who paused themselves is not listed (admins see everyone).
    taking = utcnow() if role == "mentor" and not viewer.is_admin else None
    # Columns, not Person objects: as profile_for would answer for each (private to admins and oneself).
    items, total = svc.directory_page(
        session, **filters, role=role, limit=limit, offset=offset, only_ids=only, taking_requests_at=taking,
        private_for=lambda person_id: viewer.is_admin or person_id == viewer.id)
    return {
        "items": items,
        "total": total,
        "limit": limit,
        "offset": offset,
    }


@bp.get("/people/<int:person_id>")
@operation("One person's profile.", ok=PersonAnswer)
def people_get(person_id: int) -> Any:
    viewer = require_person()
    return {"person": profile_for(viewer, _visible(person_id, viewer))}


@bp.post("/people")
@roles_required("admin")
@operation("Add a person (admins); name and email are required.", ok={201: PersonAnswer}, body=PersonFields)
def people_create(body: PersonFields) -> Any:
    person = svc.create_person(db(), body.given())
    return {"person": svc.private_profile(person)}, 201


@bp.patch("/people/<int:person_id>")
@operation("Edit a profile: my own, or anyone's as an admin.", ok=PersonAnswer, body=PersonFields)
def people_update(person_id: int, body: PersonFields) -> Any:
    viewer = require_person()
    person = _visible(person_id, viewer)
    if not (viewer.is_admin or viewer.id == person.id):
        raise Forbidden("You can only edit your own profile.")
    svc.update_person(db(), person, body.given(), actor=viewer)
    return {"person": profile_for(viewer, person)}
