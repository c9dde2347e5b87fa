"""The JSON API for requests and meetings: flows, visibility, and bad input (always a clear 4xx)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduling.models import Meeting, MeetingRequest, Person, Program
from tests.factories import login, make_admin, make_mentee, make_mentor, make_program

WED_10 = {"start": "2030-01-09T10:00:00Z", "end": "2030-01-09T10:30:00Z"}
WED_12_PARIS = {"start": "2030-01-09T13:00:00+01:00", "end": "2030-01-09T13:30:00+01:00"}  # 12:00 UTC
THU_10 = {"start": "2030-01-10T10:00:00Z", "end": "2030-01-10T10:30:00Z"}


@dataclass
class World:
    """The people and rows every test here starts from."""

    program: Program
    mentor: Person
    mentee: Person
    other: Person
    admin: Person


@pytest.fixture
def w(db: Session) -> World:
    return World(
        program=make_program(db),
        mentor=make_mentor(db, time_zone="Europe/London", name="Mo"),
        mentee=make_mentee(db, time_zone="America/New_York", name="Mae"),
        other=make_mentee(db, name="Otto"),
        admin=make_admin(db),
    )


def as_(client: FlaskClient, person: Person) -> FlaskClient:
    login(client, person)
    return client


def create(client: FlaskClient, w: World, **overrides: Any) -> Any:
    body = {
        "mentor_id": w.mentor.id,
        "topic": "Moving into management",
        "description": "Advice",
        "mode": "video",
        "times": [WED_10, WED_12_PARIS],
    }
    body.update(overrides)
    return as_(client, w.mentee).post("/api/v1/requests", json=body)


def created(client: FlaskClient, w: World, **overrides: Any) -> dict[str, Any]:
    resp = create(client, w, **overrides)
    assert resp.status_code == 201, resp.get_json()
    data: dict[str, Any] = resp.get_json()
    return data


def error_of(resp: Any) -> tuple[int, str, str | None]:
    err = resp.get_json()["error"]
    return resp.status_code, err["code"], err["field"]


def rows(db: Session) -> tuple[int, int]:
    db.expire_all()
    return (
        db.scalar(select(func.count(MeetingRequest.id))) or 0,
        db.scalar(select(func.count(Meeting.id))) or 0,
    )


def test_a_mentee_requests_and_sees_times_in_their_zone(client: FlaskClient, w: World) -> None:
    resp = create(client, w)
    assert resp.status_code == 201
    data = resp.get_json()
    assert resp.headers["Location"].endswith(f"/api/v1/requests/{data['id']}")
    assert data["state"] == "pending"
    assert data["mentor"]["id"] == w.mentor.id and data["mentee"]["id"] == w.mentee.id
    first, second = data["proposed_times"]
    assert (first["start"], first["end"]) == ("2030-01-09T10:00:00Z", "2030-01-09T10:30:00Z")
    assert first["start_local"] == "2030-01-09T05:00:00-05:00"  # New York
    assert second["start"] == "2030-01-09T12:00:00Z"
    assert data["time_zone"] == "America/New_York"
    assert data["actions"] == ["withdraw"]
    mentor_view = as_(client, w.mentor).get(f"/api/v1/requests/{data['id']}").get_json()
    assert mentor_view["proposed_times"][0]["start_local"] == "2030-01-09T10:00:00+00:00"  # London in winter
    assert mentor_view["actions"] == ["accept", "counter", "decline"]


def test_a_hidden_directory_refuses_a_request_to_a_mentor_she_may_not_see(
    client: FlaskClient, db: Session, w: World
) -> None:
    """Where the directory is hidden, the API asks only a mentor the request form would open for
    her (a recommendation); asking another would have made that mentor hers to see from then on."""
    from scheduling.mentor_visibility import visible_mentor_ids

    others = [make_mentor(db, time_zone="Europe/London", name=f"Other {i}") for i in range(8)]
    w.program.directory_hidden = True
    db.commit()
    visible = set(visible_mentor_ids(db, w.program, w.mentee) or [])
    unseen = next(m for m in others if m.id not in visible)
    shown = next(m for m in others if m.id in visible)
    assert error_of(create(client, w, mentor_id=unseen.id)) == (404, "not_found", "mentor_id")
    assert rows(db) == (0, 0)
    assert create(client, w, mentor_id=shown.id).status_code == 201


def test_sign_in_is_required(client: FlaskClient, w: World) -> None:
    assert client.get("/api/v1/requests").status_code == 401
    resp = client.post("/api/v1/requests", json={})
    assert error_of(resp)[:2] == (401, "unauthorized")


def test_writes_must_be_json(client: FlaskClient, w: World) -> None:
    resp = as_(client, w.mentee).post("/api/v1/requests", data="mentor_id=1")
    assert resp.status_code == 415
    resp = client.post("/api/v1/requests", data="[1, 2]", content_type="application/json")
    assert resp.status_code == 400


@pytest.mark.parametrize(
    ("overrides", "status", "code", "field"),
    [
        ({"mentor_id": "abc"}, 422, "validation_failed", "mentor_id"),
        ({"mentor_id": True}, 422, "validation_failed", "mentor_id"),
        ({"mentor_id": None}, 422, "validation_failed", "mentor_id"),
        ({"mentor_id": 999_999}, 404, "not_found", "mentor_id"),
        ({"mentor_id": 10**20}, 422, "validation_failed", "mentor_id"),
        ({"mentor_id": -3}, 422, "validation_failed", "mentor_id"),
        ({"mentor_id": 1.5}, 422, "validation_failed", "mentor_id"),
        ({"topic": 7}, 422, "validation_failed", "topic"),
        ({"topic": ""}, 422, "validation_failed", "topic"),
        ({"mode": "telepathy"}, 422, "validation_failed", "mode"),
        ({"mode": ["video"]}, 422, "validation_failed", "mode"),
        ({"times": "tomorrow"}, 422, "validation_failed", "times"),
        ({"times": []}, 422, "validation_failed", "times"),
        ({"times": [1]}, 422, "validation_failed", "times[0]"),
        ({"times": [{"start": "2030-01-09T10:00:00"}]}, 422, "validation_failed", "times[0].end"),
        (
            {"times": [{"start": "2030-01-09T10:00:00", "end": "2030-01-09T10:30:00"}]},
            422,
            "validation_failed",
            "times[0].start",
        ),
        (
            {"times": [{"start": "next wednesday", "end": "2030-01-09T10:30:00Z"}]},
            422,
            "validation_failed",
            "times[0].start",
        ),
        ({"times": [{"start": 1893578400, "end": 1893580200}]}, 422, "validation_failed", "times[0].start"),
        (
            {"times": [WED_10, {"start": "2030-01-09T11:00:00Z", "end": "2030-01-09T12:00:00Z"}]},
            422,
            "bad_slot_length",
            "times[1]",
        ),
        (
            {"times": [{"start": "2020-01-08T10:00:00Z", "end": "2020-01-08T10:30:00Z"}]},
            422,
            "time_in_past",
            "times[0]",
        ),
        ({"program_id": 999_999}, 404, "not_found", "program_id"),
    ],
)
def test_bad_input_is_a_clear_4xx_and_changes_nothing(
    client: FlaskClient,
    db: Session,
    w: World,
    overrides: dict[str, Any],
    status: int,
    code: str,
    field: str,
) -> None:
    resp = create(client, w, **overrides)
    assert error_of(resp) == (status, code, field), resp.get_json()
    assert resp.get_json()["error"]["message"]
    assert rows(db) == (0, 0)


def test_domain_rules_come_back_with_their_code(client: FlaskClient, db: Session, w: World) -> None:
    assert error_of(create(client, w, mentor_id=w.other.id)) == (422, "not_a_mentor", "mentor_id")
    w.program.max_pending_requests = 1
    db.commit()
    created(client, w)
    assert error_of(create(client, w, times=[THU_10]))[:2] == (409, "pending_limit_reached")


def test_only_mentees_and_mentors_create(client: FlaskClient, w: World) -> None:
    resp = as_(client, w.admin).post("/api/v1/requests", json={"mentor_id": w.mentor.id})
    assert resp.status_code == 403


def test_a_mentor_asks_a_mentee_where_the_program_allows(
    client: FlaskClient, db: Session, w: World
) -> None:
    body = {"mentee_id": w.mentee.id, "topic": "Follow-up", "times": [WED_10]}
    resp = as_(client, w.mentor).post("/api/v1/requests", json=body)
    assert error_of(resp)[:2] == (403, "mentor_creation_not_allowed")
    w.program.mentors_may_create = True
    db.commit()
    resp = client.post("/api/v1/requests", json=body)
    assert resp.status_code == 201
    assert resp.get_json()["initiated_by"] == "mentor"
    resp = as_(client, w.other).post("/api/v1/requests", json={**body, "mentee_id": w.mentee.id})
    assert error_of(resp)[:2] == (403, "forbidden")


def test_listing_shows_only_my_requests(client: FlaskClient, db: Session, w: World) -> None:
    mine = created(client, w)
    theirs = (
        as_(client, w.other)
        .post("/api/v1/requests", json={"mentor_id": w.mentor.id, "topic": "Other", "times": [THU_10]})
        .get_json()
    )

    listing = as_(client, w.mentee).get("/api/v1/requests").get_json()
    assert [r["id"] for r in listing["requests"]] == [mine["id"]] and listing["total"] == 1
    assert as_(client, w.mentor).get("/api/v1/requests").get_json()["total"] == 2
    assert client.get(f"/api/v1/requests?mentee_id={w.other.id}").get_json()["total"] == 1

    assert as_(client, w.admin).get("/api/v1/requests").get_json()["total"] == 0
    assert client.get("/api/v1/requests?all=1").get_json()["total"] == 2
    assert client.get("/api/v1/requests?all=1&state=declined").get_json()["total"] == 0
    one = client.get(f"/api/v1/requests?all=1&mentee_id={w.other.id}").get_json()
    assert [r["id"] for r in one["requests"]] == [theirs["id"]]

    assert error_of(as_(client, w.mentee).get("/api/v1/requests?all=1"))[:2] == (403, "forbidden")
    assert error_of(client.get("/api/v1/requests?state=lost")) == (422, "validation_failed", "state")
    assert error_of(client.get("/api/v1/requests?mentor_id=x")) == (422, "validation_failed", "mentor_id")
    assert error_of(client.get("/api/v1/requests?limit=0")) == (422, "validation_failed", "limit")
    assert error_of(client.get("/api/v1/requests?offset=99999999999999999")) == (
        422,
        "validation_failed",
        "offset",
    )
    assert error_of(client.get("/api/v1/requests?all=maybe")) == (422, "validation_failed", "all")


def test_a_mentee_never_sees_another_mentees_request(client: FlaskClient, w: World) -> None:
    req = created(client, w)
    url = f"/api/v1/requests/{req['id']}"
    assert error_of(as_(client, w.other).get(url))[:2] == (404, "not_found")
    for action in ("accept", "withdraw", "decline", "counter", "confirm"):
        assert client.post(f"{url}/{action}", json={}).status_code == 404
    assert as_(client, w.admin).get(url).status_code == 200
    assert client.get("/api/v1/requests/999999").status_code == 404
    assert client.get("/api/v1/requests/abc").status_code == 404
    assert client.get("/api/v1/requests/99999999999999999999").status_code == 404
    assert client.post("/api/v1/meetings/99999999999999999999/cancel", json={}).status_code == 404


def test_accept_books_a_meeting_both_sides_see(client: FlaskClient, db: Session, w: World) -> None:
    req = created(client, w)
    url = f"/api/v1/requests/{req['id']}"
    second_id = req["proposed_times"][1]["id"]
    assert error_of(as_(client, w.mentee).post(f"{url}/accept", json={"time_id": second_id}))[:2] == (
        403,
        "forbidden",
    )
    as_(client, w.mentor)
    assert error_of(client.post(f"{url}/accept", json={})) == (422, "validation_failed", "time_id")
    assert error_of(client.post(f"{url}/accept", json={"time_id": "second"})) == (
        422,
        "validation_failed",
        "time_id",
    )
    assert error_of(client.post(f"{url}/accept", json={"time_id": 999_999})) == (
        422,
        "validation_failed",
        "time_id",
    )
    assert rows(db) == (1, 0)

    resp = client.post(f"{url}/accept", json={"time_id": second_id})
    assert resp.status_code == 200, resp.get_json()
    data = resp.get_json()
    assert data["request"]["state"] == "accepted"
    meeting = data["meeting"]
    assert (meeting["start"], meeting["state"], meeting["request_id"]) == (
        "2030-01-09T12:00:00Z",
        "scheduled",
        req["id"],
    )
    assert data["request"]["meeting_id"] == meeting["id"]

    assert error_of(client.post(f"{url}/accept", json={"time_id": second_id}))[:2] == (
        409,
        "invalid_transition",
    )
    mentee_view = as_(client, w.mentee).get(f"/api/v1/meetings/{meeting['id']}").get_json()
    assert mentee_view["start_local"] == "2030-01-09T07:00:00-05:00"
    assert mentee_view["actions"] == ["cancel", "reschedule"]
    assert [m["id"] for m in client.get("/api/v1/meetings").get_json()["meetings"]] == [meeting["id"]]
    assert as_(client, w.other).get("/api/v1/meetings").get_json()["total"] == 0
    assert error_of(client.get(f"/api/v1/meetings/{meeting['id']}"))[:2] == (404, "not_found")


def test_counter_then_confirm(client: FlaskClient, w: World) -> None:
    req = created(client, w)
    url = f"/api/v1/requests/{req['id']}"
    as_(client, w.mentor)
    assert error_of(client.post(f"{url}/counter", json={"start": THU_10["start"]})) == (
        422,
        "validation_failed",
        "end",
    )
    assert error_of(
        client.post(f"{url}/counter", json={"start": "2030-01-10T10:00:00", "end": THU_10["end"]})
    ) == (422, "validation_failed", "start")
    resp = client.post(f"{url}/counter", json={**THU_10, "message": "Thursday?"})
    assert resp.status_code == 200
    data = resp.get_json()
    assert data["state"] == "countered"
    assert data["counter_time"]["start"] == THU_10["start"]
    assert [m["body"] for m in data["messages"]] == ["Thursday?"]

    assert error_of(client.post(f"{url}/confirm", json={}))[:2] == (403, "forbidden")
    resp = as_(client, w.mentee).post(f"{url}/confirm", json={})
    assert resp.status_code == 200
    assert resp.get_json()["meeting"]["start"] == THU_10["start"]


def test_decline_reason_is_visible_to_the_mentee(client: FlaskClient, w: World) -> None:
    req = created(client, w)
    url = f"/api/v1/requests/{req['id']}"
    as_(client, w.mentor)
    assert error_of(client.post(f"{url}/decline", json={})) == (422, "validation_failed", "reason")
    assert error_of(client.post(f"{url}/decline", json={"reason": "meh"})) == (
        422,
        "validation_failed",
        "reason",
    )
    assert error_of(client.post(f"{url}/decline", json={"reason": "no_time", "message": 5})) == (
        422,
        "validation_failed",
        "message",
    )
    resp = client.post(f"{url}/decline", json={"reason": "not_my_expertise", "message": "Ask Priya"})
    assert resp.status_code == 200
    seen = as_(client, w.mentee).get(url).get_json()
    assert (seen["state"], seen["decline_reason"], seen["decline_message"]) == (
        "declined",
        "not_my_expertise",
        "Ask Priya",
    )
    assert seen["answered_at"]["utc"] is not None


def test_withdraw_and_admin_close(client: FlaskClient, w: World) -> None:
    first = created(client, w)
    second = created(client, w, times=[THU_10])
    assert (
        as_(client, w.mentee).post(f"/api/v1/requests/{first['id']}/withdraw", json={}).get_json()["state"]
        == "withdrawn"
    )
    assert error_of(client.post(f"/api/v1/requests/{second['id']}/close", json={}))[:2] == (403, "forbidden")
    resp = as_(client, w.admin).post(f"/api/v1/requests/{second['id']}/close", json={})
    assert resp.get_json()["state"] == "expired"
    assert error_of(client.post(f"/api/v1/requests/{second['id']}/close", json={}))[:2] == (
        409,
        "invalid_transition",
    )
    assert client.post("/api/v1/requests/424242/close", json={}).status_code == 404


def test_cancel_and_reschedule_meetings(client: FlaskClient, db: Session, w: World) -> None:
    req = created(client, w, times=[WED_10])
    meeting = (
        as_(client, w.mentor).post(f"/api/v1/requests/{req['id']}/accept", json={}).get_json()["meeting"]
    )
    url = f"/api/v1/meetings/{meeting['id']}"
    assert error_of(client.post(f"{url}/reschedule", json={"start": "2030-01-10T10:00:00", "end": "x"})) == (
        422,
        "validation_failed",
        "start",
    )
    assert error_of(client.post(f"{url}/reschedule", json={"start": THU_10["start"]})) == (
        422,
        "validation_failed",
        "end",
    )
    resp = client.post(f"{url}/reschedule", json=THU_10)
    assert resp.status_code == 200
    assert (resp.get_json()["state"], resp.get_json()["start"], resp.get_json()["sequence"]) == (
        "rescheduled",
        THU_10["start"],
        1,
    )

    assert as_(client, w.other).post(f"{url}/cancel", json={}).status_code == 404
    assert error_of(as_(client, w.mentee).post(f"{url}/cancel", json={"reason": ["x"]})) == (
        422,
        "validation_failed",
        "reason",
    )
    resp = client.post(f"{url}/cancel", json={"reason": "Clash"})
    assert (resp.get_json()["state"], resp.get_json()["cancel_reason"]) == ("canceled", "Clash")
    assert error_of(client.post(f"{url}/cancel", json={}))[:2] == (409, "invalid_transition")
    assert as_(client, w.admin).get("/api/v1/meetings?all=1&state=canceled").get_json()["total"] == 1
    assert error_of(client.get("/api/v1/meetings?state=gone")) == (422, "validation_failed", "state")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
ISO = st.sampled_from(["2030-01-09T10:00:00Z", "2030-01-09T10:00:00", "2030-13-01T00:00:00Z", "", "Z"])
_fresh = itertools.count()
TIME = st.fixed_dictionaries({}, optional={"start": ISO | JSON, "end": ISO | JSON})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.fixed_dictionaries(
        {},
        optional={
            "mentor_id": JSON,
            "mentee_id": JSON,
            "topic": JSON,
            "description": JSON,
            "mode": st.sampled_from(["video", "phone", "in_person"]) | JSON,
            "location": JSON,
            "times": st.lists(TIME, max_size=3) | JSON,
            "program_id": JSON,
        },
    ),
    action=st.sampled_from(["accept", "counter", "decline", "withdraw", "confirm", "close"]),
    answer=st.dictionaries(st.sampled_from(["time_id", "start", "end", "reason", "message"]), ISO | JSON),
)
def test_no_body_ever_causes_a_server_error(
    client: FlaskClient, w: World, body: dict[str, Any], action: str, answer: dict[str, Any]
) -> None:
    resp = as_(client, w.mentee).post("/api/v1/requests", json=body)
    assert resp.status_code in (201, 400, 403, 404, 409, 422), resp.get_json()
    assert "error" in resp.get_json() or resp.status_code == 201
    if resp.status_code == 201:
        req = resp.get_json()
    else:
        n = next(_fresh)  # a new free half hour each example: an accepted example books its time
        start = datetime(2030, 1, 14, 9, tzinfo=UTC) + timedelta(
            days=7 * (n // 80) + (n // 16) % 5, minutes=30 * (n % 16)
        )
        req = created(
            client,
            w,
            times=[{"start": start.isoformat(), "end": (start + timedelta(minutes=30)).isoformat()}],
        )
    for person in (w.mentor, w.mentee, w.admin):
        resp = as_(client, person).post(f"/api/v1/requests/{req['id']}/{action}", json=answer)
        assert resp.status_code in (200, 400, 403, 404, 409, 422), resp.get_json()
    as_(client, w.mentee).post(f"/api/v1/requests/{req['id']}/withdraw", json={})
