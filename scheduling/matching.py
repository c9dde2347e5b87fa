"""Match scores: which mentors suit a mentee, with the facts behind each score.

score = skills (0..60)      wanted skills and competency gaps met by what the mentor
                            offers, each weighted by the mentor's level (level/5; no
                            level given counts as 3) and by the size of the gap
      + diversity (0..15)   other (or, if the program prefers, same) department: 10,
                            region: 5
      + free time (0..20)   shared bookable slots in the next 14 days, saturating at
                            10 slots (weekly-slot programs only)
      - load (0..30)        meetings this month against the mentor's own monthly cap
                            (full: 30); without a cap 2 per meeting, at most 10

Every component that counts adds a reason naming the fact used ("offers Salesforce
CRM at level 4", "free 6 shared slots in the next 14 days", "other department
(Finance)"). A mentor who declined the mentee before is ranked like anyone else.

Ranking all mentors is one batch: a handful of queries for everybody (no query per
mentor) and the ``freebusy`` slot engine with weekly expansions and grid candidates
shared between mentors whose availability is the same.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload

from freebusy.busy import BusySource
from scheduling.availability import BusyMap, shared_slot_counts
from scheduling.models import (
    AvailabilityMode,
    Meeting,
    Person,
    PersonSkill,
    Program,
    Recommendation,
    Skill,
    SkillRelation,
)
from scheduling.services.competencies import gaps_for
from scheduling.services.limits import COUNTED_MEETING_STATES, month_bounds, zone_of
from scheduling.services.validation import current_time

WINDOW_DAYS = 14
SKILL_POINTS = 60.0
DEPARTMENT_POINTS = 10.0
REGION_POINTS = 5.0
SLOT_POINTS = 20.0
SLOT_SATURATION = 10
LOAD_POINTS = 30.0
UNCAPPED_PER_MEETING = 2.0
UNCAPPED_MAX = 10.0
DEFAULT_OFFER_LEVEL = 3


@dataclass
class MentorMatch:
    """One mentor for one mentee: the score, the facts behind it, and shared free slots."""

    mentor: Person
    score: float
    reasons: list[str]
    shared_slots: int
    recommended: bool = False
    components: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Need:
    """A skill the mentee needs: wanted (weight 1) and/or a competency gap (weight grows with it)."""

    skill_id: int
    skill: str
    weight: float
    gap: int = 0


def mentee_needs(session: Session, program: Program, mentee: Person) -> dict[int, Need]:
    """What the mentee wants to learn plus the gaps of their role, by skill id, heaviest first.

    The order is the order reasons are given in, so it is settled once here, not per mentor.
    """
    needs: dict[int, Need] = {}
    wanted = session.execute(
        select(PersonSkill.skill_id, Skill.name)
        .join(Skill, Skill.id == PersonSkill.skill_id)
        .where(PersonSkill.person_id == mentee.id, PersonSkill.relation == SkillRelation.WANTS)
    )
    for skill_id, name in wanted:
        needs[skill_id] = Need(skill_id, name, 1.0)
    for g in gaps_for(session, program, mentee):
        if g.gap <= 0:
            continue
        weight = 1.0 + 0.25 * (g.gap - 1)
        prior = needs.get(g.skill_id)
        needs[g.skill_id] = Need(g.skill_id, g.skill, max(weight, prior.weight if prior else 0.0), g.gap)
    return dict(sorted(needs.items(), key=lambda item: (-item[1].weight, item[1].skill.casefold())))


def rank_mentors(
    session: Session,
    program: Program,
    mentee: Person,
    *,
    now: datetime | None = None,
    limit: int | None = None,
    busy: BusySource | BusyMap | None = None,
    mentor_ids: Collection[int] | None = None,
) -> list[MentorMatch]:
    """Active mentors (never the mentee themself), best match first.

    ``mentor_ids`` restricts the ranking to those mentors (e.g. admin-pushed ones).

    ``busy`` is calendar busy time as in :func:`scheduling.availability.busy_for`
    (a source, or an already-fetched ``{person_id: IntervalSet}``; None: the
    configured default). Ties go to more shared slots, then name.

    Everything but free time comes from a few bulk queries for all mentors. Free time
    is the expensive part, so with a ``limit`` it is computed best-first in batches and
    stops once no remaining mentor could reach the top ``limit`` even with the full
    free-time points; the answer is the same as ``rank_mentors(...)[:limit]``.
    """
    now = current_time(now)
    query = (
        select(Person.id, Person.name, Person.department, Person.region, Person.time_zone,
               Person.monthly_meeting_cap)
        .where(Person.is_mentor, Person.active, Person.id != mentee.id)
    )
    if mentor_ids is not None:
        query = query.where(Person.id.in_(list(mentor_ids)))
    rows = session.execute(query).all()
    if not rows or (limit is not None and limit <= 0):
        return []
    needs = mentee_needs(session, program, mentee)
    offers = _offers(session, needs)
    loads = _monthly_loads(session, rows, now)
    recommended = set(recommended_ids(session, program, mentee))
    scored = [
        _score(program, mentee, r, needs, offers.get(r.id, {}), loads.get(r.id, 0), r.id in recommended)
        for r in rows
    ]
    people: dict[int, Person] = {}
    if program.availability_mode == AvailabilityMode.WEEKLY_SLOTS:
        scored = _add_free_time(session, program, mentee, scored, now, limit, busy, people)
    scored.sort(key=_rank_key)
    if limit is not None:
        scored = scored[:limit]
    missing = [s.mentor_id for s in scored if s.mentor_id not in people]
    if missing:
        people.update(_people(session, missing, everyone=limit is None and mentor_ids is None))
    return [
        MentorMatch(people[s.mentor_id], round(sum(s.parts.values()), 2), s.reasons(), s.slots or 0,
                    s.recommended, s.parts)
        for s in scored
    ]


def _rank_key(s: _Scored) -> tuple[float, int, str, int]:
    return (-round(sum(s.parts.values()), 2), -(s.slots or 0), s.name.casefold(), s.mentor_id)


def _add_free_time(
    session: Session,
    program: Program,
    mentee: Person,
    scored: list[_Scored],
    now: datetime,
    limit: int | None,
    busy: BusySource | BusyMap | None,
    people: dict[int, Person],
) -> list[_Scored]:
    """Count shared slots (all mentors, or best-first until the top ``limit`` is settled).

    Fills ``people`` with the mentor rows it loaded, for the caller to reuse.
    """
    end = now + timedelta(days=WINDOW_DAYS)
    order = sorted(scored, key=lambda s: -s.base)
    batch = len(order) if limit is None else max(4 * limit, 200)
    done: list[_Scored] = []
    i = 0
    while i < len(order):
        if limit is not None and len(done) >= limit:
            kth = sorted((s.total for s in done), reverse=True)[limit - 1]
            if order[i].base + SLOT_POINTS < kth:
                break
        chunk = order[i:i + batch]
        i += batch
        everyone = len(chunk) == len(order) and len(order) > 1000
        people.update(_people(session, [s.mentor_id for s in chunk], everyone=everyone))
        counts = shared_slot_counts(session, program, [people[s.mentor_id] for s in chunk], mentee,
                                    now, end, now=now, busy=busy)
        for s in chunk:
            s.set_slots(counts.get(s.mentor_id, 0))
        done.extend(chunk)
    return done


def _people(session: Session, ids: Sequence[int], *, everyone: bool) -> dict[int, Person]:
    """Mentor rows by id in one query (their collections load lazily, only if used)."""
    query = select(Person).options(lazyload(Person.skills), lazyload(Person.weekly_slots))
    if everyone:
        query = query.where(Person.is_mentor, Person.active)
        return {p.id: p for p in session.scalars(query)}
    out: dict[int, Person] = {}
    for k in range(0, len(ids), 1000):
        out.update({p.id: p for p in session.scalars(query.where(Person.id.in_(ids[k:k + 1000])))})
    return out


def recommended_ids(session: Session, program: Program, mentee: Person) -> list[int]:
    """Mentors an admin pushed to this mentee, oldest push first."""
    return list(session.scalars(
        select(Recommendation.mentor_id)
        .where(Recommendation.program_id == program.id, Recommendation.mentee_id == mentee.id)
        .order_by(Recommendation.created_at, Recommendation.id)
    ))


def recommendations_for(
    session: Session, program: Program, mentee: Person, *, n: int = 5, now: datetime | None = None,
    busy: BusySource | BusyMap | None = None,
) -> list[MentorMatch]:
    """Every admin-pushed mentor first (in push order), then the best-ranked others up to ``n`` in all."""
    pushed_ids = recommended_ids(session, program, mentee)
    by_id = {m.mentor.id: m for m in
             (rank_mentors(session, program, mentee, now=now, busy=busy, mentor_ids=pushed_ids)
              if pushed_ids else [])}
    pushed = [by_id[i] for i in pushed_ids if i in by_id]
    room = max(0, n - len(pushed))
    if not room:
        return pushed
    ranked = rank_mentors(session, program, mentee, now=now, busy=busy, limit=room + len(pushed))
    return pushed + [m for m in ranked if m.mentor.id not in by_id][:room]


# ---------------------------------------------------------------- the score


@dataclass
class _Scored:
    """A mentor's score in the making: the parts known from bulk queries, then free time."""

    mentor_id: int
    name: str
    parts: dict[str, float]
    before: list[str]  # reasons before free time (recommended, skills, diversity)
    after: list[str]  # reasons after it (load)
    recommended: bool
    slots: int | None = None

    @property
    def base(self) -> float:
        return sum(v for k, v in self.parts.items() if k != "free_time")

    @property
    def total(self) -> float:
        return round(sum(self.parts.values()), 2)

    def set_slots(self, slots: int) -> None:
        self.slots = slots
        self.parts["free_time"] = SLOT_POINTS * min(slots, SLOT_SATURATION) / SLOT_SATURATION

    def reasons(self) -> list[str]:
        if self.slots is None:
            return [*self.before, *self.after]
        plural = "s" if self.slots != 1 else ""
        free = (f"free {self.slots} shared slot{plural} in the next {WINDOW_DAYS} days"
                if self.slots else f"no shared free time in the next {WINDOW_DAYS} days")
        return [*self.before, free, *self.after]


def _score(
    program: Program,
    mentee: Person,
    mentor: Any,
    needs: dict[int, Need],
    offered: dict[int, int | None],
    load: int,
    recommended: bool,
) -> _Scored:
    """Everything but free time, for a mentor row (id, name, department, region, cap)."""
    before: list[str] = []
    after: list[str] = []
    parts: dict[str, float] = {}
    if recommended:
        before.append("recommended by the program admin")

    total = sum(n.weight for n in needs.values())
    met = 0.0
    for need in needs.values():  # heaviest first (mentee_needs orders them)
        if need.skill_id not in offered:
            continue
        level = offered[need.skill_id]
        met += need.weight * (level or DEFAULT_OFFER_LEVEL) / 5
        at = f" at level {level}" if level else ""
        gap = f" (your gap: {need.gap} level{'s' if need.gap != 1 else ''})" if need.gap else ""
        before.append(f"offers {need.skill}{at}{gap}")
    parts["skills"] = SKILL_POINTS * met / total if total else 0.0

    parts["diversity"] = 0.0
    prefer_other = program.prefer_other_department
    for attr, points, noun in (("department", DEPARTMENT_POINTS, "department"),
                               ("region", REGION_POINTS, "region")):
        mine, theirs = _norm(getattr(mentee, attr)), _norm(getattr(mentor, attr))
        if not mine or not theirs:
            continue
        if (mine != theirs) == prefer_other:
            parts["diversity"] += points
            before.append(f"other {noun} ({getattr(mentor, attr)})" if prefer_other else f"same {noun}")

    cap = mentor.monthly_meeting_cap
    if cap:
        parts["load"] = -LOAD_POINTS * min(1.0, load / cap)
        if load >= cap:
            after.append(f"fully booked this month ({load} of {cap} meetings)")
        elif load:
            after.append(f"{load} of {cap} meetings booked this month")
    else:
        parts["load"] = -min(UNCAPPED_MAX, UNCAPPED_PER_MEETING * load)
        if load:
            after.append(f"{load} meeting{'s' if load != 1 else ''} this month")
    return _Scored(mentor.id, mentor.name, parts, before, after, recommended)


def _norm(value: str | None) -> str:
    return " ".join((value or "").casefold().split())


# ---------------------------------------------------------------- batch queries


def _offers(session: Session, needs: dict[int, Need]) -> dict[int, dict[int, int | None]]:
    """``{mentor_id: {skill_id: level}}`` for the needed skills only (one query)."""
    if not needs:
        return {}
    rows = session.execute(
        select(PersonSkill.person_id, PersonSkill.skill_id, PersonSkill.level).where(
            PersonSkill.relation == SkillRelation.OFFERS, PersonSkill.skill_id.in_(list(needs))
        )
    )
    out: dict[int, dict[int, int | None]] = defaultdict(dict)
    for person_id, skill_id, level in rows:
        out[person_id][skill_id] = level
    return out


def _monthly_loads(session: Session, mentors: Sequence[Any], now: datetime) -> dict[int, int]:
    """Counted meetings per mentor in the mentor's own calendar month of ``now`` (one query)."""
    zones = {m.id: zone_of(m) for m in mentors}
    bounds = {mid: month_bounds(now, z) for mid, z in zones.items()}
    lo = min(b[0] for b in bounds.values())
    hi = max(b[1] for b in bounds.values())
    rows = session.execute(
        select(Meeting.mentor_id, Meeting.start_at).where(
            Meeting.state.in_(COUNTED_MEETING_STATES), Meeting.start_at >= lo, Meeting.start_at < hi
        )
    )
    loads: dict[int, int] = defaultdict(int)
    for mentor_id, start in rows:
        b = bounds.get(mentor_id)
        if b is not None and b[0] <= start < b[1]:
            loads[mentor_id] += 1
    return loads


RECOMMENDED_IN_DIRECTORY = 5  # computed matches shown besides admin pushes when the directory is hidden


def visible_mentor_ids(session: Session, program: Program | None, viewer: Person) -> list[int] | None:
    """The mentors a viewer may find: ``None`` for all, or, where the program hides the
    directory from mentees, only their recommendations (admin pushes first, then best matches)."""
    if viewer.is_admin or program is None or not program.directory_hidden:
        return None
    return mentor_ids(recommendations_for(session, program, viewer, n=RECOMMENDED_IN_DIRECTORY))


def match_view(match: MentorMatch) -> dict[str, Any]:
    """JSON-ready (the mentor's public summary, score, reasons)."""
    m = match.mentor
    return {
        "mentor": {"id": m.id, "name": m.name, "title": m.title, "department": m.department,
                   "region": m.region, "time_zone": m.time_zone},
        "score": match.score,
        "reasons": list(match.reasons),
        "shared_slots": match.shared_slots,
        "recommended": match.recommended,
        "components": {k: round(v, 2) for k, v in match.components.items()},
    }


def mentor_ids(matches: Iterable[MentorMatch]) -> list[int]:
    return [m.mentor.id for m in matches]
