"""Who could mentor a competency gap (seed 004): mentors who offer the skill at or above the
person's role target (or, failing that, above the person's level), ranked for that person,
without paused mentors or mentors at their monthly cap. A manager (or an admin) recommends one
to their report: a pushed recommendation, whose email the rules always send."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling import matching
from scheduling.errors import Forbidden, NotFound, ValidationFailed
from scheduling.models import Person, PersonSkill, Program, Recommendation, SkillRelation
from scheduling.services import competencies
from scheduling.services.recommendations import _push
from scheduling.services.validation import current_time

LIMIT = 5


@dataclass(frozen=True)
class GapMentor:
    match: matching.MentorMatch
    level: int | None  # the level the mentor offers the skill at


def _gap(session: Session, program: Program, person: Person, skill_id: int) -> competencies.Gap:
    gap = next((g for g in competencies.gaps_for(session, program, person) if g.skill_id == skill_id), None)
    if gap is None:
        raise NotFound("That skill is not one of this person's role targets.")
    return gap


def mentors_for_gap(
    session: Session, program: Program, person: Person, viewer: Person, skill_id: int, *,
    limit: int = LIMIT, now: datetime | None = None,
) -> tuple[competencies.Gap, list[GapMentor]]:
    """The gap and the best mentors for it, as ``viewer`` (the person, their manager, an admin) may see."""
    if not competencies.can_view_gaps(viewer, person):
        raise Forbidden("Only the person, their manager and admins see competency gaps.")
    now = current_time(now)
    gap = _gap(session, program, person, skill_id)
    offered = dict(session.execute(
        select(PersonSkill.person_id, PersonSkill.level).where(
            PersonSkill.skill_id == skill_id, PersonSkill.relation == SkillRelation.OFFERS,
            PersonSkill.person_id != person.id)).all())
    enough = {pid for pid, level in offered.items() if (level or 0) >= gap.target_level}
    if not enough:  # nobody at the target: anyone above the person's level helps
        enough = {pid for pid, level in offered.items() if (level or 0) > (gap.current_level or 0)}
    if not enough:
        return gap, []
    ranked = matching.rank_mentors(session, program, person, now=now, mentor_ids=enough)
    usable = [m for m in ranked if not m.full]  # rank_mentors leaves paused mentors out
    usable.sort(key=lambda m: (-(offered.get(m.card.id) or 0), -m.score, m.card.name))
    return gap, [GapMentor(m, offered.get(m.card.id)) for m in usable[:limit]]


def recommend_for_gap(
    session: Session, program: Program, manager: Person, person: Person, skill_id: int, mentor_id: int,
) -> Recommendation:
    """The manager (or an admin) recommends a mentor for the person's gap; commits."""
    if not (manager.is_admin or (person.manager_id is not None and person.manager_id == manager.id)):
        raise Forbidden("Only the person's manager or an admin recommends mentors to them.")
    if not person.is_mentee:
        raise ValidationFailed(f"{person.name} does not take part as a mentee.", "person_id")
    gap = _gap(session, program, person, skill_id)
    _, found = mentors_for_gap(session, program, person, manager, skill_id, limit=1000)
    if mentor_id not in {g.match.card.id for g in found}:
        raise ValidationFailed(f"Pick one of the mentors listed for {gap.skill}.", "mentor_id")
    who = "Your manager" if person.manager_id == manager.id else "Your program admin"
    note = f"{who} {manager.name} suggests them for {gap.skill}."
    [row] = _push(session, program, manager, [(person.id, mentor_id, note)])
    return row
