"""The one-transaction-per-service rule, and row locks that serialise bookings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling.models import Person


@contextmanager
def unit_of_work(session: Session) -> Iterator[None]:
    """Roll back on any exception so a refused action leaves the database (and locks) as it was."""
    try:
        yield
    except BaseException:
        session.rollback()
        raise


def lock_people(session: Session, *person_ids: int) -> None:
    """Lock the people rows (in id order, so two bookings never deadlock) until commit.

    Two accepts for one mentor at the same time then run one after the other: the
    second sees the first one's meeting and is refused. PostgreSQL only; SQLite
    ignores FOR UPDATE and serialises writers with its database lock instead.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    ids = sorted(set(person_ids))
    session.execute(select(Person.id).where(Person.id.in_(ids)).order_by(Person.id).with_for_update())
