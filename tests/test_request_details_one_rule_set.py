"""One rule set for a request's details: the web request and offer forms refuse exactly what
``request_meeting`` refuses, with its messages on the same fields, and store nothing."""

from __future__ import annotations

import re
from html import unescape

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from scheduling.errors import DomainError
from scheduling.models import Initiator, MeetingRequest, Person, Program
from scheduling.services import requests as svc
from tests.factories import at, count_rows, login, make_mentee, make_mentor, make_program, slot

FINE = {"topic": "Career", "description": "", "mode": "video", "location": "", "skill": "", "goals": ""}
BAD = {
    "no topic": {"topic": ""},
    "long topic": {"topic": "t" * (svc.TOPIC_MAX + 1)},
    "long description": {"description": "d" * (svc.DESCRIPTION_MAX + 1)},
    "unknown mode": {"mode": "teleport"},
    "in person, nowhere": {"mode": "in_person"},
    "long location": {"location": "l" * (svc.LOCATION_MAX + 1)},
    "unknown skill": {"skill": "Underwater basket weaving"},
    "long goals": {"goals": "g" * (svc.GOALS_MAX + 1)},
    "kind not offered": {"kind": "ongoing"},  # the program runs one-time meetings only
}


def error_of(page: str, field: str) -> str:
    found = re.search(rf'id="{re.escape(field)}-error"[^>]*>([^<]*)<', page)
    assert found, f"no error shown for {field}"
    return unescape(found.group(1))


def refusal(db: Session, program: Program, mentee: Person, mentor: Person, by: Initiator,
            form: dict[str, str]) -> DomainError:
    """What the domain service says to these details."""
    with pytest.raises(DomainError) as caught:
        svc.request_meeting(db, program=program, mentee=mentee, mentor=mentor, topic=form["topic"],
                            description=form["description"], mode=form["mode"], location=form["location"],
                            kind=form.get("kind") or None, skill=form.get("skill") or None,
                            goals=form.get("goals", ""), times=[slot(at("2030-01-09", "10:00"))],
                            initiated_by=by)
    db.rollback()
    return caught.value


@pytest.mark.parametrize("case", list(BAD))
def test_the_request_form_refuses_what_the_service_refuses_in_its_words(
    client: FlaskClient, db: Session, case: str
) -> None:
    program = make_program(db, mentoring_mode="one_time")
    mentor, mentee = make_mentor(db), make_mentee(db)
    form = {**FINE, **BAD[case]}
    expected = refusal(db, program, mentee, mentor, Initiator.MENTEE, form)
    login(client, mentee)
    before = count_rows(db, MeetingRequest)

    resp = client.post(f"/mentors/{mentor.id}/request", data=form)

    assert resp.status_code == 422
    assert expected.field is not None
    assert error_of(resp.get_data(as_text=True), expected.field) == expected.message
    assert count_rows(db, MeetingRequest) == before
    assert client.get(f"/mentors/{mentor.id}/request/time").status_code == 302  # no draft kept


def test_every_refusal_is_shown_at_once_as_the_service_words_each(client: FlaskClient, db: Session) -> None:
    program = make_program(db, mentoring_mode="one_time")
    mentor, mentee = make_mentor(db), make_mentee(db)
    form = {**FINE, "topic": "", "mode": "in_person", "skill": "Nope", "goals": "g" * (svc.GOALS_MAX + 1)}
    _, problems = svc.detail_errors(db, program, mentor, topic="", mode="in_person", skill="Nope",
                                    goals=form["goals"])
    login(client, mentee)

    page = client.post(f"/mentors/{mentor.id}/request", data=form).get_data(as_text=True)

    assert {p.field for p in problems} == {"topic", "location", "skill", "goals"}
    for problem in problems:
        assert problem.field is not None
        assert error_of(page, problem.field) == problem.message


@pytest.mark.parametrize("case", ["no topic", "in person, nowhere", "unknown mode", "long description"])
def test_the_offer_form_refuses_what_the_service_refuses_in_its_words(
    client: FlaskClient, db: Session, case: str
) -> None:
    program = make_program(db, mentors_may_create=True)
    mentor, mentee = make_mentor(db), make_mentee(db)
    form = {**FINE, **BAD[case]}
    expected = refusal(db, program, mentee, mentor, Initiator.MENTOR, form)
    login(client, mentor)

    resp = client.post(f"/offers/new?mentee_id={mentee.id}", data=form)

    assert resp.status_code == 422
    assert expected.field is not None
    assert error_of(resp.get_data(as_text=True), expected.field) == expected.message
