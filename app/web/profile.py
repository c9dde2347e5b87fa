"""My profile: department, title, time zone, the skills I want and offer, and my competency gaps.

The skill rows are plain inputs (a datalist offers the catalogue) so the page works
without JavaScript and on a phone. Every field is checked with the domain's own
checkers first, so all problems show at once next to their fields; the save itself
is one call to :func:`scheduling.services.people.update_profile`, one transaction,
so a refused form changes nothing. A wanted skill's "my level now" is the person's
self-assessed level (the ``has`` list), which is what their competency gaps use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

from flask import flash, redirect, render_template, request, url_for

from app.db import db
from app.skill_rows import Chosen, Row, RowWords, check_skill_rows
from app.web import bp
from app.web.common import FormErrors, me, signed_in
from scheduling.errors import DomainError
from scheduling.models import Person, Program, ReassessmentState, SkillReassessment, SkillRelation
from scheduling.services import competencies, followups, profile_fields
from scheduling.services.people import check_text, check_time_zone, update_profile
from scheduling.services.program import first_program
from scheduling.services.skills import MAX_SKILLS_PER_RELATION

DETAILS = ("department", "title", "time_zone")
EXTRA_ROWS = 3  # empty rows under the filled ones, to add skills without JavaScript
LEVELS = [("1", "1: just starting"), ("2", "2"), ("3", "3: can do it on my own"), ("4", "4"),
          ("5", "5: could teach it")]
_ROW_KEY = re.compile(r"^(wants|offers)-(\d{1,3})-(skill|level)$")


@dataclass
class GapsView:
    """A person's gaps for a page: whether the program has a model at all, and the gaps of their role."""

    has_model: bool = False
    gaps: list[competencies.Gap] = field(default_factory=list)


def current_program() -> Program | None:
    return first_program(db())


def gaps_view(person: Person, viewer: Person, prog: Program | None = None) -> GapsView:
    """``person``'s gaps as ``viewer`` may see them (the caller checked ``can_view_gaps``)."""
    prog = prog or current_program()
    if prog is None:
        return GapsView()
    session = db()
    if not competencies.competency_model(session, prog):
        return GapsView()
    return GapsView(True, competencies.visible_gaps(session, prog, person, viewer))


@lru_cache(maxsize=1)
def zone_names() -> list[str]:
    return sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))


def _levels_of(person: Person, relation: SkillRelation) -> dict[int, tuple[str, int | None]]:
    return {ps.skill_id: (ps.skill.name, ps.level) for ps in person.skills if ps.relation == relation}


def stored_rows(person: Person) -> dict[str, list[Row]]:
    """The person's lists as form rows: a wanted skill carries their self-assessed level."""
    has = _levels_of(person, SkillRelation.HAS)

    def text(level: int | None) -> str:
        return "" if level is None else str(level)

    def by_name(rel: SkillRelation) -> list[tuple[int, str, int | None]]:
        found = [(sid, name, level) for sid, (name, level) in _levels_of(person, rel).items()]
        return sorted(found, key=lambda t: t[1].casefold())

    return {
        "wants": [Row(name, text(has[sid][1] if sid in has else None))
                  for sid, name, _ in by_name(SkillRelation.WANTS)],
        "offers": [Row(name, text(level)) for _, name, level in by_name(SkillRelation.OFFERS)],
    }


def posted_rows() -> dict[str, list[Row]]:
    """Skill rows of each list the form posted, in order, renumbered from 0 (as the page shows them)."""
    indices: dict[str, set[int]] = {}
    for key in request.form:
        match = _ROW_KEY.match(key)
        if match:
            indices.setdefault(match.group(1), set()).add(int(match.group(2)))
    return {rel: [Row((request.form.get(f"{rel}-{k}-skill") or "").strip(),
                      (request.form.get(f"{rel}-{k}-level") or "").strip()) for k in sorted(ks)]
            for rel, ks in indices.items()}


PROFILE_ROWS = RowWords(clear_level="Enter the skill, or clear its level.",
                        duplicate="{skill} is already in this list.")


def check_rows(relation: str, rows: list[Row], errors: FormErrors) -> list[Chosen]:
    """Catalogue skills and levels of the filled rows; each problem goes next to its input."""
    chosen = check_skill_rows(relation, rows, errors, PROFILE_ROWS)
    if len(chosen) > MAX_SKILLS_PER_RELATION:
        errors[relation] = f"At most {MAX_SKILLS_PER_RELATION} skills per list."
    return chosen


def skill_lists(person: Person, wants: list[Chosen] | None, offers: list[Chosen] | None,
                ) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    """The lists for ``update_profile`` and where an error on each entry belongs on the form.

    A wanted skill keeps the level the person wants to reach (set elsewhere); its "my level
    now" replaces their self-assessed (``has``) level, and an empty one clears it. Levels of
    skills no longer wanted stay: they are still the person's levels.
    """
    lists: dict[str, list[dict[str, Any]]] = {}
    where: dict[str, str] = {}

    def place(rel: str, i: int, relation: str, row: int) -> None:
        where[f"{rel}[{i}].level"] = f"{relation}-{row}-level"
        where[f"{rel}[{i}]"] = f"{relation}-{row}-skill"

    if offers is not None:
        lists["offers"] = [{"name": c.skill.name, "level": c.level} for c in offers]
        for i, c in enumerate(offers):
            place("offers", i, "offers", c.row)
    if wants is not None:
        target = {sid: level for sid, (_, level) in _levels_of(person, SkillRelation.WANTS).items()}
        lists["wants"] = [{"name": c.skill.name, "level": target.get(c.skill.id)} for c in wants]
        wanted = {c.skill.id for c in wants}
        has = [{"name": name, "level": level}
               for sid, (name, level) in _levels_of(person, SkillRelation.HAS).items() if sid not in wanted]
        for i, c in enumerate(wants):
            place("wants", i, "wants", c.row)
            if c.level is not None:
                place("has", len(has), "wants", c.row)
                has.append({"name": c.skill.name, "level": c.level})
        lists["has"] = has
        where["has"] = "wants"
    return lists, where


def pending_of(person: Person) -> list[SkillReassessment]:
    return [r for r in followups.reassessments_for(db(), person) if r.state == ReassessmentState.PENDING]


def _page(person: Person, values: dict[str, str], rows: dict[str, list[Row]],
          errors: FormErrors | None = None, status: int = 200, answers: dict[int, str] | None = None) -> Any:
    shown = {rel: [*rows[rel], *[Row() for _ in range(EXTRA_ROWS)]] for rel in rows}
    prog = current_program()
    fields = profile_fields.fields(db(), prog) if prog is not None else []
    return render_template(
        "web/profile.html", me=person, values=values, rows=shown, errors=errors or FormErrors(),
        levels=LEVELS, zones=zone_names(), skills=[s["name"] for s in competencies.catalogue(db())],
        gaps=gaps_view(person, person), pending=pending_of(person), fields=fields,
        answers=profile_fields.answers(db(), person) | (answers or {}),
    ), status


@bp.get("/profile")
@signed_in()
def profile() -> Any:
    person = me()
    return _page(person, {name: getattr(person, name) for name in DETAILS}, stored_rows(person))


@bp.post("/profile")
@signed_in()
def profile_save() -> Any:
    """Save what the form posted; a field or skill list that was not posted is left as it is."""
    person = me()
    values = {name: request.form[name] for name in DETAILS if name in request.form}
    posted = posted_rows()
    errors = FormErrors()
    for name, value in values.items():
        try:
            if name == "time_zone":
                check_time_zone(value)
            else:
                check_text(value, name)
        except DomainError as exc:
            errors[name] = exc.message
    # only mentees keep a wanted list and only mentors an offered one; other posted rows are ignored
    wants = check_rows("wants", posted["wants"], errors) if person.is_mentee and "wants" in posted else None
    offers = (check_rows("offers", posted["offers"], errors)
              if person.is_mentor and "offers" in posted else None)
    prog = current_program()
    answers: dict[int, str] = {}
    try:  # the program's own profile fields, checked before anything is stored
        answers = profile_fields.check_answers(db(), prog, request.form) if prog is not None else {}
    except DomainError as exc:
        errors.add(exc)
    if not errors:
        lists, where = skill_lists(person, wants, offers)
        try:
            update_profile(db(), person, values, lists, actor=person)
            profile_fields.store_answers(db(), person, answers)
        except DomainError as exc:
            errors.add(exc, where)
    if errors:
        db().rollback()  # the service rolled its own work back; drop anything the checks loaded
        shown = {name: getattr(person, name) for name in DETAILS} | values
        posted_answers = {int(k[6:]): str(v) for k, v in request.form.items()
                          if k.startswith("field-") and k[6:].isdigit()}
        return _page(person, shown, stored_rows(person) | posted, errors, status=422, answers=posted_answers)
    flash("Profile saved.", "info")
    return redirect(url_for("web.profile"))

