"""The program's own profile fields (seed 003), as an API client needs them to read a profile's
``profile_fields`` and to filter ``GET /api/v1/people`` by ``field[<id>]=<answer>``.

Everyone signed in reads them (the labels and choices are what the profile and directory pages
show); admins define them on the admin pages.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.api import bp
from app.api.fields import Input, text_map
from app.api.operations import operation
from app.api.responses import Out
from app.auth import require_person
from app.db import db
from scheduling.models import ProfileField
from scheduling.services import profile_fields
from scheduling.services.program import first_program

FieldFilters = text_map(
    profile_fields.ANSWER_MAX,
    "The program's profile fields that are directory filters (GET /api/v1/profile-fields), as "
    "field[<field id>]=<one of its choices>; several must all match.",
    "^[0-9]+$")


class FieldFiltered(Input):
    """``field[<id>]=<answer>``: people whose answer to each named directory filter is that one."""

    field: FieldFilters | None = None  # type: ignore[valid-type]


def field_filters(session: Session, query: FieldFiltered) -> dict[int, str]:
    """``{field id: answer}`` from ``field[<id>]=<answer>``; a wrong one is a 422 naming it."""
    return profile_fields.checked_filters(session, first_program(session), query.field or {},
                                          lambda key: f"field[{key}]")


class FieldOut(Out):
    id: int
    label: str
    choices: list[str]
    filter: bool


class FieldList(Out):
    fields: list[FieldOut]


def field_view(field: ProfileField) -> dict[str, Any]:
    """``filter``: a directory filter (``field[<id>]`` on ``GET /people``); ``choices`` empty: free text."""
    return {"id": field.id, "label": field.label, "choices": list(field.choices),
            "filter": field.is_filter}


@bp.get("/profile-fields")
@operation("The program's profile fields, in order; those with filter true filter GET /people.",
           ok=FieldList)
def profile_fields_list() -> Any:
    require_person()
    session = db()
    program = first_program(session)
    found = profile_fields.fields(session, program) if program is not None else []
    return {"fields": [field_view(f) for f in found]}
