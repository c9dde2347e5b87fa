"""Each mentor's weekly rules are memoised per process under ``Person.weekly_rules_version``.

A ranking reads the rules of thousands of mentors; the memo spares the aggregate query, and
every write of a mentor's weekly slots (the availability service, or any ORM add, change or
delete) gives them a new version, so the next count reads the new rules. Each count is
checked against ``bookable_slots`` listed one mentor at a time (which never uses the memo).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import time, timedelta

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from scheduling.availability import bookable_slots, mentors_rules, shared_slot_counts
from scheduling.free_mentors import free_mentors
from scheduling.matching import rank_mentors
from scheduling.models import Person, Program, WeeklySlot
from scheduling.services.availability_editing import replace_weekly_slots
from tests.factories import NOW, make_mentee, make_mentor, make_program

END = NOW + timedelta(days=14)


@contextmanager
def rules_queries(db: Session) -> Iterator[list[str]]:
    """The statements that join weekly slots into rules (``string_agg``/``group_concat``)."""
    seen: list[str] = []

    def note(conn: object, cursor: object, statement: str, *args: object) -> None:
        if "FROM weekly_slots" in statement and ("string_agg" in statement or "group_concat" in statement):
            seen.append(statement)

    engine = db.get_bind()
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def counted(db: Session, program: Program, mentor: Person, mentee: Person) -> int:
    """The batch count, after checking it equals the slots listed one at a time."""
    db.expire(mentor)  # bookable_slots reads mentor.weekly_slots, which a plain db.add does not update
    count = shared_slot_counts(db, program, [mentor], mentee, NOW, END, now=NOW)[mentor.id]
    assert count == len(bookable_slots(db, program, mentor, mentee, NOW, END, now=NOW))
    return count


def test_a_second_count_reads_the_rules_from_the_memo(db: Session) -> None:
    program = make_program(db)
    mentors = [make_mentor(db, weekly=[(d, "09:00", "12:00")]) for d in range(3)]
    mentee = make_mentee(db)
    db.commit()
    ids = [m.id for m in mentors]
    first = mentors_rules(db, ids)
    with rules_queries(db) as seen:
        assert mentors_rules(db, ids) == first
        shared_slot_counts(db, program, mentors, mentee, NOW, END, now=NOW)
    assert seen == []
    assert first[ids[1]].startswith("1 09:00")


def test_editing_weekly_slots_through_the_service_is_seen_at_once(db: Session) -> None:
    program = make_program(db)
    mentor = make_mentor(db, weekly=[(2, "09:00", "12:00")])
    mentee = make_mentee(db)
    db.commit()
    before = counted(db, program, mentor, mentee)
    assert before == 12  # two Wednesdays (the 9th and the 16th), six half hours each
    replace_weekly_slots(db, mentor, [{"weekday": 2, "start": "09:00", "end": "10:00"},
                                      {"weekday": 3, "start": "14:00", "end": "15:00"}])
    assert counted(db, program, mentor, mentee) == 8
    replace_weekly_slots(db, mentor, [])
    assert counted(db, program, mentor, mentee) == 0


def test_any_orm_write_of_a_weekly_slot_gives_the_mentor_a_new_version(db: Session) -> None:
    program = make_program(db)
    mentor = make_mentor(db, weekly=[(2, "09:00", "12:00")])
    other = make_mentor(db, weekly=[(2, "09:00", "12:00")])
    mentee = make_mentee(db)
    db.commit()

    def version(person: Person) -> int:
        return db.scalar(select(Person.weekly_rules_version).where(Person.id == person.id)) or 0

    assert counted(db, program, mentor, mentee) == 12
    kept = version(other)
    seen = {version(mentor)}

    slot = db.scalars(select(WeeklySlot).where(WeeklySlot.mentor_id == mentor.id)).one()
    slot.end_time = time(11)  # changed in place
    db.commit()
    assert counted(db, program, mentor, mentee) == 8
    seen.add(version(mentor))

    db.add(WeeklySlot(mentor_id=mentor.id, weekday=4, start_time=time(9), end_time=time(10), time_zone="UTC"))
    db.commit()
    assert counted(db, program, mentor, mentee) == 12
    seen.add(version(mentor))

    db.delete(slot)
    db.commit()
    assert counted(db, program, mentor, mentee) == 4
    seen.add(version(mentor))

    assert len(seen) == 4 and 0 not in seen  # a new version at every write
    assert version(other) == kept  # nobody else's


def test_rankings_that_read_versions_with_their_mentors_see_an_edit_at_once(db: Session) -> None:
    """``free_mentors`` and ``rank_mentors`` read each mentor's version in their own query of the
    mentors (no query of it in ``mentors_rules``): an edit in between is seen all the same."""
    program = make_program(db)
    mentor = make_mentor(db, weekly=[(2, "09:00", "12:00")])
    mentee = make_mentee(db)
    db.commit()

    def both() -> tuple[int, int]:
        free = {f.mentor.id: f.shared_slots for f in free_mentors(db, program, mentee, NOW, END, now=NOW)}
        ranked = {m.card.id: m.shared_slots for m in rank_mentors(db, program, mentee, now=NOW)}
        return free.get(mentor.id, 0), ranked[mentor.id]

    assert both() == (12, 12)
    with rules_queries(db) as seen:
        assert both() == (12, 12)
    assert seen == []  # memoised
    replace_weekly_slots(db, mentor, [{"weekday": 3, "start": "14:00", "end": "15:00"}])
    assert both() == (4, 4) == (counted(db, program, mentor, mentee),) * 2
