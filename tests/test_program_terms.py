"""An admin renames what a mentee and a mentor are called (seed 003); pages use the names in
navigation and headings, emails in their greeting lines. Bad names are refused, nothing saved."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from scheduling.errors import ValidationFailed
from scheduling.notices import request_answered, request_created
from scheduling.services import requests as svc
from scheduling.services.program import update_settings
from scheduling.terms import Terms, plural, terms_of
from tests.factories import (
    at,
    login,
    make_admin,
    make_meeting,
    make_mentee,
    make_mentor,
    make_program,
    make_request,
    slot,
)
from tests.test_admin_pages import settings_form


def test_plurals_articles_and_defaults() -> None:
    assert [plural(w) for w in ("guide", "coach", "buddy", "day", "peer coach", "boss")] == [
        "guides", "coaches", "buddies", "days", "peer coaches", "bosses"]
    terms = Terms("intern", "peer coach")
    assert (terms.Mentees, terms.Mentors, terms.a_mentee, terms.a_mentor) == (
        "Interns", "Peer coaches", "an intern", "a peer coach")
    assert terms_of(None) == Terms("mentee", "mentor")


@pytest.mark.parametrize(("changes", "field"), [
    ({"mentee_term": "learner", "mentor_term": "learner"}, "mentor_term"),
    ({"mentee_term": "l3arner"}, "mentee_term"),
    ({"mentor_term": " "}, "mentor_term"),
    ({"mentor_term": "<b>guide</b>"}, "mentor_term"),
])
def test_bad_terms_are_refused_and_nothing_changes(db: Session, changes: dict[str, str], field: str) -> None:
    program = make_program(db)
    with pytest.raises(ValidationFailed) as refused:
        update_settings(db, program, changes)
    assert refused.value.field == field
    db.refresh(program)
    assert (program.mentee_term, program.mentor_term) == ("mentee", "mentor")


def test_the_admin_renames_the_sides_and_pages_and_emails_use_the_names(client: Any, db: Session) -> None:
    program = make_program(db, name="Spring flash")
    mentor, mentee = make_mentor(db, name="Grace Mentor"), make_mentee(db, name="Ada Mentee")
    login(client, make_admin(db))
    bad = client.post("/admin/settings", data=settings_form(program, mentee_term="Learner!"))
    assert bad.status_code == 422 and 'id="mentee_term-error"' in bad.get_data(as_text=True)
    saved = client.post("/admin/settings", data=settings_form(program, mentee_term="  Learner ",
                                                                mentor_term="Guide"))
    assert saved.status_code == 303
    db.refresh(program)
    assert (program.mentee_term, program.mentor_term) == ("learner", "guide")

    login(client, mentee)
    directory = client.get("/mentors").get_data(as_text=True)
    assert "<h1>Guides</h1>" in directory and "<title>Guides" in directory
    assert 'href="/mentors">Guides</a>' in directory  # the navigation
    meeting = make_meeting(db, program=program, mentee=mentee, mentor=mentor)
    page = client.get(f"/meetings/{meeting.id}").get_data(as_text=True)
    assert "<dt>Guide</dt>" in page and "<dt>Learner</dt>" in page

    req = make_request(db, program=program, mentee=mentee, mentor=mentor,
                       times=[slot(at("2030-01-10", "10:00"))])
    [asked] = request_created(req, "http://app.test")
    assert asked.text.startswith("Hello Grace Mentor (Guide, Spring flash),")
    svc.decline(db, req, actor=mentor, reason="no_time")
    [told] = request_answered(req, "http://app.test")
    assert told.text.startswith("Hello Ada Mentee (Learner, Spring flash),")
    assert "You can ask another guide." in told.text
