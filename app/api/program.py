"""The program's rules: everyone signed in reads them, only admins change them."""

from __future__ import annotations

from typing import Any

from app.api import bp
from app.api.fields import AnyObject, Passed
from app.api.operations import operation
from app.api.responses import wrapped
from app.auth import require_person, roles_required
from app.db import db
from scheduling.services.program import get_program, settings_dict, update_settings


class SettingsIn(Passed):
    """Any of the settings GET /program shows; each is checked by its own rule."""


ProgramAnswer = wrapped("ProgramAnswer", "program", AnyObject)


@bp.get("/program")
@operation("The program's rules.", ok=ProgramAnswer)
def program_get() -> Any:
    require_person()
    return {"program": settings_dict(get_program(db()))}


@bp.patch("/program")
@roles_required("admin")
@operation("Change some of the program's rules (admins).", ok=ProgramAnswer, body=SettingsIn)
def program_patch(body: SettingsIn) -> Any:
    session = db()
    program = update_settings(session, get_program(session), body.given())
    return {"program": settings_dict(program)}
