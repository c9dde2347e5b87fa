"""The skill catalogue: one row per skill however people spell it.

Skills are typed in by people and imported from HR files, so "CRM - Salesforce",
"salesforce crm" and "Salesforce CRM" must all land on one skill. A skill's
``key`` is the spelling-independent form (:func:`skill_key`); a
:class:`~scheduling.models.SkillAlias` adds further keys (e.g. "sfdc") that
point at an existing skill. These helpers never commit: they are building blocks
for services that do.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling.errors import ValidationFailed
from scheduling.models import Person, PersonSkill, Skill, SkillAlias, SkillRelation
from scheduling.services.safe_text import is_storable, storable

NAME_MAX = 120
MAX_SKILLS_PER_RELATION = 50
# "+" and "#" carry meaning in skill names (C++, C#, F#), so they stay part of a word.
_WORD = re.compile(r"[^\W_]+[+#]*|[+#]+", re.UNICODE)


def skill_key(name: str) -> str:
    """Lower-case words of ``name``, punctuation dropped, in sorted order, each once.

    Word order is ignored so "CRM - Salesforce" and "Salesforce CRM" meet.
    """
    folded = unicodedata.normalize("NFKC", name).casefold()
    return " ".join(sorted(set(_WORD.findall(folded))))


def clean_name(name: object, field: str = "skill") -> str:
    """A display name: text, whitespace collapsed, not empty, at most ``NAME_MAX`` characters."""
    if not isinstance(name, str):
        raise ValidationFailed("A skill name must be text.", field)
    cleaned = " ".join(storable(name, field).split())
    if not cleaned or not skill_key(cleaned):
        raise ValidationFailed("A skill name needs at least one letter or digit.", field)
    if len(cleaned) > NAME_MAX:
        raise ValidationFailed(f"A skill name has at most {NAME_MAX} characters.", field)
    return cleaned


def find_skill(session: Session, name: str) -> Skill | None:
    """The catalogue skill ``name`` stands for (by key, then by alias), or None."""
    key = skill_key(name) if isinstance(name, str) and is_storable(name) else ""
    if not key:
        return None
    skill = session.scalar(select(Skill).where(Skill.key == key))
    if skill is not None:
        return skill
    alias = session.scalar(select(SkillAlias).where(SkillAlias.key == key))
    return alias.skill if alias is not None else None


def get_or_create_skill(session: Session, name: str, *, field: str = "skill") -> Skill:
    """The catalogue skill for ``name``, added (not committed) when no key or alias matches."""
    cleaned = clean_name(name, field)
    existing = find_skill(session, cleaned)
    if existing is not None:
        return existing
    skill = Skill(name=cleaned, key=skill_key(cleaned))
    session.add(skill)
    session.flush()
    return skill


@dataclass(frozen=True)
class SkillLevel:
    """One entry of a person's skill list: a name and an optional level 1..5."""

    name: str
    level: int | None = None


def check_level(level: object, field: str) -> int | None:
    if level is None:
        return None
    if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 5:
        raise ValidationFailed("A skill level is a whole number from 1 to 5.", field)
    return level


def parse_skill_entries(entries: object, field: str) -> list[SkillLevel]:
    """Accept ``["Python", {"name": "SQL", "level": 4}, ...]``; errors name the entry."""
    if not isinstance(entries, list):
        raise ValidationFailed(f"{field} must be a list of skills.", field)
    if len(entries) > MAX_SKILLS_PER_RELATION:
        raise ValidationFailed(f"At most {MAX_SKILLS_PER_RELATION} skills per list.", field)
    parsed: list[SkillLevel] = []
    for i, entry in enumerate(entries):
        where = f"{field}[{i}]"
        if isinstance(entry, str):
            parsed.append(SkillLevel(clean_name(entry, where)))
        elif isinstance(entry, dict):
            unknown = set(entry) - {"name", "level"}
            if unknown:
                raise ValidationFailed(f"Unknown key {sorted(unknown)[0]!r} in a skill entry.", where)
            parsed.append(
                SkillLevel(clean_name(entry.get("name"), f"{where}.name"),
                           check_level(entry.get("level"), f"{where}.level"))
            )
        else:
            raise ValidationFailed("A skill is a name or {name, level}.", where)
    return parsed


def replace_skills(
    session: Session,
    person: Person,
    relation: SkillRelation,
    entries: Sequence[SkillLevel],
    *,
    field: str = "skills",
) -> list[PersonSkill]:
    """Make ``person``'s skills of ``relation`` exactly ``entries`` (no commit).

    Two entries naming the same catalogue skill are refused rather than merged,
    so the person learns their list had a duplicate.
    """
    chosen: dict[int, tuple[Skill, int | None]] = {}
    for i, entry in enumerate(entries):
        level = check_level(entry.level, f"{field}[{i}].level")
        skill = get_or_create_skill(session, entry.name, field=f"{field}[{i}]")
        if skill.id in chosen:
            raise ValidationFailed(f"{entry.name!r} is listed twice (as {skill.name!r}).", f"{field}[{i}]")
        chosen[skill.id] = (skill, level)

    kept: list[PersonSkill] = []
    for ps in list(person.skills):
        if ps.relation != relation:
            continue
        if ps.skill_id in chosen:
            ps.level = chosen.pop(ps.skill_id)[1]
            kept.append(ps)
        else:
            person.skills.remove(ps)
    for skill, level in chosen.values():
        ps = PersonSkill(skill=skill, skill_id=skill.id, relation=relation, level=level)
        person.skills.append(ps)
        kept.append(ps)
    session.flush()
    return kept


def skills_of(person: Person, relation: SkillRelation) -> list[dict[str, object]]:
    """``[{"name", "level"}]`` sorted by name, for profiles."""
    return [
        {"name": ps.skill.name, "level": ps.level}
        for ps in sorted(person.skills, key=lambda p: p.skill.name.casefold())
        if ps.relation == relation
    ]


def skill_ids(session: Session, names: Iterable[str]) -> list[int]:
    """Ids of the catalogue skills the names stand for; unknown names are skipped."""
    ids = []
    for name in names:
        skill = find_skill(session, name)
        if skill is not None:
            ids.append(skill.id)
    return ids
