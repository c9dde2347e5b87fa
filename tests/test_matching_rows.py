"""A ranking scores from columns; a mentor's ``Person`` row is loaded only when a page asks for it.

``rank_mentors`` answers with ``MatchedMentor`` cards (what the API shows of a mentor). The
``Person`` rows come on the first ``MentorMatch.mentor``: all of the ranking's rows in one
query, the same objects the session holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.orm import Session

from scheduling.matching import MatchedMentor, match_view, rank_mentors
from scheduling.models import Person
from tests.factories import NOW, make_mentee, make_mentor, make_program


@contextmanager
def people_rows_read(db: Session) -> Iterator[list[str]]:
    """The statements that read whole ``people`` rows (e.g. their password hash) while the block runs."""
    seen: list[str] = []

    def note(conn: object, cursor: object, statement: str, *args: object) -> None:
        if "people.password_hash" in statement:
            seen.append(statement)

    engine = db.get_bind()
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def test_a_ranking_reads_columns_and_loads_the_rows_once_when_a_page_asks(db: Session) -> None:
    program = make_program(db)
    mentee = make_mentee(db)
    mentors = [make_mentor(db, name=f"Mentor {i}", title="Engineer", department="Sales", region="EMEA",
                           time_zone="Europe/Berlin", weekly=[(2, "09:00", "12:00")]) for i in range(3)]
    db.commit()
    db.expunge_all()  # a fresh request: nothing in the identity map but the signed-in mentee
    viewer = db.get(Person, mentee.id)
    assert viewer is not None

    with people_rows_read(db) as rows:
        matches = rank_mentors(db, program, viewer, now=NOW)
        views = [match_view(m) for m in matches]
    assert rows == []  # the whole answer from columns
    assert matches[0].card == MatchedMentor(matches[0].card.id, matches[0].card.name, "Engineer", "Sales",
                                            "EMEA", "Europe/Berlin")
    assert sorted(v["mentor"]["name"] for v in views) == ["Mentor 0", "Mentor 1", "Mentor 2"]

    with people_rows_read(db) as rows:
        people = [m.mentor for m in matches]
    assert len(rows) == 1  # every mentor's row in one query
    assert [p.id for p in people] == [m.card.id for m in matches]
    assert {p.id for p in people} == {m.id for m in mentors}
    assert all(isinstance(p, Person) and p.name == m.card.name for p, m in zip(people, matches, strict=True))
