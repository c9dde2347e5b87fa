"""The skill catalogue (skills, categories, aliases) and the competency model (role -> skill -> target).

Catalogue changes are one ``scheduling.services.competencies`` call each. A role of the
model is edited as a whole: its name (a job title, so renaming is allowed) and its rows
of skill and target level. Rows are checked first so every problem shows next to its
input; skills must already be in the catalogue, so a typo never adds a skill. The role
is then saved with :func:`competencies.replace_model` (the whole model in one
transaction), which makes a rename atomic. A refused form saves nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flask import flash, render_template, request

from app.admin import bp
from app.admin.forms import FieldErrors, back_to, form_text
from app.db import db
from app.skill_rows import Row, RowWords, check_skill_rows
from scheduling.errors import DomainError
from scheduling.models import Program
from scheduling.services import competencies as svc
from scheduling.services.program import get_program

EXTRA_ROWS = 3
LEVELS = ("1", "2", "3", "4", "5")
_ROW_KEY = re.compile(r"^(skill|level)-(\d{1,3})$")
_DOMAIN_ROW = re.compile(r"^roles\.(?P<role>.*)\[(?P<i>\d+)\](?P<rest>\.level|\.name)?$")


@dataclass
class RoleForm:
    """One role's form: ``key`` prefixes its input ids ("r0", "r1", ... or "new")."""

    key: str
    original: str  # the stored role name; "" for a new role
    name: str
    rows: list[Row] = field(default_factory=list)


def _model(program: Program) -> dict[str, list[dict[str, Any]]]:
    return svc.competency_model(db(), program)


def role_forms(program: Program, posted: RoleForm | None = None) -> list[RoleForm]:
    """A form per stored role and one for a new role; ``posted`` replaces the form it came from."""
    forms = [RoleForm(f"r{i}", role, role, [Row(t["skill"], str(t["target_level"])) for t in targets])
             for i, (role, targets) in enumerate(_model(program).items())]
    forms.append(RoleForm("new", "", ""))
    if posted is not None:
        forms = [posted if f.key == posted.key else f for f in forms]
    for f in forms:
        f.rows = [*f.rows, *[Row() for _ in range(EXTRA_ROWS)]]
    return forms


def _render(errors: FieldErrors | None = None, values: dict[str, str] | None = None,
            posted: RoleForm | None = None, status: int = 200) -> Any:
    session = db()
    program = get_program(session)
    q = (request.args.get("q") or "").strip()[:120]
    skills = svc.catalogue(session)
    shown = [s for s in skills if _matches(s, q)] if q else skills
    return render_template(
        "admin/skills.html", skills=shown, total=len(skills), q=q, roles=role_forms(program, posted),
        names=[s["name"] for s in skills], categories=sorted({s["category"] for s in skills if s["category"]},
                                                            key=str.casefold),
        levels=LEVELS, errors=errors or {}, values=values or {},
    ), status


def _matches(skill: dict[str, Any], q: str) -> bool:
    low = q.casefold()
    return any(low in text.casefold() for text in (skill["name"], skill["category"], *skill["aliases"]))


def _refused(exc: DomainError, field_id: str, values: dict[str, str]) -> Any:
    db().rollback()
    return _render({field_id: exc.message}, values, status=exc.status)


# ---------------------------------------------------------------- catalogue


@bp.get("/skills")
def skills_page() -> Any:
    return _render()


@bp.post("/skills")
def skills_add() -> Any:
    name, category = form_text("name"), form_text("category")
    try:
        skill = svc.add_skill(db(), name, category=category)
    except DomainError as exc:
        target = "new_category" if exc.field == "category" else "new_name"
        return _refused(exc, target, {"new_name": name, "new_category": category})
    flash(f"Added {skill.name} to the catalogue.", "success")
    return back_to("admin.skills_page")


@bp.post("/skills/<int:skill_id>/category")
def skills_category(skill_id: int) -> Any:
    session = db()
    skill = svc.get_skill(session, skill_id)
    category = form_text("category")
    try:
        svc.set_category(session, skill, category)
    except DomainError as exc:
        return _refused(exc, f"category-{skill_id}", {f"category-{skill_id}": category})
    flash(f"{skill.name}: category {'set to ' + skill.category if skill.category else 'cleared'}.", "success")
    return back_to("admin.skills_page")


@bp.post("/skills/<int:skill_id>/alias")
def skills_alias(skill_id: int) -> Any:
    session = db()
    skill = svc.get_skill(session, skill_id)
    alias = form_text("alias")
    try:
        svc.add_alias(session, skill, alias)
    except DomainError as exc:
        return _refused(exc, f"alias-{skill_id}", {f"alias-{skill_id}": alias})
    flash(f"“{alias}” now finds {skill.name}.", "success")
    return back_to("admin.skills_page")


# ---------------------------------------------------------------- competency model


def _posted_role(program: Program) -> RoleForm:
    """The posted role form, keyed like the form it was shown in."""
    original = form_text("original")
    roles = list(_model(program))
    keys = [svc.role_key(r) for r in roles]
    key = f"r{keys.index(svc.role_key(original))}" if original and svc.role_key(original) in keys else "new"
    indices = sorted({int(m.group(2)) for k in request.form if (m := _ROW_KEY.match(k))})
    rows = [Row(form_text(f"skill-{i}"), form_text(f"level-{i}")) for i in indices]
    return RoleForm(key, original, " ".join(form_text("role").split()), rows)


ROLE_ROWS = RowWords(
    clear_level="Enter the skill, or clear its target level.",
    duplicate="{skill} is already listed for this role.",
    level_required="A target level from 1 to 5 is required.",
)


def _check_rows(form: RoleForm, errors: FieldErrors) -> list[tuple[dict[str, Any], int]]:
    """``({"name", "level"}, row)`` for the filled rows; each problem next to its input."""
    entries = [({"name": c.skill.name, "level": c.level}, c.row)
               for c in check_skill_rows(form.key, form.rows, errors, ROLE_ROWS)]
    if not entries and not errors:
        errors[f"{form.key}-0-skill"] = "Give the role at least one skill with a target level."
    return entries


def _domain_field(exc: DomainError, form: RoleForm, rows: list[int]) -> str:
    """Where a ``replace_model`` error belongs on the role's form."""
    match = _DOMAIN_ROW.match(exc.field or "")
    if match and match.group("role") == form.name and int(match.group("i")) < len(rows):
        k = rows[int(match.group("i"))]
        return f"{form.key}-{k}-level" if match.group("rest") == ".level" else f"{form.key}-{k}-skill"
    return f"{form.key}-role"


@bp.post("/skills/roles")
def roles_save() -> Any:
    session = db()
    program = get_program(session)
    form = _posted_role(program)
    errors: FieldErrors = {}
    model = _model(program)
    if not form.name:
        errors[f"{form.key}-role"] = "A role needs a name: the job title people in it have."
    elif svc.role_key(form.name) != svc.role_key(form.original) and any(
        svc.role_key(r) == svc.role_key(form.name) for r in model
    ):
        errors[f"{form.key}-role"] = f"There is already a role “{form.name}”; change that one instead."
    checked = _check_rows(form, errors)
    if not errors:
        new_model = {role: [{"name": t["skill"], "level": t["target_level"]} for t in targets]
                     for role, targets in model.items() if svc.role_key(role) != svc.role_key(form.original)}
        new_model[form.name] = [entry for entry, _ in checked]
        try:
            svc.replace_model(session, program, new_model)
        except DomainError as exc:
            errors[_domain_field(exc, form, [k for _, k in checked])] = exc.message
    if errors:
        session.rollback()
        return _render(errors, posted=form, status=422)
    flash(f"Saved the targets for {form.name}.", "success")
    return back_to("admin.skills_page", _anchor="model")


@bp.post("/skills/roles/remove")
def roles_remove() -> Any:
    session = db()
    program = get_program(session)
    original = form_text("original")
    if not any(svc.role_key(r) == svc.role_key(original) for r in _model(program)):
        return _render({"_form": f"There is no role “{original}” to remove."}, status=404)
    svc.set_role_targets(session, program, original, [])
    flash(f"Removed the role {original} from the competency model.", "success")
    return back_to("admin.skills_page", _anchor="model")
