"""The program's rules: everyone signed in reads them, only admins change them."""

from __future__ import annotations

from typing import Any

from app.api import bp, json_body
from app.auth import require_person, roles_required
from app.db import db
from scheduling.services.program import get_program, settings_dict, update_settings


@bp.get("/program")
def program_get() -> Any:
    require_person()
    return {"program": settings_dict(get_program(db()))}


@bp.patch("/program")
@roles_required("admin")
def program_patch() -> Any:
    session = db()
    program = update_settings(session, get_program(session), json_body())
    return {"program": settings_dict(program)}
