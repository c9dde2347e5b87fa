"""Who is free with me: mentors ranked by the slots they share with a mentee (``GET /mentors/free``).

Reads only what the answer shows and the count needs: one row of columns per mentor
(:class:`MentorCard`, no ``Person`` object, none of its relationships), the weekly rules as
one string per mentor (memoised grids, ``freebusy.batch``), and everyone's busy time in
one read of the busy cache. The counts are ``scheduling.availability.shared_slot_counts``'s,
the same as ``bookable_slots`` listed one mentor at a time (tests/test_free_mentors.py).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from scheduling.availability import shared_slot_counts
from scheduling.models import Person, PersonSkill, Program, SkillRelation
from scheduling.services.people import taking_requests
from scheduling.services.validation import current_time


class MentorCard(NamedTuple):
    """What a list of mentors shows of one; ``id`` is also the busy-cache key (``freebusy.busy.key_of``).
    A tuple: a thousand are made per request, and a frozen dataclass costs three times as much."""

    id: int
    name: str
    title: str
    department: str
    time_zone: str


@dataclass(frozen=True, slots=True)
class FreeMentor:
    mentor: MentorCard
    shared_slots: int


def mentor_cards(
    session: Session, viewer_id: int, *, skill_id: int | None = None, only: Collection[int] | None = None,
    now: datetime | None = None,
) -> list[MentorCard]:
    """Active mentors other than the viewer taking requests at ``now`` (offering ``skill_id``; among
    ``only``), as columns: a mentor who paused themselves is not free for anyone."""
    return _mentor_cards(session, viewer_id, skill_id=skill_id, only=only, now=now)[0]


def _mentor_cards(
    session: Session, viewer_id: int, *, skill_id: int | None = None, only: Collection[int] | None = None,
    now: datetime | None = None,
) -> tuple[list[MentorCard], dict[int, int]]:
    """:func:`mentor_cards`, and each mentor's ``weekly_rules_version`` read with them (the key of
    their memoised weekly rules: no query of its own, ``scheduling.availability.mentors_rules``)."""
    query = select(Person.id, Person.name, Person.title, Person.department, Person.time_zone,
                   Person.weekly_rules_version).where(
        Person.active, Person.is_mentor, Person.id != viewer_id, taking_requests(current_time(now)))
    if skill_id is not None:
        query = query.where(exists(select(PersonSkill.id).where(
            PersonSkill.person_id == Person.id,
            PersonSkill.skill_id == skill_id,
            PersonSkill.relation == SkillRelation.OFFERS,
        )))
    if only is not None:
        query = query.where(Person.id.in_(list(only)))
    rows = session.execute(query).all()
    card = MentorCard._make
    return [card(row[:5]) for row in rows], {row[0]: row[5] for row in rows}


def free_mentors(
    session: Session,
    program: Program,
    viewer: Person,
    start: datetime,
    end: datetime,
    *,
    skill_id: int | None = None,
    only: Collection[int] | None = None,
    now: datetime | None = None,
) -> list[FreeMentor]:
    """The mentors sharing at least one bookable slot with ``viewer`` in ``[start, end)``: most
    shared slots first, then by name and id."""
    cards, versions = _mentor_cards(session, viewer.id, skill_id=skill_id, only=only, now=now)
    counts = shared_slot_counts(session, program, cards, viewer, start, end, now=now, rules_versions=versions)
    ranked = [FreeMentor(card, counts[card.id]) for card in cards if counts[card.id] > 0]
    ranked.sort(key=lambda f: (-f.shared_slots, f.mentor.name, f.mentor.id))
    return ranked
