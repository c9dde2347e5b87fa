"""An admin's bulk "recommend the top N mentors to each mentee" (seed 003).

Each mentee gets their N best computed matches (fair rotation among near-equal mentors,
mentors at their own monthly cap left out) as pushed recommendations, and one email
listing them (a recommendation's email is always sent). Capacity holds across the run
too: a mentor with a monthly cap is pushed to at most ``PER_OPEN_MEETING`` mentees per
meeting they have left this month, so one popular mentor is not pushed to everyone.
One transaction: all of it or nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling import matching, notifications
from scheduling.errors import ValidationFailed
from scheduling.models import NotificationKind, Person, Program
from scheduling.services.recommendations import _push, _require_admin
from scheduling.services.validation import current_time
from scheduling.terms import terms_of

MAX_N = 10
PER_OPEN_MEETING = 2


@dataclass(frozen=True)
class TopResult:
    mentees: int  # mentees that got at least one new recommendation
    pushed: int  # recommendations written (new or already there)


def _remaining(session: Session, program: Program, now: datetime) -> dict[int, int | None]:
    """Meetings each active mentor has left this month under their own cap (None: no cap)."""
    mentors = list(session.scalars(select(Person).where(Person.is_mentor, Person.active)))
    loads = matching.monthly_loads(session, mentors, now)
    caps = {m.id: m.monthly_meeting_cap for m in mentors}
    return {i: None if cap is None else max(0, cap - loads.get(i, 0)) for i, cap in caps.items()}


def push_top(
    session: Session, program: Program, actor: Person, n: object, *,
    mentee_ids: Collection[int] | None = None, now: datetime | None = None,
) -> TopResult:
    """Recommend each active mentee (or those given) their top ``n`` mentors; commits."""
    _require_admin(actor)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_N:
        raise ValidationFailed(f"Give a number of mentors from 1 to {MAX_N}.", "n")
    now = current_time(now)
    query = select(Person).where(Person.is_mentee, Person.active).order_by(Person.id)
    if mentee_ids is not None:
        query = query.where(Person.id.in_(list(mentee_ids)))
    mentees = list(session.scalars(query))
    if not mentees:
        raise ValidationFailed("There is no active mentee to recommend mentors to.", "mentee_ids")
    left = _remaining(session, program, now)
    given: Counter[int] = Counter()
    items: list[tuple[int, int, str]] = []
    chosen: dict[int, list[Person]] = {}
    for mentee in mentees:
        pool = n * matching.ROTATION_POOL * 2
        ranked = matching.rank_mentors(session, program, mentee, now=now, limit=pool)
        open_ = [m for m in ranked if not m.full]  # rank_mentors leaves paused mentors out
        picks = []
        for match in matching.rotate(open_, mentee.id, now):
            cap_left = left.get(match.card.id)
            if cap_left is not None and given[match.card.id] >= cap_left * PER_OPEN_MEETING:
                continue
            picks.append(match)
            if len(picks) == n:
                break
        for match in picks:
            given[match.card.id] += 1
            items.append((mentee.id, match.card.id, f"{match.percent}% match"))
        if picks:
            chosen[mentee.id] = [m.mentor for m in picks]
    if not items:
        raise ValidationFailed("No mentor is free to recommend right now.", "n")
    rows = _push(session, program, actor, items, notify_each=False, commit=False)
    terms = terms_of(program)
    for mentee_id, mentors in chosen.items():
        names = ", ".join(m.name for m in mentors)
        word = terms.mentors if len(mentors) != 1 else terms.mentor
        notifications.notify(
            session, mentee_id, NotificationKind.RECOMMENDATION,
            f"{len(mentors)} {word} recommended for you: {names}",
            body=f"Your program admin picked these {word} for you. Open one to read their profile and book.",
            link="/home", now=now)
    session.commit()
    return TopResult(len(chosen), len(rows))
