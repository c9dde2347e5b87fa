"""The competency model (role -> skill -> target level) and each person's gaps against it.

A person's role is their job title, compared case- and spacing-insensitively, so a
program can describe "Account Executive: Salesforce CRM 4, Negotiation 3" and every
account executive sees where they stand. A gap is target minus self-assessed level
(no self-assessment counts as 0). Gaps feed the match score and are shown to the
person, their manager and admins - nobody else.

The catalogue helpers here (aliases, categories) let an admin make two spellings of
one skill meet, on top of the spelling-independent keys of ``services.skills``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from scheduling.db import get_row
from scheduling.errors import Conflict, Forbidden, NotFound, ValidationFailed
from scheduling.models import Competency, Person, PersonSkill, Program, Skill, SkillAlias, SkillRelation
from scheduling.services.safe_text import storable
from scheduling.services.skills import (
    check_level,
    clean_name,
    find_skill,
    get_or_create_skill,
    skill_key,
)
from scheduling.services.transaction import unit_of_work

ROLE_MAX = 200
CATEGORY_MAX = 120
MAX_TARGETS_PER_ROLE = 50


def role_key(role: str) -> str:
    """Title as compared: case-folded, whitespace collapsed."""
    return " ".join(role.casefold().split())


def _role(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise ValidationFailed("A role is text (a job title).", field)
    cleaned = " ".join(storable(value, field).split())
    if not cleaned:
        raise ValidationFailed("A role needs a name.", field)
    if len(cleaned) > ROLE_MAX:
        raise ValidationFailed(f"A role has at most {ROLE_MAX} characters.", field)
    return cleaned


# ---------------------------------------------------------------- the model


def competency_model(session: Session, program: Program) -> dict[str, list[dict[str, Any]]]:
    """``{role: [{"skill", "skill_id", "target_level"}]}`` sorted by role, then skill."""
    rows = session.scalars(select(Competency).where(Competency.program_id == program.id))
    out: dict[str, list[dict[str, Any]]] = {}
    for c in sorted(rows, key=lambda c: (c.role_key, c.skill.name.casefold())):
        out.setdefault(c.role, []).append(
            {"skill": c.skill.name, "skill_id": c.skill_id, "target_level": c.target_level}
        )
    return out


def set_role_targets(
    session: Session, program: Program, role: object, entries: object, *, field: str = "skills"
) -> list[Competency]:
    """Make the targets of ``role`` exactly ``entries`` (``[{"name", "level"}]``); [] removes the role.

    One transaction; a bad entry changes nothing.
    """
    with unit_of_work(session):
        rows = _replace_role(session, program, _role(role, "role"), entries, field)
        session.commit()
    return rows


def replace_model(session: Session, program: Program, model: object) -> dict[str, list[dict[str, Any]]]:
    """Replace the whole competency model: ``{role: [{"name", "level"}]}``; one transaction."""
    if not isinstance(model, Mapping):
        raise ValidationFailed("Send the model as {role: [{name, level}, ...]}.", "roles")
    with unit_of_work(session):
        keys = set()
        for role, entries in model.items():
            name = _role(role, "roles")
            if role_key(name) in keys:
                raise ValidationFailed(f"The role {name!r} is listed twice.", f"roles.{name}")
            keys.add(role_key(name))
            _replace_role(session, program, name, entries, f"roles.{name}")
        session.execute(delete(Competency).where(
            Competency.program_id == program.id, Competency.role_key.not_in(keys or {""})
        ))
        session.commit()
    return competency_model(session, program)


def _replace_role(
    session: Session, program: Program, role: str, entries: object, field: str
) -> list[Competency]:
    if not isinstance(entries, list):
        raise ValidationFailed("A role's targets are a list of {name, level}.", field)
    if len(entries) > MAX_TARGETS_PER_ROLE:
        raise ValidationFailed(f"At most {MAX_TARGETS_PER_ROLE} skills per role.", field)
    targets: dict[int, tuple[Skill, int]] = {}
    for i, entry in enumerate(entries):
        where = f"{field}[{i}]"
        if not isinstance(entry, Mapping) or set(entry) - {"name", "level"}:
            raise ValidationFailed("Each target is {name, level}.", where)
        level = check_level(entry.get("level"), f"{where}.level")
        if level is None:
            raise ValidationFailed("A target level from 1 to 5 is required.", f"{where}.level")
        skill = get_or_create_skill(session, clean_name(entry.get("name"), f"{where}.name"),
                                    field=f"{where}.name")
        if skill.id in targets:
            raise ValidationFailed(f"{skill.name!r} is listed twice for this role.", where)
        targets[skill.id] = (skill, level)
    key = role_key(role)
    existing = {c.skill_id: c for c in session.scalars(
        select(Competency).where(Competency.program_id == program.id, Competency.role_key == key)
    )}
    kept: list[Competency] = []
    for skill_id, row in existing.items():
        if skill_id not in targets:
            session.delete(row)
    for skill_id, (skill, level) in targets.items():
        row = existing.get(skill_id) or Competency(program_id=program.id, role_key=key, skill_id=skill_id,
                                                   skill=skill)
        row.role = role
        row.target_level = level
        session.add(row)
        kept.append(row)
    session.flush()
    return kept


# ---------------------------------------------------------------- gaps


@dataclass(frozen=True)
class Gap:
    """How far a person is from their role's target in one skill (``gap`` may be 0)."""

    skill_id: int
    skill: str
    target_level: int
    current_level: int | None

    @property
    def gap(self) -> int:
        return max(0, self.target_level - (self.current_level or 0))

    def as_dict(self) -> dict[str, Any]:
        return {"skill": self.skill, "skill_id": self.skill_id, "target_level": self.target_level,
                "current_level": self.current_level, "gap": self.gap}


def gaps_for(session: Session, program: Program, person: Person) -> list[Gap]:
    """Every target of the person's role with their self-assessed level; biggest gap first."""
    key = role_key(person.title or "")
    if not key:
        return []
    targets = session.execute(
        select(Competency.skill_id, Skill.name, Competency.target_level)
        .join(Skill, Skill.id == Competency.skill_id)
        .where(Competency.program_id == program.id, Competency.role_key == key)
    ).all()
    if not targets:
        return []
    has = dict(session.execute(
        select(PersonSkill.skill_id, PersonSkill.level).where(
            PersonSkill.person_id == person.id, PersonSkill.relation == SkillRelation.HAS
        )
    ).all())
    gaps = [Gap(sid, name, target, has.get(sid)) for sid, name, target in targets]
    return sorted(gaps, key=lambda g: (-g.gap, g.skill.casefold()))


def can_view_gaps(viewer: Person, person: Person) -> bool:
    """The person, their manager and admins see a person's gaps."""
    return viewer.id == person.id or viewer.is_admin or (
        person.manager_id is not None and person.manager_id == viewer.id
    )


def visible_gaps(session: Session, program: Program, person: Person, viewer: Person) -> list[Gap]:
    if not can_view_gaps(viewer, person):
        raise Forbidden("Only the person, their manager and admins see competency gaps.")
    return gaps_for(session, program, person)


# ---------------------------------------------------------------- catalogue


def catalogue(session: Session) -> list[dict[str, Any]]:
    """Every skill with its category and aliases, by name."""
    skills = session.scalars(select(Skill))
    return [
        {"id": s.id, "name": s.name, "category": s.category, "aliases": sorted(a.key for a in s.aliases)}
        for s in sorted(skills, key=lambda s: s.name.casefold())
    ]


def get_skill(session: Session, skill_id: int) -> Skill:
    skill = get_row(session, Skill, skill_id)
    if skill is None:
        raise NotFound("No such skill.")
    return skill


def known_skill(session: Session, name: object, field: str = "skill") -> Skill:
    """The catalogue skill ``name`` means (any spelling or alias); a name nobody added is refused.

    Pages let people pick only skills an admin put in the catalogue, so a typo never
    becomes a new skill that no mentor offers.
    """
    cleaned = clean_name(name, field)
    skill = find_skill(session, cleaned)
    if skill is None:
        raise ValidationFailed(
            f"{cleaned!r} is not in the skill catalogue; pick one from the list or ask an admin to add it.",
            field,
        )
    return skill


def add_skill(session: Session, name: object, *, category: object = "") -> Skill:
    """Add a catalogue skill; a name that already means a skill (any spelling, alias) is a conflict."""
    with unit_of_work(session):
        cleaned = clean_name(name, "name")
        if find_skill(session, cleaned) is not None:
            raise Conflict(f"{cleaned!r} is already in the catalogue.", "name")
        skill = Skill(name=cleaned, key=skill_key(cleaned), category=_category(category))
        session.add(skill)
        session.commit()
    return skill


def set_category(session: Session, skill: Skill, category: object) -> Skill:
    with unit_of_work(session):
        skill.category = _category(category)
        session.commit()
    return skill


def add_alias(session: Session, skill: Skill, alias: object) -> SkillAlias:
    """Make ``alias`` (any spelling) find ``skill``; refused if it already means a skill."""
    with unit_of_work(session):
        cleaned = clean_name(alias, "alias")
        other = find_skill(session, cleaned)
        if other is not None:
            what = "this skill" if other.id == skill.id else repr(other.name)
            raise Conflict(f"{cleaned!r} already means {what}.", "alias")
        row = SkillAlias(skill_id=skill.id, key=skill_key(cleaned))
        skill.aliases.append(row)
        session.commit()
    return row


def _category(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationFailed("A category is text.", "category")
    cleaned = " ".join(storable(value, "category").split())
    if len(cleaned) > CATEGORY_MAX:
        raise ValidationFailed(f"A category has at most {CATEGORY_MAX} characters.", "category")
    return cleaned
