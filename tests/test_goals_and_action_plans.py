"""Requests name a skill (counted per skill in the report); the mentee states goals before the
meeting; after it either side records the agreed action plan, both see it, and both are reminded
of it later by timed work (seed 001 practice)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling.errors import Forbidden, InvalidTransition, NotParticipant, ValidationFailed
from scheduling.models import MeetingRequest, MeetingState, Notification, TimedWork, WorkKind, WorkState
from scheduling.notices import request_created
from scheduling.reports import health_csv, program_health
from scheduling.services import action_plans
from scheduling.services import requests as svc
from scheduling.services.competencies import add_alias, add_skill
from tests.factories import (
    NOW,
    at,
    count_rows,
    login,
    make_admin,
    make_meeting,
    make_mentee,
    make_mentor,
    make_program,
    make_request,
    slot,
)
from tests.worker_harness import Life, life
from worker.jobs import meetings as meetings_jobs

__all__ = ["life"]
START = at("2030-01-09", "10:00")
AFTER = START + timedelta(hours=2)
REMINDER_KEY = "meeting-{}-action-plan-reminder"


def _catalogue(db: Session) -> None:
    add_alias(db, add_skill(db, "Public speaking"), "Presenting")
    add_skill(db, "Python")


def _reminder(db: Session, meeting_id: int) -> TimedWork | None:
    db.expire_all()
    return db.scalar(select(TimedWork).where(TimedWork.key == REMINDER_KEY.format(meeting_id)))


# ---------------------------------------------------------------- the skill of a request


def test_a_request_names_a_catalogue_skill_and_an_unknown_one_is_refused(db: Session) -> None:
    _catalogue(db)
    program, mentor, mentee = make_program(db), make_mentor(db), make_mentee(db)
    req = make_request(db, program=program, mentee=mentee, mentor=mentor, skill="presenting",
                       goals="Open a talk without notes")
    assert req.skill is not None and req.skill.name == "Public speaking"  # found through its alias
    assert req.goals == "Open a talk without notes"
    [notice] = request_created(req, "http://app.test")  # the mentor's email names both
    assert "Skill: Public speaking" in notice.text and "goals for the meeting:\nOpen a talk without notes" \
        in notice.text

    with pytest.raises(ValidationFailed) as refused:
        make_request(db, program=program, mentee=make_mentee(db), mentor=mentor, skill="Juggling")
    assert refused.value.field == "skill" and "Juggling" in refused.value.message
    assert count_rows(db, MeetingRequest)["MeetingRequest"] == 1


def test_the_report_counts_meetings_per_skill(db: Session) -> None:
    _catalogue(db)
    program, mentor = make_program(db), make_mentor(db)
    held = make_meeting(db, program=program, mentee=make_mentee(db), mentor=mentor, start=START,
                        skill="Public speaking")
    make_meeting(db, program=program, mentee=make_mentee(db), mentor=mentor, start=START + timedelta(days=1),
                 skill="Public speaking")
    make_request(db, program=program, mentee=make_mentee(db), mentor=mentor, skill="Python",
                 times=[slot(START + timedelta(hours=3))])
    make_request(db, program=program, mentee=make_mentee(db), mentor=mentor,
                 times=[slot(START + timedelta(hours=4))])  # names no skill: not counted
    held.state = MeetingState.COMPLETED
    db.commit()
    action_plans.record_plan(db, held, mentor, "Give the talk to the team", now=AFTER)

    report = program_health(db, program, now=AFTER)
    assert report["meetings_by_skill"] == [
        {"skill": "Public speaking", "requests": 2, "held": 1, "upcoming": 1, "not_held": 0, "canceled": 0,
         "action_plans": 1},
        {"skill": "Python", "requests": 1, "held": 0, "upcoming": 0, "not_held": 0, "canceled": 0,
         "action_plans": 0},
    ]
    assert "meetings_by_skill\nskill,requests,held,upcoming,not_held,canceled,action_plans\n" \
           "Public speaking,2,1,1,0,0,1\n" in health_csv(report)


def test_the_request_form_offers_the_catalogue_and_the_mentor_sees_skill_and_goals(
    client: Any, db: Session
) -> None:
    _catalogue(db)
    make_program(db, lead_time_hours=0)
    mentor, mentee = make_mentor(db, name="Grace Mentor"), make_mentee(db, name="Ada Mentee")
    login(client, mentee)
    form = client.get(f"/mentors/{mentor.id}/request").get_data(as_text=True)
    assert '<option value="Public speaking">' in form and 'id="goals"' in form

    details = {"topic": "Talks", "mode": "video", "kind": "one_time", "next": "time"}
    refused = client.post(f"/mentors/{mentor.id}/request", data={**details, "skill": "Juggling"})
    assert refused.status_code == 422 and 'id="skill-error"' in refused.get_data(as_text=True)

    assert client.post(f"/mentors/{mentor.id}/request",
                       data={**details, "skill": "Public speaking", "goals": "Calm first minute"}
                       ).status_code == 302
    page = client.get(f"/mentors/{mentor.id}/request/time?week=2030-01-07").get_data(as_text=True)
    value = page.split('name="slot" value="', 1)[1].split('"', 1)[0]
    sent = client.post(f"/mentors/{mentor.id}/request/time", data={"slot": value})
    assert sent.status_code == 302
    req = db.scalars(select(MeetingRequest)).one()
    assert req.skill is not None and req.skill.name == "Public speaking" and req.goals == "Calm first minute"

    login(client, mentor)
    seen = client.get(f"/requests/{req.id}").get_data(as_text=True)
    assert '<dd class="skill">Public speaking</dd>' in seen and "Calm first minute" in seen
    assert f'action="/requests/{req.id}/goals"' not in seen  # only the mentee edits them
    api = client.get(f"/api/v1/requests/{req.id}").json
    assert api["skill"] == "Public speaking" and api["goals"] == "Calm first minute"


def test_the_api_takes_a_skill_and_refuses_an_unknown_one(client: Any, db: Session) -> None:
    _catalogue(db)
    make_program(db, lead_time_hours=0)
    mentor, mentee = make_mentor(db), make_mentee(db)
    login(client, mentee)
    start = START + timedelta(days=7)
    body = {"mentor_id": mentor.id, "topic": "Talks", "goals": "Be heard",
            "times": [{"start": start.isoformat(), "end": (start + timedelta(minutes=30)).isoformat()}]}
    refused = client.post("/api/v1/requests", json={**body, "skill": "Juggling"})
    assert refused.status_code == 422 and refused.json["error"]["field"] == "skill"
    assert count_rows(db, MeetingRequest)["MeetingRequest"] == 0
    made = client.post("/api/v1/requests", json={**body, "skill": "python"})
    assert made.status_code == 201, made.json
    assert made.json["skill"] == "Python" and made.json["goals"] == "Be heard"
    rewritten = client.put(f"/api/v1/requests/{made.json['id']}/goals", json={"goals": "Be heard twice"})
    assert rewritten.status_code == 200 and rewritten.json["goals"] == "Be heard twice"
    login(client, mentor)
    refused = client.put(f"/api/v1/requests/{made.json['id']}/goals", json={"goals": "Mine"})
    assert refused.status_code == 403 and refused.json["error"]["field"] == "goals"
    assert client.get(f"/api/v1/requests/{made.json['id']}").json["goals"] == "Be heard twice"


# ---------------------------------------------------------------- goals before the meeting


def test_only_the_mentee_states_goals_and_only_before_the_meeting(client: Any, db: Session) -> None:
    program, mentor, mentee = make_program(db), make_mentor(db), make_mentee(db)
    meeting = make_meeting(db, program=program, mentee=mentee, mentor=mentor, start=START)
    req = meeting.request
    with pytest.raises(Forbidden):
        svc.set_goals(db, req, mentor, "Not mine to say", now=NOW)
    svc.set_goals(db, req, mentee, "Decide between two offers", now=NOW)
    assert req.goals == "Decide between two offers"
    note = db.scalars(select(Notification).where(Notification.person_id == mentor.id)
                      .order_by(Notification.id.desc())).first()
    assert note is not None and "stated goals" in note.title
    with pytest.raises(InvalidTransition):
        svc.set_goals(db, req, mentee, "Too late", now=START + timedelta(minutes=1))
    db.refresh(req)
    assert req.goals == "Decide between two offers"

    login(client, mentee)  # the meeting page's form, in the future of the real clock: still editable
    page = client.get(f"/meetings/{meeting.id}").get_data(as_text=True)
    assert "Decide between two offers" in page and f'action="/meetings/{meeting.id}/goals"' in page
    too_long = client.post(f"/meetings/{meeting.id}/goals", data={"goals": "x" * 2001})
    assert too_long.status_code == 422 and 'id="goals-error"' in too_long.get_data(as_text=True)
    assert client.post(f"/meetings/{meeting.id}/goals", data={"goals": "Pick one offer"}).status_code == 302
    db.refresh(req)
    assert req.goals == "Pick one offer"
    login(client, mentor)
    assert client.post(f"/meetings/{meeting.id}/goals", data={"goals": "Mine"}).status_code == 403
    db.refresh(req)
    assert req.goals == "Pick one offer"


# ---------------------------------------------------------------- the action plan after it


def test_the_action_plan_is_recorded_after_the_meeting_by_either_side(db: Session) -> None:
    program = make_program(db, action_plan_reminder_days=10)
    mentor, mentee, stranger = make_mentor(db), make_mentee(db), make_mentee(db)
    meeting = make_meeting(db, program=program, mentee=mentee, mentor=mentor, start=START)

    with pytest.raises(InvalidTransition):
        action_plans.record_plan(db, meeting, mentee, "Too early", now=START)
    with pytest.raises(NotParticipant):
        action_plans.record_plan(db, meeting, stranger, "Not mine", now=AFTER)
    with pytest.raises(ValidationFailed) as empty:
        action_plans.record_plan(db, meeting, mentee, "   ", now=AFTER)
    assert empty.value.field == "action_plan"
    assert _reminder(db, meeting.id) is None and meeting.action_plan == ""

    action_plans.record_plan(db, meeting, mentee, "Draft the proposal by Friday", now=AFTER)
    row = _reminder(db, meeting.id)
    assert row is not None and row.kind == WorkKind.ACTION_PLAN_REMINDER
    assert row.due_at == AFTER + timedelta(days=10) and row.state == WorkState.DUE
    note = db.scalars(select(Notification).where(Notification.person_id == mentor.id)
                      .order_by(Notification.id.desc())).first()
    assert note is not None and "action plan" in note.title and note.link == f"/meetings/{meeting.id}"

    later = AFTER + timedelta(days=1)  # the mentor rewrites it: the one reminder moves
    action_plans.record_plan(db, meeting, mentor, "Draft the proposal; Grace reviews it", now=later)
    row = _reminder(db, meeting.id)
    assert row is not None and row.due_at == later + timedelta(days=10)
    assert db.scalar(select(TimedWork.id).where(TimedWork.kind == WorkKind.ACTION_PLAN_REMINDER)
                     .where(TimedWork.key != row.key)) is None
    assert meeting.action_plan_by_id == mentor.id

    canceled = make_meeting(db, program=program, mentee=make_mentee(db), mentor=mentor,
                            start=START + timedelta(days=1))
    canceled.state = MeetingState.CANCELED
    db.commit()
    with pytest.raises(InvalidTransition):
        action_plans.record_plan(db, canceled, mentor, "Nothing to plan", now=AFTER + timedelta(days=2))


def test_both_sides_are_reminded_of_the_plan_once_and_a_rewritten_plan_is_not_reminded_twice(
    life: Life,
) -> None:
    db = life.db
    program = make_program(db, action_plan_reminder_days=7)
    mentor = make_mentor(db, name="Grace Mentor", email="grace@example.org")
    mentee = make_mentee(db, name="Ada Mentee", email="ada@example.org")
    meeting = make_meeting(db, program=program, mentee=mentee, mentor=mentor, start=START)
    old = action_plans.record_plan(db, meeting, mentee, "Read chapter 3", now=life.at(AFTER)).action_plan_at
    assert old is not None
    action_plans.record_plan(db, meeting, mentor, "Read chapters 3 and 4",
                             now=life.at(AFTER + timedelta(hours=1)))
    life.run_until(AFTER + timedelta(days=6))
    assert "Your action plan: Career advice" not in life.mail_to("ada@example.org")

    life.run_until(AFTER + timedelta(days=7, hours=2))
    for address in ("ada@example.org", "grace@example.org"):
        assert life.mail_to(address).count("Your action plan: Career advice") == 1
    mail = next(r for r in life.mail.to("ada@example.org") if r.subject == "Your action plan: Career advice")
    assert "Read chapters 3 and 4" in mail.text() and f"/meetings/{meeting.id}" in mail.text()
    assert meetings_jobs.remind_action_plan(meeting.id, old.isoformat()) == 0  # the first plan's version
    row = _reminder(db, meeting.id)
    assert row is not None and row.state == WorkState.DONE


def test_both_see_the_plan_on_the_meeting_page_and_in_the_api(client: Any, db: Session) -> None:
    program = make_program(db)
    mentor, mentee = make_mentor(db, name="Grace Mentor"), make_mentee(db, name="Ada Mentee")
    meeting = make_meeting(db, program=program, mentee=mentee, mentor=mentor, start=START)
    meeting.state = MeetingState.COMPLETED
    db.commit()

    login(client, mentor)
    page = client.get(f"/meetings/{meeting.id}").get_data(as_text=True)
    assert f'action="/meetings/{meeting.id}/action-plan"' in page
    empty = client.post(f"/meetings/{meeting.id}/action-plan", data={"action_plan": ""})
    assert empty.status_code == 422 and 'id="action_plan-error"' in empty.get_data(as_text=True)
    assert client.post(f"/meetings/{meeting.id}/action-plan",
                       data={"action_plan": "Ada shadows a sales call"}).status_code == 302

    login(client, mentee)
    page = client.get(f"/meetings/{meeting.id}").get_data(as_text=True)
    assert "Ada shadows a sales call" in page and "Recorded by Grace Mentor" in page
    api = client.put(f"/api/v1/meetings/{meeting.id}/action-plan",
                     json={"action_plan": "Ada shadows two calls"})
    assert api.status_code == 200, api.json
    assert api.json["action_plan"]["text"] == "Ada shadows two calls"
    assert api.json["action_plan"]["by_id"] == mentee.id

    login(client, make_admin(db))  # an admin reads it; the form is the participants'
    page = client.get(f"/meetings/{meeting.id}").get_data(as_text=True)
    assert "Ada shadows two calls" in page and f'action="/meetings/{meeting.id}/action-plan"' not in page
