"""One lock order for every service that changes people, requests and meetings.

Two transactions that lock the same rows in different orders can deadlock, so every
service takes its row locks in this order, and only in it:

0. a program (only to create its default survey questions once: reading the questions
   may do it, so it comes before anything a service may lock after such a read);
1. people, by ascending id (the mentee's row serialises their limits, the mentor's their
   capacity and their bookings);
2. a routing request (an admin's assignment);
3. a meeting request;
4. a meeting;
5. a row that hangs off a meeting (a survey invitation, a follow-up).

Within a level, rows go by ascending id. A service may skip levels, and may ask again for a
row it already holds, but never for a lower level, nor for a lower id within the level it is
at, once it holds something later in the order: :class:`LockOrderViolation` says so at once,
on SQLite too, so a wrong order fails the tests instead of deadlocking in production.

Locks are ``FOR NO KEY UPDATE``: they serialise the services but do not block the key-share
locks PostgreSQL takes for foreign keys, so inserting a message or a meeting that points
at a locked row does not wait. SQLite ignores row locks; its database lock serialises
writers instead, so there only the order is checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session, SessionTransaction

from scheduling.models import (
    FollowUp,
    Meeting,
    MeetingRequest,
    Person,
    Program,
    RoutingRequest,
    SurveyInvitation,
)

PEOPLE = 1
RANKS: dict[type[Any], int] = {
    Program: 0,
    RoutingRequest: 2,
    MeetingRequest: 3,
    Meeting: 4,
    SurveyInvitation: 5,
    FollowUp: 5,
}
_KEY = "flashmentor_locks"


class LockOrderViolation(AssertionError):
    """A service asked for a lock out of order: a programming error that could deadlock."""


@dataclass
class _Held:
    """What this transaction holds so far."""

    transaction: SessionTransaction
    rank: int = -1  # nothing held yet
    people: set[int] = field(default_factory=set)
    rows: set[tuple[type[Any], int]] = field(default_factory=set)


def _held(session: Session) -> _Held:
    """The locks of the current transaction (a new transaction starts with none)."""
    transaction = session.get_transaction() or session.begin()
    while transaction.parent is not None:  # savepoints hold their root transaction's locks
        transaction = transaction.parent
    held: _Held | None = session.info.get(_KEY)
    if held is None or held.transaction is not transaction:
        held = _Held(transaction)
        session.info[_KEY] = held
    return held


def _on_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def lock_people(session: Session, *person_ids: int) -> None:
    """Lock these people's rows (ascending id) and re-read them, so checks see committed values."""
    held = _held(session)
    new = sorted(set(person_ids) - held.people)
    if not new:
        return
    if held.rank > PEOPLE or (held.people and new[0] < max(held.people)):
        raise LockOrderViolation(
            f"people {new} locked after {sorted(held.people)} / rank {held.rank}: people come first, "
            "by ascending id"
        )
    if _on_postgresql(session):
        session.scalars(
            select(Person).where(Person.id.in_(new)).order_by(Person.id)
            .with_for_update(key_share=True).execution_options(populate_existing=True)
        ).all()
    held.people.update(new)
    held.rank = PEOPLE


def lock_row(session: Session, row: Any) -> None:
    """Lock one routing request, request, meeting, invitation, follow-up or program and re-read it."""
    rank = RANKS[type(row)]
    key = (type(row), inspect(row).identity[0])
    held = _held(session)
    if key in held.rows:
        return
    same_rank_after = any(RANKS[kind] == rank and row_id > key[1] for kind, row_id in held.rows)
    if held.rank > rank or same_rank_after:
        raise LockOrderViolation(f"{type(row).__name__} #{key[1]} locked after a rank-{held.rank} row")
    if _on_postgresql(session):
        session.refresh(row, with_for_update={"key_share": True})
    held.rows.add(key)
    held.rank = rank

