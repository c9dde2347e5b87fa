"""The lock order (scheduling/locks.py) is enforced, and a lost race is retried, then refused with a 409.

The order is checked on every dialect, so a service that locks out of order fails here on SQLite
too. The retry is exercised with a real PostgreSQL serialization failure (SQLSTATE 40001): a
repeatable-read transaction that updates a row another transaction changed since it began.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from scheduling.db import make_engine, make_session_factory
from scheduling.errors import ConcurrentChange
from scheduling.locks import LockOrderViolation, lock_people, lock_row
from scheduling.models import Meeting, Person
from scheduling.services.transaction import ATTEMPTS, retry_lost_races
from tests.factories import make_meeting, make_mentee, make_mentor, make_program


@pytest.fixture
def meeting(db: Session) -> Meeting:
    return make_meeting(db, program=make_program(db), mentee=make_mentee(db), mentor=make_mentor(db))


def test_people_then_request_then_meeting_is_the_order(db: Session, meeting: Meeting) -> None:
    lock_people(db, meeting.mentor_id, meeting.mentee_id)
    lock_row(db, meeting.request)
    lock_row(db, meeting)
    lock_people(db, meeting.mentee_id)  # already held: asking again is fine
    lock_row(db, meeting)
    db.commit()


def test_a_lock_out_of_order_fails_at_once(db: Session, meeting: Meeting) -> None:
    lock_row(db, meeting)
    with pytest.raises(LockOrderViolation):
        lock_people(db, meeting.mentee_id)
    with pytest.raises(LockOrderViolation):
        lock_row(db, meeting.request)
    db.rollback()


def test_people_go_by_ascending_id_even_across_calls(db: Session, meeting: Meeting) -> None:
    low, high = sorted((meeting.mentor_id, meeting.mentee_id))
    lock_people(db, high)
    with pytest.raises(LockOrderViolation):
        lock_people(db, low)
    db.rollback()
    lock_people(db, low)  # a new transaction starts with nothing held
    lock_people(db, high)
    db.commit()


def test_rows_of_one_level_go_by_ascending_id(db: Session, meeting: Meeting) -> None:
    other = make_meeting(db, program=meeting.request.program, mentee=make_mentee(db), mentor=make_mentor(db))
    first, second = sorted((meeting, other), key=lambda m: m.id)
    lock_row(db, second)
    with pytest.raises(LockOrderViolation):
        lock_row(db, first)
    db.rollback()


# --- a lost race, retried -------------------------------------------------------------------------


@pytest.fixture
def repeatable_read(engine: Engine, database_url: str) -> Iterator[Session]:
    """A session whose transactions see one snapshot, as PostgreSQL's SERIALIZABLE ones do."""
    if engine.dialect.name != "postgresql":
        pytest.skip("serialization failures are PostgreSQL's; SQLite runs one writer at a time")
    eng = make_engine(database_url, isolation_level="REPEATABLE READ")
    session = make_session_factory(eng)()
    yield session
    session.close()
    eng.dispose()


def rename(repeatable_read: Session, person_id: int, interfere: int, db: Session) -> list[int]:
    """A service that renames a person, while another transaction changes that row ``interfere``
    times after this one's snapshot was taken (a real lost race each time)."""
    attempts: list[int] = []

    @retry_lost_races
    def service(session: Session, name: str) -> None:
        attempts.append(1)
        person = session.get(Person, person_id)  # the snapshot starts here
        assert person is not None
        if len(attempts) <= interfere:
            db.execute(update(Person).where(Person.id == person_id).values(title=f"changed {len(attempts)}"))
            db.commit()
        person.name = name
        session.commit()

    service(repeatable_read, "Renamed")
    return attempts


def test_a_lost_race_is_run_again(repeatable_read: Session, db: Session, meeting: Meeting) -> None:
    attempts = rename(repeatable_read, meeting.mentee_id, 1, db)
    assert len(attempts) == 2
    db.expire_all()
    person = db.get(Person, meeting.mentee_id)
    assert person is not None and (person.name, person.title) == ("Renamed", "changed 1")


def test_a_race_lost_every_time_is_a_409_and_changes_nothing(
    repeatable_read: Session, db: Session, meeting: Meeting
) -> None:
    name = meeting.mentee.name
    with pytest.raises(ConcurrentChange) as refused:
        rename(repeatable_read, meeting.mentee_id, ATTEMPTS, db)
    assert (refused.value.status, refused.value.code) == (409, "concurrent_change")
    db.expire_all()
    person = db.get(Person, meeting.mentee_id)
    assert person is not None and person.name == name
