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
CRM at level 4", "6 times free for you both in the next 14 days: easy to book", "from
another department (Finance): a fresh view"): the fact, and why it makes a good match.
A mentor who declined the mentee before is ranked like anyone else.

Ranking all mentors is one batch: a handful of queries for everybody (no query per
mentor), and free time counted for all of them at once by ``freebusy.batch`` (grid
starts memoised per weekly rules, busy time as arrays; see ``docs/performance.md``).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from operator import attrgetter
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload

from freebusy.busy import BusySource
from scheduling.availability import IN_LIST_LIMIT, BusyMap, shared_slot_counts
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
from scheduling.services.limits import COUNTED_MEETING_STATES, month_bounds
from scheduling.services.people import taking_requests
from scheduling.services.validation import current_time
from scheduling.zones import zone_named

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
MAX_SCORE = SKILL_POINTS + DEPARTMENT_POINTS + REGION_POINTS + SLOT_POINTS
ROTATION_BAND = 10.0  # scores this close are "about as good": rotated between mentees
ROTATION_POOL = 3  # recommendations are chosen among this many times as many ranked mentors


class MatchedMentor(NamedTuple):
    """What a ranking shows of a mentor, read as columns (no ``Person`` row, none of its
    relationships); ``id`` is also the busy-cache key (``freebusy.busy.key_of``). A tuple:
    five thousand are made per full ranking, and a frozen dataclass costs three times as much."""

    id: int
    name: str
    title: str
    department: str
    region: str
    time_zone: str


class _MentorRows:
    """The ``Person`` rows of a ranking's mentors, loaded in one query the first time any is asked for.

    A ranking scores from columns; pages that need more of a mentor (offered skills, pauses)
    read ``MentorMatch.mentor`` within the same session, and then pay for the rows once.
    """

    def __init__(self, session: Session, ids: Sequence[int]) -> None:
        self._session = session
        self._ids = ids
        self._rows: dict[int, Person] | None = None

    def __getitem__(self, mentor_id: int) -> Person:
        if self._rows is None:
            self._rows = _people(self._session, self._ids)
        return self._rows[mentor_id]


@dataclass(slots=True)
class MentorMatch:
    """One mentor for one mentee: the score, the facts behind it, and shared free slots."""

    card: MatchedMentor
    score: float
    reasons: list[str]
    shared_slots: int
    recommended: bool = False
    components: dict[str, float] = field(default_factory=dict)
    full: bool = False  # the mentor's own monthly cap is used up
    rows: _MentorRows | None = field(default=None, repr=False, compare=False)

    @property
    def mentor(self) -> Person:
        """The mentor's ``Person`` row (all the ranking's rows load in one query on first use)."""
        if self.rows is None:
            raise LookupError("this match was made without a session to load its mentor from")
        return self.rows[self.card.id]

    @property
    def percent(self) -> int:
        """The score as "NN% match" (of the most a mentor can score), for pages."""
        return match_percent(self.score)


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
    if limit is not None and limit <= 0:
        return []
    query = (
        select(Person.id, Person.name, Person.title, Person.department, Person.region, Person.time_zone,
               Person.monthly_meeting_cap, Person.weekly_rules_version)
        .where(Person.is_mentor, Person.active, Person.id != mentee.id, taking_requests(now))
    )
    if mentor_ids is not None:
        query = query.where(Person.id.in_(list(mentor_ids)))
    rows = session.execute(query).all()
    if not rows:
        return []
    scorer = _Scorer(program, mentee, mentee_needs(session, program, mentee))
    offers = _offers(session, scorer.needs)
    loads = _monthly_loads(session, rows, now)
    recommended = set(recommended_ids(session, program, mentee))
    scored = [scorer.score(mentor_id, name, department, region, cap, offers, loads, recommended)
              for mentor_id, name, _title, department, region, _zone, cap, _version in rows]
    cards = _Cards(rows)
    if limit is None:  # every mentor comes back
        for row in rows:
            cards[row[0]]
    versions = {row[0]: row[7] for row in rows}
    del rows
    if program.availability_mode == AvailabilityMode.WEEKLY_SLOTS:
        scored = _add_free_time(session, program, mentee, scored, now, limit, busy, cards, versions)
    scored.sort(key=_rank_key)
    if limit is not None:
        scored = scored[:limit]
    mentor_rows = _MentorRows(session, [s.mentor_id for s in scored])
    return [
        MentorMatch(cards[s.mentor_id], s.total, s.reasons(), s.slots or 0, s.recommended, s.parts, s.full,
                    mentor_rows)
        for s in scored
    ]


class _Cards(dict[int, MatchedMentor]):
    """A ranking's :class:`MatchedMentor` per id, made from the query's rows when first asked
    for (a top-20 ranking makes a few hundred, not one per mentor); a dict, so a card made
    already is found at C speed."""

    def __init__(self, rows: Sequence[Any]) -> None:
        super().__init__()
        self._rows = {row[0]: row for row in rows}

    def __missing__(self, mentor_id: int) -> MatchedMentor:
        card = self[mentor_id] = MatchedMentor._make(self._rows[mentor_id][:6])
        return card


def _rank_key(s: _Scored) -> tuple[float, int, str, int]:
    return (-s.total, -(s.slots or 0), s.name.casefold(), s.mentor_id)


def _add_free_time(
    session: Session,
    program: Program,
    mentee: Person,
    scored: list[_Scored],
    now: datetime,
    limit: int | None,
    busy: BusySource | BusyMap | None,
    cards: _Cards,
    rules_versions: Mapping[int, int],
) -> list[_Scored]:
    """Count shared slots (all mentors, or best-first until the top ``limit`` is settled)."""
    end = now + timedelta(days=WINDOW_DAYS)
    order = scored if limit is None else sorted(scored, key=attrgetter("base"), reverse=True)
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
        counts = shared_slot_counts(session, program, [cards[s.mentor_id] for s in chunk], mentee,
                                    now, end, now=now, busy=busy, rules_versions=rules_versions)
        for s in chunk:
            s.set_slots(counts.get(s.mentor_id, 0))
        done.extend(chunk)
    return done


def _people(session: Session, ids: Sequence[int]) -> dict[int, Person]:
    """Mentor rows by id, a thousand per query (their collections load lazily, only if used)."""
    query = select(Person).options(lazyload(Person.skills), lazyload(Person.weekly_slots))
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
    by_id = {m.card.id: m for m in
             (rank_mentors(session, program, mentee, now=now, busy=busy, mentor_ids=pushed_ids)
              if pushed_ids else [])}
    pushed = [by_id[i] for i in pushed_ids if i in by_id]
    room = max(0, n - len(pushed))
    if not room:
        return pushed
    ranked = rank_mentors(session, program, mentee, now=now, busy=busy,
                          limit=(room + len(pushed)) * ROTATION_POOL)
    others = [m for m in ranked if m.card.id not in by_id and not m.full]
    return pushed + rotate(others, mentee.id, current_time(now))[:room]


def rotate(matches: Sequence[MentorMatch], mentee_id: int, now: datetime) -> list[MentorMatch]:
    """Fair rotation: mentors whose scores fall in the same ``ROTATION_BAND`` are about equally good,
    so their order is shuffled per mentee and per week (stable within the week). A clearly better
    mentor still comes first, but one popular mentor is no longer shown to every mentee."""
    week = now.isocalendar()[:2]

    def key(m: MentorMatch) -> tuple[int, str]:
        digest = hashlib.blake2b(f"{mentee_id}:{m.card.id}:{week}".encode(), digest_size=8).hexdigest()
        return (-int(m.score // ROTATION_BAND), digest)

    return sorted(matches, key=key)


def match_percent(score: float) -> int:
    """A score as a percentage of the most a mentor can score (skills, diversity, free time)."""
    return max(0, min(100, round(100 * score / MAX_SCORE)))


# ---------------------------------------------------------------- the score


@dataclass(slots=True)
class _Scored:
    """A mentor's score in the making: the parts known from bulk queries, then free time."""

    mentor_id: int
    name: str
    parts: dict[str, float]
    before: tuple[str, ...]  # reasons before free time (recommended, skills, diversity)
    after: tuple[str, ...]  # reasons after it (load)
    recommended: bool
    base: float  # everything but free time (skills + diversity + load, summed in that order)
    total: float  # the score, rounded
    slots: int | None = None
    full: bool = False

    def set_slots(self, slots: int) -> None:
        self.slots = slots
        free = self.parts["free_time"] = SLOT_POINTS * min(slots, SLOT_SATURATION) / SLOT_SATURATION
        self.total = round(self.base + free, 2)  # == round(sum(parts.values()), 2), same order

    def reasons(self) -> list[str]:
        if self.slots is None:
            return [*self.before, *self.after]
        return [*self.before, _free_time_reason(self.slots), *self.after]


@lru_cache(maxsize=1024)
def _free_time_reason(slots: int) -> str:
    """The free-time reason for a number of shared slots (a few dozen numbers: made once each)."""
    plural = "s" if slots != 1 else ""
    return (f"{slots} time{plural} free for you both in the next {WINDOW_DAYS} days: easy to book"
            if slots else f"no shared free time in the next {WINDOW_DAYS} days: hard to book soon")


def _diversity_reason(attr: str, value: str | None, *, other: bool) -> str:
    """Why a mentor's department or region counts: a fresh view from elsewhere, or shared context."""
    if other:
        return f"from another {attr} ({value}): a fresh view" if attr == "department" else \
            f"from another {attr} ({value}): a different perspective"
    return f"same {attr} as you: knows your context"


class _Scorer:
    """Scores mentors for one mentee: what depends only on the mentee and program is settled once
    (including the diversity points and reason for each department or region name seen)."""

    def __init__(self, program: Program, mentee: Person, needs: dict[int, Need]) -> None:
        self.needs = needs
        self.total_weight = sum(n.weight for n in needs.values())
        self.prefer_other = program.prefer_other_department
        self.mine = {"department": _norm(mentee.department), "region": _norm(mentee.region)}
        self._diversities: dict[tuple[str | None, str | None], tuple[float, list[str]]] = {}
        self._plain: dict[tuple[str | None, str | None, int | None], _Scored] = {}

    def _diversity(self, department: str | None, region: str | None) -> tuple[float, list[str]]:
        """Diversity points and reasons for a mentor's department and region (memoised per pair)."""
        found = self._diversities.get((department, region))
        if found is None:
            points, reasons = 0.0, []
            for attr, value, worth in (("department", department, DEPARTMENT_POINTS),
                                       ("region", region, REGION_POINTS)):
                mine, theirs = self.mine[attr], _norm(value)
                if mine and theirs and (mine != theirs) == self.prefer_other:
                    points += worth
                    reasons.append(_diversity_reason(attr, value, other=self.prefer_other))
            found = self._diversities[(department, region)] = (points, reasons)
        return found

    def score(
        self,
        mentor_id: int,
        name: str,
        department: str | None,
        region: str | None,
        cap: int | None,
        offers: Mapping[int, dict[int, int | None]],
        loads: Mapping[int, int],
        recommended_ids: Collection[int],
    ) -> _Scored:
        """Everything but free time, for a mentor's columns (plain values: attribute lookups
        on five thousand result rows cost more than the scoring)."""
        if mentor_id not in offers and mentor_id not in loads and mentor_id not in recommended_ids:
            # Most mentors: nothing offered that is needed, no meetings, not pushed. Their score
            # depends on department, region and cap only: worked out once per combination.
            key = (department, region, cap)
            plain = self._plain.get(key)
            if plain is None:
                plain = self._plain[key] = self._score(0, "", department, region, cap, {}, {}, ())
            return _Scored(mentor_id, name, dict(plain.parts), plain.before, plain.after, False, plain.base,
                           plain.total, full=plain.full)
        return self._score(mentor_id, name, department, region, cap, offers, loads, recommended_ids)

    def _score(
        self,
        mentor_id: int,
        name: str,
        department: str | None,
        region: str | None,
        cap: int | None,
        offers: Mapping[int, dict[int, int | None]],
        loads: Mapping[int, int],
        recommended_ids: Collection[int],
    ) -> _Scored:
        offered = offers.get(mentor_id)
        load = loads.get(mentor_id, 0)
        recommended = mentor_id in recommended_ids
        before: list[str] = []
        after: list[str] = []
        if recommended:
            before.append("recommended by the program admin")

        met = 0.0
        if offered:
            for need in self.needs.values():  # heaviest first (mentee_needs orders them)
                if need.skill_id not in offered:
                    continue
                level = offered[need.skill_id]
                met += need.weight * (level or DEFAULT_OFFER_LEVEL) / 5
                at = f" at level {level}" if level else ""
                gap = f" (your gap: {need.gap} level{'s' if need.gap != 1 else ''})" if need.gap else ""
                before.append(f"offers {need.skill}{at}{gap}")
        skills = SKILL_POINTS * met / self.total_weight if self.total_weight else 0.0

        diversity, reasons = self._diversity(department, region)
        before += reasons

        full = cap is not None and load >= cap
        if cap:
            load_part = -LOAD_POINTS * min(1.0, load / cap)
            if load >= cap:
                after.append(f"fully booked this month ({load} of {cap} meetings)")
            elif load:
                after.append(f"{load} of {cap} meetings booked this month")
        else:
            load_part = -min(UNCAPPED_MAX, UNCAPPED_PER_MEETING * load)
            if load:
                after.append(f"{load} meeting{'s' if load != 1 else ''} this month")
        base = skills + diversity + load_part
        # Tuples of strings: the garbage collector stops tracking them at once (5,000 lists it would not).
        return _Scored(mentor_id, name, {"skills": skills, "diversity": diversity, "load": load_part},
                       tuple(before), tuple(after), recommended, base, round(base, 2), full=full)


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
    """Counted meetings per mentor in the mentor's own calendar month of ``now`` (one query).

    Each meeting comes with its mentor's zone, so only mentors with meetings cost anything.
    """
    # Every zone's month of ``now`` lies within these bounds (offsets are within +-14 h).
    lo, hi = month_bounds(now - timedelta(days=1), UTC)[0], month_bounds(now + timedelta(days=1), UTC)[1]
    ids = {m.id for m in mentors} if len(mentors) <= IN_LIST_LIMIT else None
    query = (
        select(Meeting.mentor_id, Meeting.start_at, Person.time_zone)
        .join(Person, Person.id == Meeting.mentor_id)
        .where(Meeting.state.in_(COUNTED_MEETING_STATES), Meeting.start_at >= lo - timedelta(days=1),
               Meeting.start_at < hi + timedelta(days=1))
    )
    if ids is not None:
        query = query.where(Meeting.mentor_id.in_(list(ids)))
    bounds: dict[str, tuple[datetime, datetime]] = {}
    loads: dict[int, int] = defaultdict(int)
    for mentor_id, start, time_zone in session.execute(query):
        b = bounds.get(time_zone)
        if b is None:
            b = bounds[time_zone] = month_bounds(now, zone_named(time_zone))
        if b[0] <= start < b[1]:
            loads[mentor_id] += 1
    return loads




def monthly_loads(session: Session, mentors: Sequence[Any], now: datetime) -> dict[int, int]:
    """Counted meetings per mentor in their own calendar month of ``now``."""
    return _monthly_loads(session, mentors, now)


def match_view(match: MentorMatch) -> dict[str, Any]:
    """JSON-ready (the mentor's public summary, score, reasons)."""
    m = match.card
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
    return [m.card.id for m in matches]
