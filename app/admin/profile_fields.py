"""Profile fields (seed 003): the admin adds fields people fill on their profile, some of them
directory filters (``scheduling.services.profile_fields``)."""

from __future__ import annotations

from typing import Any

from flask import flash, render_template, request

from app.admin import bp
from app.admin.forms import back_to, form_text
from app.auth import require_person
from app.db import db
from scheduling.errors import DomainError
from scheduling.services import profile_fields as svc
from scheduling.services.program import get_program


def _render(errors: dict[str, str] | None = None, form: dict[str, Any] | None = None,
            status: int = 200) -> Any:
    session = db()
    return render_template("admin/profile_fields.html", fields=svc.fields(session, get_program(session)),
                           errors=errors or {}, form=form or {}), status


@bp.get("/profile-fields")
def profile_fields_page() -> Any:
    return _render()


@bp.post("/profile-fields")
def profile_fields_add() -> Any:
    session = db()
    form: dict[str, Any] = {"label": form_text("label"), "choices": request.form.get("choices") or "",
                            "filterable": request.form.get("filterable") == "1"}
    try:
        field = svc.add_field(session, require_person(), get_program(session), label=form["label"],
                              choices=form["choices"], filterable=form["filterable"])
    except DomainError as exc:
        session.rollback()
        return _render({exc.field or "label": exc.message}, form, exc.status)
    flash(f"Field “{field.label}” added.", "success")
    return back_to("admin.profile_fields_page")


@bp.post("/profile-fields/<int:field_id>/remove")
def profile_fields_remove(field_id: int) -> Any:
    session = db()
    try:
        svc.remove_field(session, require_person(), get_program(session), field_id)
    except DomainError as exc:
        session.rollback()
        flash(exc.message, "error")
        return back_to("admin.profile_fields_page")
    flash("Field removed, with everyone's answers to it.", "success")
    return back_to("admin.profile_fields_page")
