"""The demo program: realistic, consistent with the rules, deterministic, loaded once."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from scheduling import demo
from scheduling.models import (
    ACTIVE_MEETING_STATES,
    Meeting,
    MeetingRequest,
    Person,
    Program,
    RequestState,
    SkillRelation,
)
from scheduling.services.people import check_email, check_time_zone
from scheduling.services.program import check_settings, settings_values
from tests.conftest import _truncate
from tests.factories import NOW, count_rows


def snapshot(session: Session) -> dict[str, Any]:
    """Everything the demo decides, by natural keys (no ids, no password salts)."""
    session.expire_all()
    email = {p.id: p.email for p in session.scalars(select(Person))}
    people = []
    for p in session.scalars(select(Person).order_by(Person.email)):
        people.append(
            (
                p.email,
                p.name,
                p.department,
                p.title,
                p.region,
                p.time_zone,
                tuple(p.roles),
                email.get(p.manager_id or 0),
                p.availability_note,
                p.monthly_meeting_cap,
                tuple(sorted((ps.relation.value, ps.skill.name, ps.level) for ps in p.skills)),
                tuple(
                    sorted(
                        (w.weekday, str(w.start_time), str(w.end_time), w.time_zone) for w in p.weekly_slots
                    )
                ),
                tuple(sorted((d.start_at, d.end_at) for d in p.dated_slots)),
            )
        )
    requests = [
        (
            email[r.mentee_id],
            email[r.mentor_id],
            r.state.value,
            r.topic,
            r.mode.value,
            tuple((t.start_at, t.end_at, t.proposed_by.value) for t in r.proposed_times),
            r.decline_reason.value if r.decline_reason else None,
        )
        for r in session.scalars(select(MeetingRequest).order_by(MeetingRequest.created_at))
    ]
    meetings = sorted(
        (email[m.mentor_id], email[m.mentee_id], m.start_at, m.state.value, m.uid)
        for m in session.scalars(select(Meeting))
    )
    program = session.scalars(select(Program)).one()
    return {"people": people, "requests": requests, "meetings": meetings, "program": settings_values(program)}


@pytest.fixture
def loaded(db: Session) -> demo.DemoSummary:
    return demo.load_demo(db, now=NOW)


def test_demo_has_the_promised_shape(db: Session, loaded: demo.DemoSummary) -> None:
    people = list(db.scalars(select(Person)))
    assert len(people) == loaded.people == 40
    assert len({p.department for p in people}) == 6
    zones = {p.time_zone for p in people}
    assert {
        "Europe/London",
        "America/New_York",
        "America/Los_Angeles",
        "Asia/Kolkata",
        "Australia/Sydney",
        "Europe/Berlin",
    } <= zones
    mentors = [p for p in people if p.is_mentor]
    assert len(mentors) == 20
    assert 1 <= sum(p.is_admin for p in people) <= 2
    assert sum(p.is_mentee for p in people) >= 15
    for mentor in mentors:
        assert mentor.weekly_slots, mentor.email
        assert all(w.time_zone == mentor.time_zone for w in mentor.weekly_slots)
        offered = [ps for ps in mentor.skills if ps.relation == SkillRelation.OFFERS]
        assert len(offered) >= 2 and all(ps.level is not None and 1 <= ps.level <= 5 for ps in offered)
    for mentee in (p for p in people if p.is_mentee and not p.is_mentor):
        assert mentee.skill_names(SkillRelation.WANTS), mentee.email
    # Every demo person is valid by the same rules the app applies.
    for person in people:
        assert check_email(person.email) == person.email
        assert check_time_zone(person.time_zone) == person.time_zone
    check_settings(None, settings_values(db.scalars(select(Program)).one()))


def test_every_department_skill_has_a_mentor(db: Session, loaded: demo.DemoSummary) -> None:
    offered = {
        ps.skill.name
        for p in db.scalars(select(Person).where(Person.is_mentor))
        for ps in p.skills
        if ps.relation == SkillRelation.OFFERS
    }
    assert {s for _, skills in demo.DEPARTMENTS.values() for s in skills} <= offered


def test_every_demo_person_signs_in_with_demo(db: Session, loaded: demo.DemoSummary) -> None:
    hashes = set(db.scalars(select(Person.password_hash)))
    assert len(hashes) == 1
    (password_hash,) = hashes
    assert password_hash and check_password_hash(password_hash, "demo")
    for role, email in demo.LOGINS.items():
        person = db.scalar(select(Person).where(Person.email == email))
        assert person is not None and role in person.roles


def test_demo_requests_cover_the_states_and_follow_the_rules(db: Session, loaded: demo.DemoSummary) -> None:
    states = Counter(r.state for r in db.scalars(select(MeetingRequest)))
    assert {
        RequestState.PENDING,
        RequestState.ACCEPTED,
        RequestState.COUNTERED,
        RequestState.DECLINED,
        RequestState.EXPIRED,
        RequestState.WITHDRAWN,
    } <= set(states)
    program = db.scalars(select(Program)).one()
    for request in db.scalars(select(MeetingRequest)):
        mentor = request.mentor
        for proposed in request.proposed_times:
            local = proposed.start_at.astimezone(ZoneInfo(mentor.time_zone))
            inside = any(
                w.weekday == local.weekday()
                and w.start_time <= local.time()
                and (local + timedelta(minutes=program.slot_minutes)).time() <= w.end_time
                for w in mentor.weekly_slots
            )
            assert inside, (mentor.email, local)
            assert proposed.end_at - proposed.start_at == timedelta(minutes=program.slot_minutes)
            if request.state in (RequestState.PENDING, RequestState.COUNTERED):
                assert proposed.start_at >= NOW + timedelta(hours=program.lead_time_hours)
        if request.state == RequestState.DECLINED:
            assert request.decline_reason is not None and request.decline_message
    meetings = list(db.scalars(select(Meeting)))
    assert any(m.state in ACTIVE_MEETING_STATES and m.start_at > NOW for m in meetings)
    assert any(m.end_at < NOW for m in meetings)  # one already held
    starts = [(m.mentor_id, m.start_at) for m in meetings] + [(m.mentee_id, m.start_at) for m in meetings]
    assert len(starts) == len(set(starts))  # nobody is double-booked


def test_the_held_meeting_has_survey_answers_the_report_shows(
    db: Session, loaded: demo.DemoSummary
) -> None:
    from scheduling.models import MeetingState, SurveyInvitation
    from scheduling.reports import program_health

    [held] = db.scalars(select(Meeting).where(Meeting.state == MeetingState.COMPLETED)).all()
    invitations = db.scalars(select(SurveyInvitation).where(SurveyInvitation.meeting_id == held.id)).all()
    assert {i.person_id for i in invitations} == {held.mentor_id, held.mentee_id}
    assert all(i.took_place is True and i.answered_at is not None and i.answered_at > held.end_at
               for i in invitations)
    report = program_health(db, db.scalars(select(Program)).one(), now=NOW + timedelta(days=30))
    useful = [q for q in report["surveys"]["questions"] if q["text"] == "How useful was the meeting for you?"]
    assert useful and useful[0]["answers"] == 2 and 4 <= useful[0]["mean"] <= 5
    assert held.action_plan and held.action_plan_by_id == held.mentor_id  # it closed with a next step
    assert held.request.goals and held.request.skill is not None
    assert any(row["held"] == 1 and row["action_plans"] == 1 for row in report["meetings_by_skill"])


def test_demo_is_deterministic(db: Session, engine: Engine) -> None:
    demo.load_demo(db, now=NOW)
    first = snapshot(db)
    _truncate(engine)
    demo.load_demo(db, now=NOW)
    assert snapshot(db) == first
    _truncate(engine)
    demo.load_demo(db, now=NOW, seed=demo.DEMO_SEED + 1)
    assert snapshot(db)["people"] != first["people"]  # the seed, not luck, fixes the data


def test_demo_refuses_a_database_with_data(db: Session, loaded: demo.DemoSummary) -> None:
    with pytest.raises(RuntimeError, match="empty"):
        demo.load_demo(db, now=NOW)


def test_cli_loads_only_once_with_if_empty(app: Any, db: Session) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "load", "--if-empty"])
    assert first.exit_code == 0, first.output
    assert "Demo program loaded: 40 people" in first.output
    assert "admin@example.com" in first.output and "password: demo" in first.output
    counts = count_rows(db, Person, MeetingRequest, Meeting)

    second = runner.invoke(args=["demo", "load", "--if-empty"])
    assert second.exit_code == 0
    assert "demo not loaded" in second.output and "mentee@example.com" in second.output
    assert count_rows(db, Person, MeetingRequest, Meeting) == counts

    third = runner.invoke(args=["demo", "load"])
    assert third.exit_code == 1 and "already has data" in third.output
    assert count_rows(db, Person, MeetingRequest, Meeting) == counts


def test_demo_people_use_the_api(app: Any, db: Session) -> None:
    demo.load_demo(db, now=datetime.now(ZoneInfo("UTC")))
    client = app.test_client()
    res = client.post("/api/v1/auth/login", json={"email": demo.LOGINS["mentee"], "password": "demo"})
    assert res.status_code == 200
    listing = client.get("/api/v1/people?limit=100")
    # 20 mentors, one of them paused for two weeks: not listed, as on the /mentors page
    assert listing.status_code == 200 and listing.json["total"] == 19
    assert client.get("/api/v1/people?skill=sfdc").json["total"] >= 1  # an alias from the catalogue
    assert client.get("/api/v1/program").json["program"]["name"] == "Flash mentoring (demo)"
    client.post("/api/v1/auth/logout", json={})
    client.post("/api/v1/auth/login", json={"email": demo.LOGINS["mentor"], "password": "demo"})
    availability = client.get("/api/v1/me/availability").json
    assert availability["weekly_slots"] and availability["note"]
