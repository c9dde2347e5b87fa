"""The health report API: admins only, JSON or a CSV download, figures that follow the program."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from scheduling.models import Person, Program
from scheduling.services import requests as request_service
from scheduling.services import surveys as survey_service
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

PAST_NOW = at("2024-01-08", "09:00")


@dataclass
class World:
    """The people and rows every test here starts from."""

    program: Program
    mentor: Person
    mentee: Person
    admin: Person


@pytest.fixture
def w(db: Session) -> World:
    program = make_program(db)
    mentor, mentee = make_mentor(db), make_mentee(db)
    meeting = make_meeting(
        db, program=program, mentor=mentor, mentee=mentee, start=at("2024-01-10", "10:00"), now=PAST_NOW
    )
    declined = make_request(
        db,
        program=program,
        mentee=mentee,
        mentor=mentor,
        times=[slot(at("2024-01-11", "10:00"))],
        now=PAST_NOW,
    )
    request_service.decline(db, declined, actor=mentor, reason="no_time", now=at("2024-01-08", "13:00"))
    invitation = survey_service.invite(db, meeting, now=at("2024-01-10", "13:00"))[1]
    db.commit()
    took_place, useful = survey_service.questions_for(db, program, "held")[:2]
    survey_service.record_survey(
        db,
        invitation.id,
        mentee,
        {str(took_place.id): True, str(useful.id): 5},
        now=at("2024-01-10", "14:00"),
    )
    return World(program=program, mentor=mentor, mentee=mentee, admin=make_admin(db))


def test_report_is_for_admins_only(client: FlaskClient, w: World) -> None:
    assert client.get("/api/v1/reports/health").status_code == 401
    for person in (w.mentor, w.mentee):
        login(client, person)
        assert client.get("/api/v1/reports/health").status_code == 403
        assert client.get("/api/v1/reports/health?format=csv").status_code == 403


def test_json_report(client: FlaskClient, w: World) -> None:
    login(client, w.admin)
    resp = client.get("/api/v1/reports/health")
    assert resp.status_code == 200
    report = resp.get_json()
    assert report["program"] == {"id": w.program.id, "name": w.program.name}
    assert report["requests_by_state"]["accepted"] == 1 and report["requests_by_state"]["declined"] == 1
    assert report["acceptance_rate"] == 0.5
    assert report["time_pending_hours"]["answered"] == 2
    assert report["time_pending_hours"]["median"] == 2.0  # 0 h (accepted at once) and 4 h
    assert report["meetings_per_month"] == [
        {"month": "2024-01", "held": 1, "not_held": 0, "canceled": 0, "upcoming": 0}
    ]
    took_place = next(
        q for q in report["surveys"]["questions"] if q["kind"] == "took_place" and q["variant"] == "held"
    )
    assert (took_place["yes"], took_place["no"]) == (1, 0)
    assert report["decline_reasons"]["no_time"] == 1


def test_csv_download(client: FlaskClient, w: World) -> None:
    login(client, w.admin)
    resp = client.get("/api/v1/reports/health?format=csv")
    assert resp.status_code == 200
    assert resp.mimetype == "text/csv"
    disposition = resp.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and 'filename="program-health-' in disposition
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True))))
    assert rows[0] == ["summary"] and rows[1] == ["measure", "value"]
    titles = [rows[i + 1][0] for i, r in enumerate(rows[:-1]) if r == []]
    assert titles == [
        "requests_by_state",
        "meetings_per_month",
        "survey_questions",
        "survey_choices",
        "skills",
        "meetings_by_skill",
        "decline_reasons",
        "skill_changes_after_meetings",
    ]


def test_unknown_format_is_422(client: FlaskClient, w: World) -> None:
    login(client, w.admin)
    resp = client.get("/api/v1/reports/health?format=xlsx")
    assert resp.status_code == 422
    assert resp.get_json()["error"] == {
        "code": "validation_failed",
        "message": "format must be json or csv.",
        "field": "format",
    }
