"""The people, profile and program endpoints: roles checked, bad input a clear 4xx, nothing changed."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from scheduling.models import DatedSlot, Person, Program
from scheduling.services.people import set_skills
from tests.factories import count_rows, login, make_admin, make_mentee, make_mentor, make_program


@pytest.fixture
def people(db: Session) -> dict[str, Person]:
    found = {
        "admin": make_admin(db, name="Alex Admin"),
        "ada": make_mentor(
            db,
            name="Ada Lovelace",
            department="Engineering",
            title="Staff Engineer",
            time_zone="Europe/London",
        ),
        "sam": make_mentor(db, name="Sam Seller", department="Sales", title="Account Executive"),
        "mo": make_mentee(db, name="Mo Mentee", department="Sales"),
        "kim": make_mentee(db, name="Kim Other", department="Finance"),
    }
    set_skills(db, found["ada"], {"offers": [{"name": "Python", "level": 5}]})
    set_skills(db, found["sam"], {"offers": ["Salesforce CRM"]})
    return found


def listed(res: Any) -> list[str]:
    assert res.status_code == 200, res.json
    return [p["name"] for p in res.json["items"]]


# ---------------------------------------------------------------- directory


def test_directory_needs_sign_in(client: Any, people: dict[str, Person]) -> None:
    assert client.get("/api/v1/people").status_code == 401


def test_mentee_sees_the_mentor_directory(client: Any, people: dict[str, Person]) -> None:
    login(client, people["mo"])
    res = client.get("/api/v1/people")
    assert listed(res) == ["Ada Lovelace", "Sam Seller"]
    assert res.json["total"] == 2
    assert listed(client.get("/api/v1/people?skill=python")) == ["Ada Lovelace"]
    assert listed(client.get("/api/v1/people?skill=CRM%20-%20Salesforce")) == ["Sam Seller"]
    assert listed(client.get("/api/v1/people?department=sales")) == ["Sam Seller"]
    assert listed(client.get("/api/v1/people?q=lovelace")) == ["Ada Lovelace"]
    assert listed(client.get("/api/v1/people?title=executive")) == ["Sam Seller"]
    assert listed(client.get("/api/v1/people?time_zone=Europe/London")) == ["Ada Lovelace"]
    page = client.get("/api/v1/people?limit=1&offset=1")
    assert listed(page) == ["Sam Seller"] and page.json["total"] == 2


def test_directory_entries_carry_no_secrets(client: Any, people: dict[str, Person]) -> None:
    login(client, people["mo"])
    body = client.get("/api/v1/people").get_data(as_text=True)
    assert "password" not in body
    assert people["ada"].password_hash not in body  # type: ignore[operator]


def test_mentees_cannot_list_other_mentees(client: Any, people: dict[str, Person]) -> None:
    login(client, people["mo"])
    for role in ("mentee", "admin", "any"):
        res = client.get(f"/api/v1/people?role={role}")
        assert res.status_code == 403
        assert res.json["error"]["field"] == "role"


def test_mentors_may_list_mentees_and_admins_everyone(client: Any, people: dict[str, Person]) -> None:
    login(client, people["ada"])
    assert listed(client.get("/api/v1/people?role=mentee")) == ["Kim Other", "Mo Mentee"]
    login(client, people["admin"])
    assert len(listed(client.get("/api/v1/people?role=any"))) == 5


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=500", "limit"),
        ("limit=abc", "limit"),
        ("offset=-1", "offset"),
        ("role=wizard", "role"),
        ("q=" + "x" * 300, "q"),
    ],
)
def test_bad_directory_queries_are_422(
    client: Any, people: dict[str, Person], query: str, field: str
) -> None:
    login(client, people["mo"])
    res = client.get(f"/api/v1/people?{query}")
    assert res.status_code == 422
    assert res.json["error"]["field"] == field


# ---------------------------------------------------------------- profiles


def test_profile_of_a_mentor_is_public(client: Any, people: dict[str, Person]) -> None:
    login(client, people["mo"])
    res = client.get(f"/api/v1/people/{people['ada'].id}")
    assert res.status_code == 200
    profile = res.json["person"]
    assert profile["offers"] == [{"name": "Python", "level": 5}]
    assert "password_hash" not in profile and "has_password" not in profile and "manager_id" not in profile


def test_mentee_profiles_are_hidden_from_other_mentees(client: Any, people: dict[str, Person]) -> None:
    login(client, people["mo"])
    assert client.get(f"/api/v1/people/{people['kim'].id}").status_code == 404
    assert client.get(f"/api/v1/people/{people['mo'].id}").status_code == 200
    assert client.get("/api/v1/people/99999999999").status_code == 404
    login(client, people["ada"])  # a mentor may look at a mentee who asks for time
    assert client.get(f"/api/v1/people/{people['kim'].id}").status_code == 200


def test_a_hidden_directory_hides_other_mentors_profiles(
    client: Any, db: Session, people: dict[str, Person]
) -> None:
    """With the directory hidden, a mentee opens the profile of a mentor she may see (recommended,
    or already asked), as on the mentor's card; any other mentor does not exist for her."""
    from tests.factories import make_request

    program = make_program(db, directory_hidden=True)
    others = [make_mentor(db, name=f"Other {i}") for i in range(8)]
    login(client, people["mo"])
    visible = {p["id"] for p in client.get("/api/v1/people?role=mentor&limit=100").json["items"]}
    assert len(visible) == 5
    shown = next(m for m in others if m.id in visible)
    unseen = next(m for m in others if m.id not in visible)
    assert client.get(f"/api/v1/people/{shown.id}").status_code == 200
    assert client.get(f"/api/v1/people/{unseen.id}").status_code == 404
    assert client.get(f"/api/v1/people/{people['mo'].id}").status_code == 200
    make_request(db, program=program, mentee=people["mo"], mentor=unseen)  # asked once: stays reachable
    assert client.get(f"/api/v1/people/{unseen.id}").status_code == 200
    login(client, people["ada"])  # a mentor still looks at a mentee who asks for time
    assert client.get(f"/api/v1/people/{people['kim'].id}").status_code == 200
    login(client, people["admin"])
    assert all(client.get(f"/api/v1/people/{m.id}").status_code == 200 for m in others)


def test_admin_creates_people(client: Any, db: Session, people: dict[str, Person]) -> None:
    body = {
        "name": "New Person",
        "email": "New@Example.com",
        "time_zone": "Asia/Kolkata",
        "roles": ["mentor"],
        "department": "Product",
        "password": "long-enough-pw",
    }
    login(client, people["mo"])
    assert client.post("/api/v1/people", json=body).status_code == 403
    login(client, people["admin"])
    res = client.post("/api/v1/people", json=body)
    assert res.status_code == 201
    assert res.json["person"]["email"] == "new@example.com"
    assert res.json["person"]["has_password"] is True
    again = client.post("/api/v1/people", json=body)
    assert again.status_code == 409 and again.json["error"]["field"] == "email"


@pytest.mark.parametrize(
    ("patch", "field", "status"),
    [
        ({"time_zone": "Mars/Base"}, "time_zone", 422),
        ({"email": "not-an-email"}, "email", 422),
        ({"name": ""}, "name", 422),
        ({"roles": "wizard"}, "roles", 422),
        ({"nickname": "x"}, "nickname", 422),
        ({"monthly_meeting_cap": 0}, "monthly_meeting_cap", 422),
    ],
)
def test_admin_bad_edits_are_refused(
    client: Any, db: Session, people: dict[str, Person], patch: dict, field: str, status: int
) -> None:
    login(client, people["admin"])
    target = people["mo"]
    res = client.patch(f"/api/v1/people/{target.id}", json={"title": "Changed", **patch})
    assert res.status_code == status
    assert res.json["error"]["field"] == field
    db.expire_all()
    assert db.get(Person, target.id).title == ""  # type: ignore[union-attr]


def test_self_edit_and_its_limits(client: Any, db: Session, people: dict[str, Person]) -> None:
    mo = people["mo"]
    login(client, mo)
    res = client.patch(f"/api/v1/people/{mo.id}", json={"title": "Analyst", "time_zone": "America/New_York"})
    assert res.status_code == 200 and res.json["person"]["title"] == "Analyst"
    res = client.patch(f"/api/v1/people/{mo.id}", json={"roles": ["admin"]})
    assert res.status_code == 403 and res.json["error"]["field"] == "roles"
    res = client.patch(f"/api/v1/people/{people['ada'].id}", json={"title": "Intern"})
    assert res.status_code == 403
    res = client.patch(f"/api/v1/people/{people['kim'].id}", json={"title": "Intern"})
    assert res.status_code == 404  # not even visible
    db.expire_all()
    assert db.get(Person, mo.id).roles == ["mentee"]  # type: ignore[union-attr]
    assert db.get(Person, people["ada"].id).title == "Staff Engineer"  # type: ignore[union-attr]


def test_admin_changes_roles(client: Any, db: Session, people: dict[str, Person]) -> None:
    login(client, people["admin"])
    res = client.patch(f"/api/v1/people/{people['mo'].id}", json={"roles": ["mentee", "mentor"]})
    assert res.status_code == 200 and res.json["person"]["roles"] == ["mentee", "mentor"]


def test_writes_must_be_json(client: Any, people: dict[str, Person]) -> None:
    login(client, people["admin"])
    assert client.post("/api/v1/people", data={"name": "x"}).status_code == 415
    res = client.post("/api/v1/people", data="[]", content_type="application/json")
    assert res.status_code in (400, 422)


# ---------------------------------------------------------------- my availability and skills


def test_mentor_edits_own_availability(client: Any, db: Session, people: dict[str, Person]) -> None:
    ada = people["ada"]
    login(client, ada)
    res = client.put(
        "/api/v1/me/availability",
        json={
            "weekly_slots": [{"weekday": 1, "start": "09:00", "end": "11:00"}],
            "dated_slots": [{"start": "2099-03-01T09:00:00Z", "end": "2099-03-01T10:00:00Z"}],
            "note": "Ping me first",
        },
    )
    assert res.status_code == 422 and res.json["error"]["field"] == "dated_slots[0].start"  # > a year ahead
    db.expire_all()
    assert len(db.get(Person, ada.id).weekly_slots) == 5  # type: ignore[union-attr]  # workweek untouched
    assert count_rows(db, DatedSlot) == {"DatedSlot": 0}

    res = client.put(
        "/api/v1/me/availability",
        json={
            "weekly_slots": [{"weekday": 1, "start": "09:00", "end": "11:00"}],
            "note": "Ping me first",
        },
    )
    assert res.status_code == 200
    assert res.json["weekly_slots"][0] | {"id": 0} == {
        "id": 0,
        "weekday": 1,
        "day": "Tuesday",
        "start": "09:00",
        "end": "11:00",
        "time_zone": "Europe/London",
    }
    assert res.json["note"] == "Ping me first"
    assert client.get("/api/v1/me/availability").json == res.json


def test_dated_slot_endpoints(client: Any, db: Session, people: dict[str, Person]) -> None:
    from datetime import timedelta

    from scheduling.db import utcnow

    login(client, people["ada"])
    start = (utcnow() + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    res = client.post(
        "/api/v1/me/availability/dated-slots",
        json={"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()},
    )
    assert res.status_code == 201
    slot_id = res.json["id"]
    assert res.json["time_zone"] == "Europe/London"
    assert [d["id"] for d in client.get("/api/v1/me/availability").json["dated_slots"]] == [slot_id]
    login(client, people["sam"])
    assert client.delete(f"/api/v1/me/availability/dated-slots/{slot_id}").status_code == 404
    login(client, people["ada"])
    assert client.delete(f"/api/v1/me/availability/dated-slots/{slot_id}").status_code == 204
    assert count_rows(db, DatedSlot) == {"DatedSlot": 0}


def test_mentee_cannot_edit_availability(client: Any, people: dict[str, Person]) -> None:
    login(client, people["mo"])
    res = client.put("/api/v1/me/availability", json={"note": "hi"})
    assert res.status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"weekly_slots": "mon 9-5"}, "weekly_slots"),
        ({"colour": "red"}, "colour"),
        ({}, None),
        ({"weekly_slots": [], "time_zone": "Mars/Base"}, "time_zone"),
        ({"note": 5}, "note"),
    ],
)
def test_bad_availability_bodies(
    client: Any, people: dict[str, Person], body: dict, field: str | None
) -> None:
    login(client, people["ada"])
    res = client.put("/api/v1/me/availability", json=body)
    assert res.status_code == 422
    assert res.json["error"]["field"] == field


def test_my_skills(client: Any, people: dict[str, Person]) -> None:
    login(client, people["mo"])
    res = client.put("/api/v1/me/skills", json={"wants": ["Python", {"name": "SQL", "level": 3}]})
    assert res.status_code == 200
    assert res.json["person"]["wants"] == [{"name": "Python", "level": None}, {"name": "SQL", "level": 3}]
    res = client.put("/api/v1/me/skills", json={"offers": ["Python"]})
    assert res.status_code == 403
    res = client.put("/api/v1/me/skills", json={"wants": [{"name": "SQL", "level": 9}]})
    assert res.status_code == 422 and res.json["error"]["field"] == "wants[0].level"


# ---------------------------------------------------------------- program settings


def test_program_read_by_all_changed_by_admin(client: Any, db: Session, people: dict[str, Person]) -> None:
    program = make_program(db)
    login(client, people["mo"])
    res = client.get("/api/v1/program")
    assert res.status_code == 200 and res.json["program"]["slot_minutes"] == 30
    assert client.patch("/api/v1/program", json={"slot_minutes": 60}).status_code == 403

    login(client, people["admin"])
    res = client.patch("/api/v1/program", json={"slot_minutes": 60, "lead_time_hours": 48})
    assert res.status_code == 200 and res.json["program"]["slot_minutes"] == 60
    res = client.patch("/api/v1/program", json={"slot_minutes": 45, "remind_after_days": 30})
    assert res.status_code == 422 and res.json["error"]["field"] == "remind_after_days"
    res = client.patch("/api/v1/program", json={"max_pending_requests": "lots"})
    assert res.status_code == 422 and res.json["error"]["field"] == "max_pending_requests"
    db.expire_all()
    stored = db.get(Program, program.id)
    assert stored is not None and (stored.slot_minutes, stored.lead_time_hours) == (60, 48)


def test_no_program_yet_is_404(client: Any, people: dict[str, Person]) -> None:
    login(client, people["mo"])
    res = client.get("/api/v1/program")
    assert res.status_code == 404 and res.json["error"]["code"] == "not_found"


# ---------------------------------------------------------------- no input ever causes a 500

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
    | st.sampled_from(["\x00", "\ud800", "Europe/London", "09:00", "2030-01-09T10:00Z"]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = [
    "name",
    "email",
    "time_zone",
    "roles",
    "title",
    "bio",
    "manager_id",
    "active",
    "password",
    "monthly_meeting_cap",
    "weekly_slots",
    "dated_slots",
    "note",
    "offers",
    "wants",
    "has",
    "slot_minutes",
    "remind_after_days",
    "auto_close_after_days",
    "mentoring_mode",
    "weekday",
    "start",
    "end",
    "level",
]
bodies = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), json_values, max_size=5) | json_values


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    route=st.sampled_from(
        [
            ("post", "/api/v1/auth/login"),
            ("post", "/api/v1/people"),
            ("patch", "/api/v1/people/{mo}"),
            ("patch", "/api/v1/people/{admin}"),
            ("put", "/api/v1/me/availability"),
            ("put", "/api/v1/me/skills"),
            ("patch", "/api/v1/program"),
            ("post", "/api/v1/me/availability/dated-slots"),
        ]
    ),
    who=st.sampled_from(["admin", "ada", "mo"]),
    body=bodies,
)
def test_no_body_ever_causes_a_server_error(
    client: Any, db: Session, people: dict[str, Person], route: tuple[str, str], who: str, body: Any
) -> None:
    if db.query(Program).count() == 0:
        make_program(db)
    login(client, people[who])
    method, path = route
    url = path.format(mo=people["mo"].id, admin=people["admin"].id)
    res = getattr(client, method)(url, json=body)
    assert res.status_code < 500, (res.status_code, res.get_data(as_text=True))
    assert res.is_json


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    params=st.dictionaries(
        st.sampled_from(["q", "skill", "department", "title", "time_zone", "role", "limit", "offset"]),
        st.text(max_size=20) | st.sampled_from(["%", "_", "\\", "\x00", "99999999999999999999", "-1"]),
        max_size=4,
    )
)
def test_no_directory_query_causes_a_server_error(
    client: Any, people: dict[str, Person], params: dict[str, str]
) -> None:
    login(client, people["admin"])
    res = client.get("/api/v1/people", query_string=params)
    assert res.status_code < 500, (res.status_code, res.get_data(as_text=True))
