"""My team: a manager's direct reports with their competency gaps, and re-assessments to confirm.

A manager is anyone with a direct report (``Person.manager``). Admins may open the
page too, since they confirm re-assessments of people without a manager. Who sees a
person's gaps and who confirms a level is decided by the domain
(``competencies.can_view_gaps``, ``followups.can_decide``); a refused answer changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for

from app.auth import current_person
from app.db import db
from app.web import bp
from app.web.common import FormErrors, me, safe_next, signed_in
from app.web.profile import GapsView, current_program, gaps_view
from scheduling.db import get_row
from scheduling.errors import DomainError, NotFound
from scheduling.models import Person, SkillReassessment
from scheduling.services import competencies, followups
from scheduling.services import gap_mentors as gap_svc
from scheduling.services.people import direct_reports


@bp.app_context_processor
def _team_helpers() -> dict[str, Any]:
    def is_manager() -> bool:
        """Whether the signed-in person has direct reports (asked once per request, for the nav)."""
        if "is_manager" not in g:
            person = current_person()
            g.is_manager = person is not None and bool(direct_reports(db(), person, limit=1))
        return bool(g.is_manager)

    return {"is_manager": is_manager}


@dataclass
class Member:
    person: Person
    gaps: GapsView


@dataclass
class Pending:
    row: SkillReassessment
    target: int | None  # the person's role target in the skill, if the model has one


def _pending(viewer: Person, only: Person | None, gaps: dict[int, GapsView]) -> list[Pending]:
    rows = followups.reassessments_for(db(), viewer, to_confirm=True)
    if only is not None:
        rows = [r for r in rows if r.person_id == only.id]
    out = []
    for r in rows:
        if r.person_id not in gaps:
            gaps[r.person_id] = gaps_view(r.person, viewer)
        targets = {gap.skill_id: gap.target_level for gap in gaps[r.person_id].gaps}
        target = targets.get(r.skill_id)
        out.append(Pending(r, target))
    return out


def _page(viewer: Person, people: list[Person], *, only: Person | None = None,
          errors: FormErrors | None = None, status: int = 200) -> Any:
    prog = current_program()
    gaps = {p.id: gaps_view(p, viewer, prog) for p in people}
    return render_template(
        "web/team.html", me=viewer, members=[Member(p, gaps[p.id]) for p in people], only=only,
        pending=_pending(viewer, only, gaps), errors=errors or FormErrors(),
    ), status


def _team_of(viewer: Person) -> list[Person]:
    reports = direct_reports(db(), viewer)
    if not reports and not viewer.is_admin:
        abort(403, description="This page is for managers: people with direct reports.")
    return reports


@bp.get("/team")
@signed_in()
def team() -> Any:
    viewer = me()
    return _page(viewer, _team_of(viewer))


@bp.get("/team/<int:person_id>")
@signed_in()
def team_member(person_id: int) -> Any:
    """One person's gaps: for them, their manager and admins; anyone else is refused."""
    viewer = me()
    person = get_row(db(), Person, person_id)
    if person is None or not person.active:
        raise NotFound("No such person.")
    if not competencies.can_view_gaps(viewer, person):
        abort(403, description="Only the person, their manager and admins see competency gaps.")
    return _page(viewer, [person], only=person)


@bp.post("/team/reassessments/<int:reassessment_id>/<any(confirm, reject):answer>")
@signed_in()
def team_decide(reassessment_id: int, answer: str) -> Any:
    viewer = me()
    session = db()
    row = followups.get_reassessment(session, reassessment_id, viewer)  # NotFound for strangers
    person, skill, level = row.person, row.skill.name, row.new_level
    try:
        followups.decide(session, row, viewer, confirm=answer == "confirm")
    except DomainError as exc:
        session.rollback()
        if exc.status == 403:
            abort(403, description=exc.message)
        errors = FormErrors(form=exc.message)  # e.g. already answered: the row has left the list
        return _page(viewer, _team_of(viewer), errors=errors, status=exc.status)
    if answer == "confirm":
        flash(f"Confirmed: {person.name}'s level in {skill} is now {level}.", "info")
    else:
        flash(f"Rejected {person.name}'s new level in {skill}; their level stays as it was.", "info")
    return redirect(safe_next(request.form.get("next")) or url_for("web.team"))


@bp.get("/team/<int:person_id>/gaps/<int:skill_id>/mentors")
@signed_in()
def gap_mentors(person_id: int, skill_id: int) -> Any:
    """Who could mentor this gap (``scheduling.services.gap_mentors``), each with "Recommend"."""
    viewer = me()
    person = get_row(db(), Person, person_id)
    if person is None or not person.active:
        raise NotFound("No such person.")
    prog = current_program()
    if prog is None:
        raise NotFound("There is no program yet.")
    try:
        gap, found = gap_svc.mentors_for_gap(db(), prog, person, viewer, skill_id)
    except DomainError as exc:
        if exc.status == 403:
            abort(403, description=exc.message)
        raise
    can_recommend = person.is_mentee and (viewer.is_admin or person.manager_id == viewer.id)
    return render_template("web/gap_mentors.html", me=viewer, person=person, gap=gap, found=found,
                           can_recommend=can_recommend)


@bp.post("/team/<int:person_id>/gaps/<int:skill_id>/recommend")
@signed_in()
def gap_recommend(person_id: int, skill_id: int) -> Any:
    viewer = me()
    session = db()
    person = get_row(session, Person, person_id)
    prog = current_program()
    if person is None or not person.active or prog is None:
        raise NotFound("No such person.")
    raw = (request.form.get("mentor_id") or "").strip()
    if not raw.isdigit():
        abort(400, description="Pick a mentor.")
    try:
        row = gap_svc.recommend_for_gap(session, prog, viewer, person, skill_id, int(raw))
    except DomainError as exc:
        session.rollback()
        if exc.status == 403:
            abort(403, description=exc.message)
        flash(exc.message, "error")
        return redirect(url_for("web.gap_mentors", person_id=person_id, skill_id=skill_id))
    flash(f"Recommended {row.mentor.name} to {person.name}; they were emailed.", "info")
    return redirect(url_for("web.gap_mentors", person_id=person_id, skill_id=skill_id))
