"""Admin: invite one person, or everyone imported without a password, by emailed link."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, url_for

from app.admin import bp
from app.db import db
from scheduling.errors import DomainError
from scheduling.services import access
from scheduling.services.people import get_person


def _back() -> Any:
    return redirect(url_for("admin.people_page"))


@bp.post("/people/<int:person_id>/invite")
def person_invite(person_id: int) -> Any:
    person = get_person(db(), person_id, include_inactive=True)
    try:
        access.invite(db(), person)
    except DomainError as exc:
        flash(exc.message, "error")
        return _back(), 303
    flash(f"Invitation sent to {person.email}.", "info")
    return _back(), 303


@bp.post("/people/invite-all")
def people_invite_all() -> Any:
    try:
        invited = access.invite_all(db())
    except DomainError as exc:
        flash(exc.message, "error")
        return _back(), 303
    flash(f"Invitations sent to {len(invited)} people." if invited else
          "Everyone has a password or an open invitation.", "info")
    return _back(), 303
