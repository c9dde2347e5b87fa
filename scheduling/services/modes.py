"""Mentoring modes: what kind of request (one meeting, or a mentoring connection) a program and,
where the program lets mentors choose, a mentor takes; and how many mentors offer each."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduling.errors import OneTimeNotOffered, OngoingNotOffered, ValidationFailed
from scheduling.models import MentoringMode, Person, Program, RequestKind

MODE_LABELS = {
    RequestKind.ONE_TIME: "one-time meetings",
    RequestKind.ONGOING: "ongoing mentoring",
}


def offered_kinds(program: Program, mentor: Person | None = None) -> list[RequestKind]:
    """The kinds of request a mentee may send (to ``mentor``), one-time first."""
    mode = program.mentoring_mode
    if mode == MentoringMode.ONE_TIME:
        return [RequestKind.ONE_TIME]
    if mode == MentoringMode.ONGOING:
        return [RequestKind.ONGOING]
    if mode == MentoringMode.MENTOR_CHOICE and mentor is not None:
        return [k for k, on in ((RequestKind.ONE_TIME, mentor.offers_one_time),
                                (RequestKind.ONGOING, mentor.offers_ongoing)) if on]
    return [RequestKind.ONE_TIME, RequestKind.ONGOING]


def default_kind(program: Program, mentor: Person | None = None) -> RequestKind:
    kinds = offered_kinds(program, mentor)
    return kinds[0] if kinds else RequestKind.ONE_TIME


def check_kind(program: Program, mentor: Person, kind: RequestKind) -> None:
    """Refuse a kind of request the program (or the mentor's choice) does not offer."""
    kinds = offered_kinds(program, mentor)
    if kind in kinds:
        return
    choice = program.mentoring_mode == MentoringMode.MENTOR_CHOICE
    who = f"{mentor.name} offers" if choice else "This program offers"
    offered = " and ".join(MODE_LABELS[k] for k in kinds) or "no mentoring right now"
    error = OneTimeNotOffered if kind == RequestKind.ONE_TIME else OngoingNotOffered
    raise error(f"{who} {offered} only.", "kind")


def choose_modes(session: Session, mentor: Person, *, one_time: bool, ongoing: bool) -> None:
    """A mentor picks the mentoring they offer (at least one). Commits."""
    if not (one_time or ongoing):
        raise ValidationFailed("Offer at least one kind of mentoring.", "modes")
    mentor.offers_one_time, mentor.offers_ongoing = one_time, ongoing
    session.commit()


def mode_counts(session: Session) -> dict[str, int]:
    """Active mentors by what they offer (for programs where mentors choose)."""
    rows = session.execute(
        select(Person.offers_one_time, Person.offers_ongoing, func.count(Person.id))
        .where(Person.is_mentor, Person.active)
        .group_by(Person.offers_one_time, Person.offers_ongoing)
    )
    counts = {"one_time_only": 0, "ongoing_only": 0, "both": 0}
    for one_time, ongoing, n in rows:
        if one_time and ongoing:
            counts["both"] += n
        elif one_time:
            counts["one_time_only"] += n
        elif ongoing:
            counts["ongoing_only"] += n
    return counts
