"""GET /api/v1/mentors/<id>/availability and /api/v1/mentors/free through the real app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.orm import Session

from scheduling.models import Person, Program
from scheduling.services.people import set_skills
from tests.factories import at, login, make_admin, make_meeting, make_mentee, make_mentor, make_program

WED = "2030-01-09"
FREE = "/api/v1/mentors/free?from=2030-01-09T00:00:00Z&to=2030-01-10T00:00:00Z"


@dataclass
class World:
    """The people and rows every test here starts from."""

    program: Program
    mentor: Person
    mentee: Person


@pytest.fixture
def w(db: Session) -> World:
    program = make_program(db, lead_time_hours=0)
    mentor = make_mentor(db, name="Mo Mentor", time_zone="Europe/London", weekly=[(2, "09:00", "11:00")])
    mentee = make_mentee(db, name="Mae Mentee", time_zone="America/New_York")
    return World(program=program, mentor=mentor, mentee=mentee)


def test_mentee_sees_slots_in_utc_and_in_their_zone(client: Any, w: World) -> None:
    login(client, w.mentee)
    res = client.get(f"/api/v1/mentors/{w.mentor.id}/availability?from=2030-01-09&to=2030-01-09")
    assert res.status_code == 200, res.json
    body = res.json
    assert body["time_zone"] == "America/New_York" and body["slot_minutes"] == 30
    assert body["from"] == "2030-01-09T05:00:00Z" and body["to"] == "2030-01-10T05:00:00Z"  # the NY day
    assert [s["start"] for s in body["slots"]] == [
        "2030-01-09T09:00:00Z", "2030-01-09T09:30:00Z", "2030-01-09T10:00:00Z", "2030-01-09T10:30:00Z"
    ]
    first = body["slots"][0]
    assert first["start_local"] == "2030-01-09T04:00:00-05:00"
    assert first["end_local"] == "2030-01-09T04:30:00-05:00"
    assert first["label"] == "Wed 9 Jan 2030, 04:00-04:30 EST"
    assert body["mentor"] == {"id": w.mentor.id, "name": "Mo Mentor", "time_zone": "Europe/London"}


def test_booked_time_disappears(client: Any, db: Session, w: World) -> None:
    make_meeting(db, program=w.program, mentor=w.mentor, mentee=make_mentee(db), start=at(WED, "09:30"))
    login(client, w.mentee)
    res = client.get(f"/api/v1/mentors/{w.mentor.id}/availability"
                     "?from=2030-01-09T00:00:00Z&to=2030-01-10T00:00:00Z")
    assert [s["start"] for s in res.json["slots"]] == [
        "2030-01-09T09:00:00Z", "2030-01-09T10:00:00Z", "2030-01-09T10:30:00Z"
    ]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=yesterday", "from"),
        ("from=2030-02-30", "from"),
        ("from=2030-01-09T10:00:00", "from"),  # no offset
        ("from=2030-01-10&to=2030-01-09", "to"),
        ("from=2030-01-09T10:00:00Z&to=2030-01-09T10:00:00Z", "to"),
        ("from=2030-01-01&to=2030-03-15", "to"),  # more than 62 days
    ],
)
def test_bad_windows_are_a_422_naming_the_field(
    client: Any, w: World, query: str, field: str
) -> None:
    login(client, w.mentee)
    for url in (f"/api/v1/mentors/{w.mentor.id}/availability?{query}", f"/api/v1/mentors/free?{query}"):
        res = client.get(url)
        assert res.status_code == 422, (url, res.json)
        assert res.json["error"]["field"] == field


def test_unknown_or_non_mentor_is_404_and_sign_in_is_needed(
    client: Any, db: Session, w: World
) -> None:
    assert client.get(f"/api/v1/mentors/{w.mentor.id}/availability").status_code == 401
    login(client, w.mentee)
    for mentor_id in (w.mentee.id, 999_999, 2**40):
        res = client.get(f"/api/v1/mentors/{mentor_id}/availability")
        assert res.status_code == 404 and res.json["error"]["code"] == "not_found"
    w.mentor.active = False
    db.commit()
    assert client.get(f"/api/v1/mentors/{w.mentor.id}/availability").status_code == 404


def test_free_mentors_are_ranked_by_shared_slots(client: Any, db: Session, w: World) -> None:
    wide = make_mentor(db, name="Wide Open", weekly=[(2, "09:00", "17:00")])
    narrow = make_mentor(db, name="Narrow", weekly=[(2, "09:00", "09:30")])
    make_mentor(db, name="Never", weekly=[(4, "09:00", "17:00")])  # Fridays only: not free on Wednesday
    make_meeting(db, program=w.program, mentor=wide, mentee=make_mentee(db), start=at(WED, "12:00"))
    set_skills(db, narrow, {"offers": ["Python"]})
    set_skills(db, wide, {"offers": ["Go"]})
    db.commit()
    login(client, w.mentee)
    res = client.get(FREE)
    assert res.status_code == 200, res.json
    ranked = [(m["name"], m["shared_slots"]) for m in res.json["mentors"]]
    assert ranked == [("Wide Open", 15), ("Mo Mentor", 4), ("Narrow", 1)]
    assert res.json["total"] == 3
    res = client.get(f"{FREE}&skill=python")
    assert [m["name"] for m in res.json["mentors"]] == ["Narrow"]
    res = client.get(f"{FREE}&limit=1&offset=1")
    assert [m["name"] for m in res.json["mentors"]] == ["Mo Mentor"]
    res = client.get("/api/v1/mentors/free?skill=basket-weaving")
    assert res.status_code == 422 and res.json["error"]["field"] == "skill"


def test_a_mentor_searching_is_not_ranked_against_themselves(
    client: Any, db: Session, w: World
) -> None:
    login(client, w.mentor)
    res = client.get(FREE)
    assert res.status_code == 200 and res.json["mentors"] == []
    login(client, make_admin(db))
    res = client.get(FREE)
    assert [m["name"] for m in res.json["mentors"]] == ["Mo Mentor"]


def test_free_mentors_search_keeps_a_hidden_directory_hidden(
    client: Any, db: Session, w: World
) -> None:
    """Where the program shows mentees only their recommendations (admin pushes, then the few
    best matches), the free-time search lists no other mentor either."""
    from scheduling.mentor_visibility import RECOMMENDED_IN_DIRECTORY
    from scheduling.services.recommendations import push

    others = [make_mentor(db, name=f"Other {i}", weekly=[(2, "09:00", "12:00")]) for i in range(8)]
    pushed = make_mentor(db, name="Pushed Mentor", weekly=[(2, "09:00", "09:30")])
    push(db, w.program, make_admin(db), [(w.mentee.id, pushed.id)])
    login(client, w.mentee)

    everyone = {m["name"] for m in client.get(FREE).json["mentors"]}
    assert everyone == {"Mo Mentor", "Pushed Mentor", *(o.name for o in others)}

    w.program.directory_hidden = True
    db.commit()
    hidden = {m["name"] for m in client.get(FREE).json["mentors"]}
    assert "Pushed Mentor" in hidden
    assert len(hidden) <= RECOMMENDED_IN_DIRECTORY < len(everyone)


def test_a_hidden_directory_closes_other_mentors_slots(client: Any, db: Session, w: World) -> None:
    """A mentor's free times answer only for a mentor the mentee may see, as the mentor's card does:
    recommended, or one she already asked; an admin reads anyone's."""
    from scheduling.mentor_visibility import visible_mentor_ids
    from tests.factories import make_request

    others = [make_mentor(db, name=f"Other {i}", weekly=[(2, "09:00", "12:00")]) for i in range(8)]
    w.program.directory_hidden = True
    db.commit()
    visible = set(visible_mentor_ids(db, w.program, w.mentee) or [])
    shown = next(m for m in others if m.id in visible)
    unseen = next(m for m in others if m.id not in visible)
    login(client, w.mentee)
    slots = f"/availability?from={WED}&to={WED}"
    assert client.get(f"/api/v1/mentors/{shown.id}{slots}").status_code == 200
    res = client.get(f"/api/v1/mentors/{unseen.id}{slots}")
    assert res.status_code == 404 and res.json["error"]["message"] == "No such mentor."
    make_request(db, program=w.program, mentee=w.mentee, mentor=unseen)  # asked once: stays reachable
    assert client.get(f"/api/v1/mentors/{unseen.id}{slots}").status_code == 200
    login(client, make_admin(db))
    assert client.get(f"/api/v1/mentors/{others[-1].id}{slots}").status_code == 200
