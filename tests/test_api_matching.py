"""The matching API: matches, recommendations, hidden directory, competencies, routing,
messages, follow-ups and re-assessments, with a role check on every route."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduling.models import (
    MeetingRequest,
    MentoringMode,
    Message,
    Person,
    PersonSkill,
    Program,
    Recommendation,
    RequestState,
    RoutingRequest,
    SkillRelation,
)
from scheduling.services import meetings as meeting_service
from scheduling.services.people import set_skills
from tests.factories import (
    NOW,
    at,
    login,
    make_admin,
    make_meeting,
    make_mentee,
    make_mentor,
    make_program,
    make_request,
)

FUTURE_DAY = (NOW + timedelta(days=400)).date().isoformat()  # the API uses the real clock


@dataclass
class World:
    """The people and rows every test here starts from."""

    program: Program
    mentee: Person
    strong: Person
    weak: Person
    other: Person
    admin: Person


@pytest.fixture
def world(db: Session) -> World:
    program = make_program(db, lead_time_hours=0)
    mentee = make_mentee(db, name="Mae Mentee", department="Sales", title="Account Executive")
    set_skills(db, mentee, {"wants": ["Salesforce CRM"]})
    strong = make_mentor(db, name="Strong Mentor", department="Finance")
    set_skills(db, strong, {"offers": [{"name": "CRM - Salesforce", "level": 5}]})
    weak = make_mentor(db, name="Weak Mentor", department="Finance")
    set_skills(db, weak, {"offers": [{"name": "Salesforce CRM", "level": 1}]})
    other = make_mentor(db, name="Other Mentor", department="Sales")
    return World(
        program=program,
        mentee=mentee,
        strong=strong,
        weak=weak,
        other=other,
        admin=make_admin(db, name="Ada Admin"),
    )


def error_code(resp: Any) -> str:
    return str(resp.get_json()["error"]["code"])


def test_matches_rank_with_reasons_and_check_roles(client: Any, world: World) -> None:
    assert client.get("/api/v1/matches").status_code == 401
    login(client, world.mentee)
    resp = client.get("/api/v1/matches")
    assert resp.status_code == 200
    found = resp.get_json()["matches"]
    assert [m["mentor"]["name"] for m in found] == ["Strong Mentor", "Weak Mentor", "Other Mentor"]
    assert "offers Salesforce CRM at level 5" in found[0]["reasons"]
    assert "from another department (Finance): a fresh view" in found[0]["reasons"]
    assert any("free for you both" in r for r in found[0]["reasons"])
    assert client.get("/api/v1/matches?limit=1").get_json()["matches"][0]["mentor"]["name"] == "Strong Mentor"
    assert client.get("/api/v1/matches?limit=0").status_code == 422
    assert client.get(f"/api/v1/matches?mentee_id={world.admin.id}").status_code == 403

    login(client, world.strong)  # a mentor only: no matches of their own
    assert error_code(client.get("/api/v1/matches")) == "forbidden"

    login(client, world.admin)
    resp = client.get(f"/api/v1/matches?mentee_id={world.mentee.id}")
    assert resp.status_code == 200 and resp.get_json()["matches"][0]["mentor"]["name"] == "Strong Mentor"
    assert client.get("/api/v1/matches?mentee_id=999999").status_code == 404


def test_admin_pushes_and_mentee_sees_them_first(client: Any, db: Session, world: World) -> None:
    body = {
        "mentee_ids": [world.mentee.id],
        "mentor_ids": [world.other.id],
        "note": "Ask about pipeline",
    }
    login(client, world.mentee)
    assert client.post("/api/v1/recommendations", json=body).status_code == 403

    login(client, world.admin)
    resp = client.post("/api/v1/recommendations", json=body)
    assert resp.status_code == 201
    assert resp.get_json()["recommendations"][0]["note"] == "Ask about pipeline"
    assert client.post("/api/v1/recommendations", json=body).status_code == 201  # again: no duplicate
    assert db.scalar(select(func.count(Recommendation.id))) == 1

    login(client, world.mentee)
    recs = client.get("/api/v1/recommendations?n=2").get_json()["recommendations"]
    assert [r["mentor"]["name"] for r in recs] == ["Other Mentor", "Strong Mentor"]
    assert recs[0]["recommended"] and "recommended by the program admin" in recs[0]["reasons"]


def test_csv_push_is_all_or_nothing(client: Any, db: Session, world: World) -> None:
    login(client, world.admin)
    mentee, strong = world.mentee, world.strong
    bad = f"mentee_email,mentor_email\n{mentee.email},{strong.email}\n{mentee.email},nobody@example.com\n"
    resp = client.post("/api/v1/recommendations", json={"csv": bad})
    assert resp.status_code == 422
    err = resp.get_json()["error"]
    assert err["code"] == "import_failed"
    assert err["errors"] == [
        {"row": 3, "field": "mentor_email", "message": "Nobody has the email 'nobody@example.com'."}
    ]
    assert db.scalar(select(func.count(Recommendation.id))) == 0

    good = f"{mentee.email},{strong.email},great fit\n{mentee.email},{world.weak.email}\n"
    resp = client.post("/api/v1/recommendations", json={"csv": good})
    assert resp.status_code == 201
    assert db.scalar(select(func.count(Recommendation.id))) == 2
    # a mentor pushed as a mentee is refused by role, again changing nothing
    resp = client.post("/api/v1/recommendations", json={"csv": f"{strong.email},{mentee.email}\n"})
    assert resp.status_code == 422 and db.scalar(select(func.count(Recommendation.id))) == 2

    listed = client.get(f"/api/v1/recommendations/pushed?mentee_id={mentee.id}").get_json()["recommendations"]
    assert [r["mentor"]["name"] for r in listed] == ["Strong Mentor", "Weak Mentor"]
    assert client.delete(f"/api/v1/recommendations/{listed[0]['id']}").status_code == 204
    assert client.delete(f"/api/v1/recommendations/{listed[0]['id']}").status_code == 404


def test_hidden_directory_shows_a_mentee_only_their_recommendations(
    client: Any, db: Session, world: World
) -> None:
    program = world.program
    extra = [make_mentor(db, name=f"Extra {i}") for i in range(6)]
    login(client, world.mentee)
    assert client.get("/api/v1/people?role=mentor").get_json()["total"] == 9

    program.directory_hidden = True
    db.commit()
    login(client, world.admin)
    client.post(
        "/api/v1/recommendations", json={"mentee_ids": [world.mentee.id], "mentor_ids": [extra[5].id]}
    )
    login(client, world.mentee)
    resp = client.get("/api/v1/people?role=mentor").get_json()
    names = {p["name"] for p in resp["items"]}
    assert resp["total"] == 5 == len(names)  # the pushed one, then the best matches: five in all
    assert {"Extra 5", "Strong Mentor", "Weak Mentor"} <= names
    extras = client.get("/api/v1/people?role=mentor&q=Extra").get_json()
    assert {p["name"] for p in extras["items"]} <= names and "Extra 5" in {p["name"] for p in extras["items"]}
    assert extras["total"] < len(extra)

    login(client, world.admin)
    assert client.get("/api/v1/people?role=mentor").get_json()["total"] == 9


def test_hidden_directory_keeps_matches_and_recommendations_to_her_recommendations(
    client: Any, db: Session, world: World
) -> None:
    """The matches and recommendations rank no mentor the people list hides from her (issue 17):
    the same five mentors whatever ``limit`` or ``n`` asks for; an admin still sees every mentor."""
    extra = [make_mentor(db, name=f"Extra {i}") for i in range(6)]
    world.program.directory_hidden = True
    db.add(Recommendation(program_id=world.program.id, mentee_id=world.mentee.id, mentor_id=extra[5].id))
    db.commit()
    login(client, world.mentee)
    visible = {p["name"] for p in client.get("/api/v1/people?role=mentor&limit=100").get_json()["items"]}
    assert len(visible) == 5 and "Extra 5" in visible

    resp = client.get("/api/v1/matches?limit=100")
    assert resp.status_code == 200, resp.get_json()
    assert {m["mentor"]["name"] for m in resp.get_json()["matches"]} == visible
    recs = client.get("/api/v1/recommendations?n=100").get_json()["recommendations"]
    assert recs[0]["mentor"]["name"] == "Extra 5" and recs[0]["recommended"]
    assert {m["mentor"]["name"] for m in recs} == visible
    two = client.get("/api/v1/recommendations?n=2").get_json()["recommendations"]
    assert [m["mentor"]["name"] for m in two] == [m["mentor"]["name"] for m in recs[:2]]

    login(client, world.admin)
    mine = f"mentee_id={world.mentee.id}"
    everyone = client.get(f"/api/v1/matches?{mine}&limit=100").get_json()["matches"]
    assert len(everyone) == 9
    assert len(client.get(f"/api/v1/recommendations?{mine}&n=100").get_json()["recommendations"]) > 5


def test_hidden_directory_keeps_routing_choices_to_her_recommendations(
    client: Any, db: Session, world: World
) -> None:
    """An admin-routed program's mentee ranks only mentors she may see: an admin's assignment
    would otherwise turn a hidden mentor into one she asked."""
    extra = [make_mentor(db, name=f"Extra {i}") for i in range(6)]
    world.program.admin_routed = world.program.directory_hidden = True
    db.commit()
    login(client, world.mentee)
    visible = {p["id"] for p in client.get("/api/v1/people?role=mentor").get_json()["items"]}
    unseen = next(m for m in [world.strong, world.weak, world.other, *extra] if m.id not in visible)
    shown = next(iter(visible))
    body = {"mentor_ids": [shown, unseen.id], "topic": "Pipeline reviews"}
    resp = client.post("/api/v1/routing", json=body)
    assert resp.status_code == 422 and resp.get_json()["error"]["field"] == "mentor_ids[1]"
    assert db.scalar(select(func.count(RoutingRequest.id))) == 0
    assert client.post("/api/v1/routing", json={**body, "mentor_ids": [shown]}).status_code == 201


def test_competencies_and_gaps_visibility(client: Any, db: Session, world: World) -> None:
    manager = make_mentee(db, name="Manny Manager")
    mentee = world.mentee
    mentee.manager_id = manager.id
    db.commit()
    set_skills(db, mentee, {"has": [{"name": "Negotiation", "level": 1}]})
    model = {
        "roles": {
            "Account Executive": [{"name": "Negotiation", "level": 4}, {"name": "Salesforce CRM", "level": 3}]
        }
    }
    login(client, mentee)
    assert client.put("/api/v1/competencies", json=model).status_code == 403
    login(client, world.admin)
    resp = client.put("/api/v1/competencies", json={"roles": {"AE": [{"name": "X", "level": 9}]}})
    assert resp.status_code == 422 and resp.get_json()["error"]["field"] == "roles.AE[0].level"
    assert client.get("/api/v1/competencies").get_json()["roles"] == {}
    assert client.put("/api/v1/competencies", json=model).status_code == 200

    for viewer in (mentee, manager, world.admin):
        login(client, viewer)
        gaps = client.get(f"/api/v1/people/{mentee.id}/gaps").get_json()["gaps"]
        assert [(g["skill"], g["current_level"], g["gap"]) for g in gaps] == [
            ("Negotiation", 1, 3),
            ("Salesforce CRM", None, 3),
        ]
    login(client, world.strong)
    assert client.get(f"/api/v1/people/{mentee.id}/gaps").status_code == 404


def test_skill_catalogue_aliases(client: Any, world: World) -> None:
    login(client, world.admin)
    skills = {s["name"]: s for s in client.get("/api/v1/skills").get_json()["skills"]}
    sid = skills["CRM - Salesforce"]["id"] if "CRM - Salesforce" in skills else skills["Salesforce CRM"]["id"]
    resp = client.patch(f"/api/v1/skills/{sid}", json={"category": "Sales tools", "add_aliases": ["SFDC"]})
    assert resp.status_code == 200 and resp.get_json()["skill"]["aliases"] == ["sfdc"]
    assert client.post("/api/v1/skills", json={"name": "sfdc"}).status_code == 409
    login(client, world.mentee)
    assert client.post("/api/v1/skills", json={"name": "Cobol"}).status_code == 403
    found = client.get("/api/v1/people?role=mentor&skill=SFDC").get_json()["items"]
    assert {p["name"] for p in found} == {"Strong Mentor", "Weak Mentor"}


def test_admin_routing_flow(client: Any, db: Session, world: World) -> None:
    mentee, strong, weak = world.mentee, world.strong, world.weak
    login(client, mentee)
    body = {"mentor_ids": [strong.id, weak.id], "topic": "Pipeline reviews"}
    assert error_code(client.post("/api/v1/routing", json=body)) == "admin_routing_off"

    world.program.admin_routed = True
    db.commit()
    start = at(FUTURE_DAY, "10:00")
    direct = {
        "mentor_id": strong.id,
        "topic": "x",
        "times": [{"start": start.isoformat(), "end": (start + timedelta(minutes=30)).isoformat()}],
    }
    assert error_code(client.post("/api/v1/requests", json=direct)) == "admin_routing_required"
    resp = client.post("/api/v1/routing", json=body)
    assert resp.status_code == 201
    routing = resp.get_json()["routing"]
    assert [c["mentor"]["name"] for c in routing["choices"]] == ["Strong Mentor", "Weak Mentor"]
    assert (
        client.post(f"/api/v1/routing/{routing['id']}/assign", json={"mentor_id": weak.id}).status_code == 403
    )

    login(client, strong)
    assert client.get(f"/api/v1/routing/{routing['id']}").status_code == 404
    login(client, world.admin)
    queue = client.get("/api/v1/routing?state=open").get_json()["routing"]
    assert [r["id"] for r in queue] == [routing["id"]]
    resp = client.post(f"/api/v1/routing/{routing['id']}/assign", json={"mentor_id": world.other.id})
    assert resp.status_code == 422 and resp.get_json()["error"]["field"] == "mentor_id"
    resp = client.post(f"/api/v1/routing/{routing['id']}/assign", json={"mentor_id": weak.id})
    assert resp.status_code == 201
    req = resp.get_json()["request"]
    assert req["mentor"]["id"] == weak.id and req["state"] == "pending" and req["topic"] == "Pipeline reviews"
    assert len(req["proposed_times"]) == 3
    assert (
        client.post(f"/api/v1/routing/{routing['id']}/assign", json={"mentor_id": weak.id}).status_code == 409
    )

    login(client, weak)  # the mentor is asked as usual
    resp = client.post(
        f"/api/v1/requests/{req['id']}/accept", json={"time_id": req["proposed_times"][0]["id"]}
    )
    assert resp.status_code == 200


def test_message_thread_roles_and_count(client: Any, db: Session, world: World) -> None:
    program = world.program
    req = make_request(
        db,
        program=program,
        mentee=world.mentee,
        mentor=world.strong,
        times=[(at(FUTURE_DAY, "10:00"), at(FUTURE_DAY, "10:30"))],
    )
    url = f"/api/v1/requests/{req.id}/messages"
    login(client, world.mentee)
    assert client.post(url, json={"body": "I'd like to cover forecasting."}).status_code == 201
    assert client.post(url, json={"body": "   "}).status_code == 422
    login(client, world.strong)
    assert client.post(url, json={"body": "Great, bring your numbers."}).status_code == 201
    thread = client.get(url).get_json()["messages"]
    assert [m["body"] for m in thread] == ["I'd like to cover forecasting.", "Great, bring your numbers."]

    login(client, world.weak)
    assert client.get(url).status_code == 404
    assert client.post(url, json={"body": "hi"}).status_code == 404
    login(client, world.admin)
    assert len(client.get(url).get_json()["messages"]) == 2
    assert client.post(url, json={"body": "admin here"}).status_code == 403
    report = client.get("/api/v1/reports/matching").get_json()
    assert report["messages"] == {"messages": 2, "threads": 1}
    login(client, world.mentee)
    assert client.get("/api/v1/reports/matching").status_code == 403
    assert db.scalar(select(func.count(Message.id))) == 2


def test_after_the_meeting_follow_up_and_reassessment(
    client: Any, db: Session, world: World
) -> None:
    program, mentee, mentor = world.program, world.mentee, world.strong
    program.mentoring_mode = MentoringMode.BOTH
    manager = make_mentee(db, name="Manny Manager")
    mentee.manager_id = manager.id
    db.commit()
    meeting = make_meeting(db, program=program, mentee=mentee, mentor=mentor, start=at("2030-01-09", "10:00"))
    url = f"/api/v1/meetings/{meeting.id}/follow-ups"
    login(client, mentee)
    assert error_code(client.post(url, json={"kind": "ongoing"})) == "invalid_transition"  # not yet held
    meeting_service.complete(db, meeting, now=at("2030-01-09", "11:00"))

    resp = client.post(url, json={"kind": "ongoing", "message": "Monthly?"})
    assert resp.status_code == 201
    follow = resp.get_json()["follow_up"]
    assert client.post(f"/api/v1/follow-ups/{follow['id']}/accept", json={}).status_code == 403
    login(client, mentor)
    resp = client.post(f"/api/v1/follow-ups/{follow['id']}/accept", json={})
    assert resp.status_code == 200 and resp.get_json()["follow_up"]["state"] == "accepted"

    login(client, mentee)
    start = at(FUTURE_DAY, "11:00")
    resp = client.post(
        url,
        json={
            "kind": "follow_up",
            "times": [{"start": start.isoformat(), "end": (start + timedelta(minutes=30)).isoformat()}],
        },
    )
    assert resp.status_code == 201
    follow_req = db.get(MeetingRequest, resp.get_json()["follow_up"]["request_id"])
    assert follow_req is not None and follow_req.state == RequestState.PENDING
    assert follow_req.topic.startswith("Follow-up: ")

    body = {"skill": "crm salesforce", "level": 3, "meeting_id": meeting.id}
    resp = client.post("/api/v1/reassessments", json=body)
    assert resp.status_code == 201
    row = resp.get_json()["reassessment"]
    assert row["state"] == "pending" and row["previous_level"] is None
    assert client.post(f"/api/v1/reassessments/{row['id']}/confirm", json={}).status_code == 403
    login(client, mentor)
    assert client.post(f"/api/v1/reassessments/{row['id']}/confirm", json={}).status_code == 404
    login(client, manager)
    pending = client.get("/api/v1/reassessments?to_confirm=1").get_json()["reassessments"]
    assert [p["id"] for p in pending] == [row["id"]]
    resp = client.post(f"/api/v1/reassessments/{row['id']}/confirm", json={})
    assert resp.status_code == 200 and resp.get_json()["reassessment"]["state"] == "confirmed"
    level = db.scalar(
        select(PersonSkill.level).where(
            PersonSkill.person_id == mentee.id, PersonSkill.relation == SkillRelation.HAS
        )
    )
    assert level == 3

    login(client, world.admin)
    changes = client.get("/api/v1/reports/matching").get_json()["skill_changes"]
    assert changes["by_skill"] == [{"skill": "Salesforce CRM", "people": 1, "average_delta": 3.0}]
    assert db.scalar(select(func.count(RoutingRequest.id))) == 0
