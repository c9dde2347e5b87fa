"""The signed-in person is read once per request, without their collections, and still right."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from scheduling.services.people import set_skills
from tests.factories import login, make_mentee, make_mentor, make_program


@contextmanager
def statements(app: Any) -> Iterator[list[str]]:
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        seen.append(" ".join(sql.split()))

    engine = app.extensions["db_engine"]
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def _lookups_by_id(seen: list[str]) -> list[str]:
    """Statements loading whole ``Person`` rows by primary key (the viewer, the mentor)."""
    return [s for s in seen if s.startswith("SELECT people.id, people.email") and "WHERE people.id =" in s]


def test_one_lookup_of_the_viewer_per_request(app: Any, client: Any, db: Session) -> None:
    make_program(db)
    mentor = make_mentor(db, name="Ada")
    mentee = make_mentee(db, name="Mo")
    login(client, mentee)
    with statements(app) as seen:  # the operation wrapper and the route both ask who is signed in
        res = client.get(f"/api/v1/mentors/{mentor.id}/availability")
    assert res.status_code == 200, res.json
    assert len(_lookups_by_id(seen)) == 2  # the viewer once, the mentor once
    assert not [s for s in seen if "FROM person_skills" in s]  # nobody's skills: the slots do not use them
    assert not [s for s in seen if s.startswith("SELECT weekly_slots")]  # joined to the mentor's row


def test_viewer_collections_are_loaded_only_when_read(app: Any, client: Any, db: Session) -> None:
    make_program(db)
    mentee = make_mentee(db, name="Mo")
    set_skills(db, mentee, {"wants": ["Python"]})
    login(client, mentee)
    with statements(app) as seen:
        res = client.get("/api/v1/program")
    assert res.status_code == 200, res.json
    assert not [s for s in seen if "FROM person_skills" in s or "FROM weekly_slots" in s]
    # ...and read when a route needs them: the own profile lists the wanted skill
    res = client.get(f"/api/v1/people/{mentee.id}")
    assert [s["name"] for s in res.json["person"]["wants"]] == ["Python"]


def test_signing_in_as_someone_else_in_one_request_is_seen(app: Any, db: Session) -> None:
    from app.auth import current_person
    from app.auth import login as sign_in

    make_program(db)
    first, second = make_mentee(db, name="Mo"), make_mentee(db, name="Kim")
    with app.test_request_context("/"):
        sign_in(first)
        assert getattr(current_person(), "id", None) == first.id
        sign_in(second)
        assert getattr(current_person(), "id", None) == second.id
