"""Pushing recommended mentors to mentees: a pick list (every chosen mentor to every chosen
mentee) or a CSV of ``mentee_email,mentor_email[,note]``; the pushed list with "remove".

All of it through :mod:`scheduling.services.recommendations`: a push is all or nothing,
and a refused one lists every bad row.
"""

from __future__ import annotations

from typing import Any

from flask import flash, render_template, request
from sqlalchemy import select

from app.admin import bp
from app.admin.forms import back_to
from app.auth import require_person
from app.db import db
from scheduling.errors import DomainError, ImportFailed
from scheduling.models import Person
from scheduling.services import recommendations as svc
from scheduling.services import top_recommendations as top
from scheduling.services.program import get_program
from scheduling.terms import terms_of

PICK_LIST_MAX = 1000


def _people(flag: Any) -> list[Person]:
    query = select(Person).where(Person.active, flag).order_by(Person.name, Person.id).limit(PICK_LIST_MAX)
    return list(db().scalars(query))


def _ids(name: str) -> list[int]:
    return [int(v) for v in request.form.getlist(name) if v.isdigit()]


def _render(*, problem: str = "", errors: list[tuple[int, str | None, str]] | None = None,
            status: int = 200, top_problem: str = "") -> Any:
    session = db()
    return render_template(
        "admin/recommendations.html",
        pushed=svc.list_recommendations(session, get_program(session)),
        mentees=_people(Person.is_mentee),
        mentors=_people(Person.is_mentor),
        chosen_mentees=set(_ids("mentee_ids")),
        chosen_mentors=set(_ids("mentor_ids")),
        note=request.form.get("note", ""),
        csv_text=request.form.get("csv", ""),
        problem=problem,
        errors=errors or [],
        top_n=request.form.get("n", "3"),
        top_problem=top_problem,
    ), status


@bp.get("/recommendations")
def recommendations_page() -> Any:
    return _render()


@bp.post("/recommendations")
def recommendations_push() -> Any:
    admin = require_person()
    session = db()
    program = get_program(session)
    try:
        if request.form.get("csv", "").strip():
            rows = svc.push_csv(session, program, admin, request.form["csv"])
        else:
            rows = svc.push_pick_list(session, program, admin, _ids("mentee_ids"), _ids("mentor_ids"),
                                      note=request.form.get("note", ""))
    except ImportFailed as exc:
        session.rollback()
        return _render(problem=exc.message, errors=exc.errors, status=exc.status)
    except DomainError as exc:
        session.rollback()
        return _render(problem=exc.message, status=exc.status)
    flash(f"{len(rows)} recommendation{'s' if len(rows) != 1 else ''} pushed.", "success")
    return back_to("admin.recommendations_page")


@bp.post("/recommendations/<int:recommendation_id>/remove")
def recommendations_remove(recommendation_id: int) -> Any:
    session = db()
    svc.remove(session, get_program(session), require_person(), recommendation_id)
    flash("Recommendation removed.", "success")
    return back_to("admin.recommendations_page")


@bp.post("/recommendations/top")
def recommendations_top() -> Any:
    """Bulk: the top N computed mentors to every active mentee (``services.top_recommendations``)."""
    session = db()
    raw = request.form.get("n", "").strip()
    try:
        n: object = int(raw) if raw.isdigit() else raw
        result = top.push_top(session, get_program(session), require_person(), n)
    except DomainError as exc:
        session.rollback()
        return _render(top_problem=exc.message, status=exc.status)
    terms = terms_of(get_program(session))
    flash(f"Recommended {terms.mentors} to {result.mentees} "
          f"{terms.mentees if result.mentees != 1 else terms.mentee} "
          f"({result.pushed} recommendations); each {terms.mentee} was emailed.", "success")
    return back_to("admin.recommendations_page")
