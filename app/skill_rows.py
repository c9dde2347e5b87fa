"""Rows of a skill and a level in a form: a person's skill lists (profile) and a role's targets (admin).

Both forms check a row the same way: a level without a skill, a level that is not 1-5, a
skill the catalogue does not know (under any spelling) and a skill listed twice are each
reported next to their own input. Only the wording differs, and whether a level is required.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass

from app.db import db
from app.form_values import as_int_or_text
from scheduling.errors import DomainError
from scheduling.models import Skill
from scheduling.services.competencies import known_skill
from scheduling.services.skills import check_level


@dataclass
class Row:
    """One skill row of a form, as text (what was shown or posted)."""

    skill: str = ""
    level: str = ""


@dataclass
class Chosen:
    skill: Skill
    level: int | None
    row: int


@dataclass(frozen=True)
class RowWords:
    clear_level: str  # a level was given without a skill
    duplicate: str  # "{skill}" is replaced by the skill's name
    level_required: str | None = None  # None: the level may be left empty


def check_skill_rows(prefix: str, rows: list[Row], errors: MutableMapping[str, str], words: RowWords
                     ) -> list[Chosen]:
    """Catalogue skills and levels of the filled rows (inputs ``<prefix>-<k>-skill|level``)."""
    chosen: list[Chosen] = []
    seen: set[int] = set()
    for k, row in enumerate(rows):
        skill_field, level_field = f"{prefix}-{k}-skill", f"{prefix}-{k}-level"
        if not row.skill:
            if row.level:
                errors[skill_field] = words.clear_level
            continue
        level = None
        try:
            level = check_level(as_int_or_text(row.level), level_field) if row.level else None
            if level is None and words.level_required:
                errors[level_field] = words.level_required
        except DomainError as exc:
            errors[level_field] = exc.message
        try:
            skill = known_skill(db(), row.skill, skill_field)
        except DomainError as exc:
            errors[skill_field] = exc.message
            continue
        if skill.id in seen:
            errors[skill_field] = words.duplicate.format(skill=skill.name)
            continue
        seen.add(skill.id)
        chosen.append(Chosen(skill, level, k))
    return chosen
