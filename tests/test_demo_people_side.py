"""The demo shows the people's side: a mentor paused for two weeks (out of the directory), the
choice between one meeting and a mentoring connection, a pushed recommendation and a message as
unread notifications, separate mentor and mentee surveys with written answers in the report."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling import demo, notifications
from scheduling.models import NotificationKind, Person, Program, SurveyAudience, SurveyQuestion
from scheduling.reports import program_health
from tests.factories import login


def _people(db: Session) -> dict[str, Person]:
    demo.load_demo(db)
    by_email = {p.email: p for p in db.scalars(select(Person))}
    return {role: by_email[email] for role, email in demo.LOGINS.items()}


def test_the_demo_shows_the_people_side(client: Any, db: Session) -> None:
    people = _people(db)
    mentee, mentor = people["mentee"], people["mentor"]
    kinds = {n.kind for n in notifications.latest(db, mentee)}
    assert {NotificationKind.RECOMMENDATION, NotificationKind.MESSAGE} <= kinds
    assert notifications.unread_count(db, mentee) >= 2

    paused = db.scalars(select(Person).where(Person.paused_until.is_not(None))).one()
    login(client, mentee)
    assert paused.name not in client.get("/mentors?q=" + paused.name.split()[0]).get_data(as_text=True)
    home = client.get("/home").get_data(as_text=True)
    assert "% match" in home and 'class="badge"' in home
    form = client.get(f"/mentors/{mentor.id}/request").get_data(as_text=True)
    assert "A mentoring connection" in form and "One meeting" in form

    audiences = set(db.scalars(select(SurveyQuestion.audience)))
    assert {SurveyAudience.MENTOR, SurveyAudience.MENTEE, SurveyAudience.EVERYONE} <= audiences
    report = program_health(db, db.scalars(select(Program)).one())
    written = [t for q in report["surveys"]["questions"] for t in q.get("texts", [])]
    assert {t["by"] for t in written} == {"mentor", "mentee"}
    assert report["mentoring_modes"]["program_mode"] == "both"


def test_the_demo_summary_does_not_read_as_a_wrong_sum(db: Session) -> None:
    summary = demo.load_demo(db)
    first = demo.describe(summary).splitlines()[0]
    assert summary.mentors + summary.mentees + summary.admins != summary.people  # roles overlap
    assert "roles overlap" in first and f"{summary.mentors} are mentors" in first
