"""The surveys API: who sees which survey, answering it, and the admin question editor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from scheduling.models import Meeting, MeetingState, Person, Program, SurveyAnswer, SurveyQuestion
from scheduling.services import surveys as svc
from tests.factories import (
    at,
    count_rows,
    login,
    make_admin,
    make_meeting,
    make_mentee,
    make_mentor,
    make_program,
)

# The API answers with the real clock, so this meeting lies in the past.
PAST_START = at("2024-01-10", "10:00")
PAST_NOW = at("2024-01-08", "09:00")


@dataclass
class World:
    """The people and rows every test here starts from."""

    program: Program
    mentor: Person
    mentee: Person
    meeting: Meeting
    mentor_inv: int
    mentee_inv: int
    held: list[int]
    other: Person
    admin: Person


@pytest.fixture
def w(db: Session) -> World:
    program = make_program(db)
    mentor = make_mentor(db, time_zone="Europe/London")
    mentee = make_mentee(db, time_zone="Asia/Tokyo")
    meeting = make_meeting(db, program=program, mentor=mentor, mentee=mentee, start=PAST_START, now=PAST_NOW)
    mentor_inv, mentee_inv = svc.invite(db, meeting, now=at("2024-01-10", "13:00"))
    db.commit()
    held = svc.questions_for(db, program, "held")
    db.commit()
    return World(
        program=program,
        mentor=mentor,
        mentee=mentee,
        meeting=meeting,
        mentor_inv=mentor_inv.id,
        mentee_inv=mentee_inv.id,
        held=[q.id for q in held],
        other=make_mentee(db),
        admin=make_admin(db),
    )


def as_(client: FlaskClient, person: Person) -> FlaskClient:
    login(client, person)
    return client


def error_of(resp: Any) -> tuple[int, str, str | None]:
    err = resp.get_json()["error"]
    return resp.status_code, err["code"], err["field"]


def answers(w: World, took_place: Any = True, rating: Any = 4) -> dict[str, Any]:
    return {"answers": {str(w.held[0]): took_place, str(w.held[1]): rating}}


def test_list_shows_only_my_surveys(client: FlaskClient, w: World) -> None:
    mine = as_(client, w.mentee).get("/api/v1/surveys").get_json()["surveys"]
    assert [s["id"] for s in mine] == [w.mentee_inv]
    assert mine[0]["meeting"]["start_local"] == "2024-01-10T19:00:00+09:00"
    assert mine[0]["can_answer"] is True and mine[0]["answered"] is False
    assert [s["id"] for s in as_(client, w.mentor).get("/api/v1/surveys").get_json()["surveys"]] == [
        w.mentor_inv
    ]
    assert as_(client, w.other).get("/api/v1/surveys").get_json()["surveys"] == []
    assert as_(client, w.admin).get("/api/v1/surveys").get_json()["surveys"] == []


def test_list_keeps_answered_surveys(client: FlaskClient, w: World) -> None:
    c = as_(client, w.mentee)
    assert c.post(f"/api/v1/surveys/{w.mentee_inv}", json=answers(w)).status_code == 200
    listed = c.get("/api/v1/surveys").get_json()["surveys"]
    assert [(s["id"], s["answered"], s["took_place"], s["can_answer"]) for s in listed] == [
        (w.mentee_inv, True, True, False)
    ]


def test_a_survey_is_visible_to_its_invitee_and_admins_only(client: FlaskClient, w: World) -> None:
    url = f"/api/v1/surveys/{w.mentee_inv}"
    view = as_(client, w.mentee).get(url).get_json()
    assert [q["id"] for q in view["questions"]] == w.held
    assert view["questions"][0]["text"] == "Did this meeting take place?"
    assert as_(client, w.admin).get(url).status_code == 200
    for stranger in (w.mentor, w.other):
        assert error_of(as_(client, stranger).get(url)) == (404, "not_found", None)
    assert as_(client, w.mentee).get("/api/v1/surveys/99999999999").status_code == 404


def test_signed_out_is_401(client: FlaskClient, w: World) -> None:
    assert client.get("/api/v1/surveys").status_code == 401
    assert client.post(f"/api/v1/surveys/{w.mentee_inv}", json=answers(w)).status_code == 401


def test_answering_completes_the_meeting(client: FlaskClient, db: Session, w: World) -> None:
    resp = as_(client, w.mentee).post(f"/api/v1/surveys/{w.mentee_inv}", json=answers(w))
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["answered"] is True
    assert [q["answer"] for q in body["questions"][:2]] == [True, 4]
    db.expire_all()
    assert db.get(Meeting, w.meeting.id).state == MeetingState.COMPLETED  # type: ignore[union-attr]


def test_answering_no_marks_not_held(client: FlaskClient, db: Session, w: World) -> None:
    body = {"answers": {str(w.held[0]): "no"}}
    assert as_(client, w.mentor).post(f"/api/v1/surveys/{w.mentor_inv}", json=body).status_code == 200
    db.expire_all()
    assert db.get(Meeting, w.meeting.id).state == MeetingState.NOT_HELD  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("payload", "status", "code", "field"),
    [
        (lambda w: answers(w, rating=9), 422, "validation_failed", "answers.{r}"),
        (lambda w: answers(w, took_place="perhaps"), 422, "validation_failed", "answers.{t}"),
        (lambda w: {"answers": {"123456": 1}}, 422, "validation_failed", "answers.123456"),
        (lambda w: {"answers": [1, 2]}, 422, "validation_failed", "answers"),
        (lambda w: {}, 422, "validation_failed", "answers"),
        (lambda w: [1], 400, "bad_request", None),
    ],
    ids=["rating-9", "took-place-perhaps", "unknown-question", "answers-list", "no-answers", "body-list"],
)
def test_bad_answers_are_4xx_and_change_nothing(
    client: FlaskClient, db: Session, w: World, payload: Any, status: int, code: str, field: Any
) -> None:
    before = count_rows(db, SurveyAnswer)
    resp = as_(client, w.mentee).post(f"/api/v1/surveys/{w.mentee_inv}", json=payload(w))
    if field is not None:
        field = field.format(t=w.held[0], r=w.held[1])
    assert error_of(resp) == (status, code, field)
    db.expire_all()
    assert count_rows(db, SurveyAnswer) == before
    assert db.get(Meeting, w.meeting.id).state == MeetingState.SCHEDULED  # type: ignore[union-attr]


def test_form_post_is_refused(client: FlaskClient, w: World) -> None:
    resp = as_(client, w.mentee).post(f"/api/v1/surveys/{w.mentee_inv}", data={"x": "1"})
    assert resp.status_code == 415


def test_second_answer_is_409(client: FlaskClient, w: World) -> None:
    c = as_(client, w.mentee)
    assert c.post(f"/api/v1/surveys/{w.mentee_inv}", json=answers(w)).status_code == 200
    resp = c.post(f"/api/v1/surveys/{w.mentee_inv}", json=answers(w, took_place=False))
    assert error_of(resp) == (409, "survey_already_answered", None)


def test_nobody_answers_for_someone_else(client: FlaskClient, db: Session, w: World) -> None:
    url = f"/api/v1/surveys/{w.mentee_inv}"
    assert error_of(as_(client, w.admin).post(url, json=answers(w))) == (403, "forbidden", None)
    assert error_of(as_(client, w.mentor).post(url, json=answers(w))) == (404, "not_found", None)
    db.expire_all()
    assert count_rows(db, SurveyAnswer) == {"SurveyAnswer": 0}


# --- the admin editor -------------------------------------------------------------------------


def test_editor_is_admin_only(client: FlaskClient, w: World) -> None:
    for person in (w.mentee, w.mentor):
        c = as_(client, person)
        assert c.get("/api/v1/program/survey-questions").status_code == 403
        assert c.put("/api/v1/program/survey-questions", json={"questions": []}).status_code == 403


def test_editor_reads_each_variant(client: FlaskClient, w: World) -> None:
    c = as_(client, w.admin)
    held = c.get("/api/v1/program/survey-questions").get_json()
    assert held["variant"] == "held" and [q["id"] for q in held["questions"]] == w.held
    canceled = c.get("/api/v1/program/survey-questions?variant=canceled").get_json()
    assert canceled["variant"] == "canceled"
    assert canceled["questions"][0]["kind"] == "took_place" and canceled["questions"][0]["required"] is True
    assert {q["id"] for q in canceled["questions"]}.isdisjoint(w.held)
    assert error_of(c.get("/api/v1/program/survey-questions?variant=maybe")) == (
        422,
        "validation_failed",
        "variant",
    )


def test_editor_replaces_questions(client: FlaskClient, db: Session, w: World) -> None:
    c = as_(client, w.admin)
    current = c.get("/api/v1/program/survey-questions").get_json()["questions"]
    keep = [{k: q[k] for k in ("id", "text", "kind", "choices", "required")} for q in current[:2]]
    new = {"text": "Which format suited you?", "kind": "choice", "choices": ["Video", "In person"]}
    resp = c.put("/api/v1/program/survey-questions", json={"questions": [*keep, new]})
    assert resp.status_code == 200, resp.get_json()
    saved = resp.get_json()["questions"]
    assert [q["text"] for q in saved] == [current[0]["text"], current[1]["text"], "Which format suited you?"]
    again = c.get("/api/v1/program/survey-questions").get_json()["questions"]
    assert again == saved
    # the mentee's open survey now asks the new list
    view = as_(client, w.mentee).get(f"/api/v1/surveys/{w.mentee_inv}").get_json()
    assert [q["id"] for q in view["questions"]] == [q["id"] for q in saved]


def test_editor_refuses_a_bad_list_and_changes_nothing(
    client: FlaskClient, db: Session, w: World
) -> None:
    c = as_(client, w.admin)
    before = count_rows(db, SurveyQuestion)
    bad = {"questions": [{"text": "Rate us", "kind": "rating"}]}
    assert error_of(c.put("/api/v1/program/survey-questions", json=bad)) == (
        422,
        "validation_failed",
        "questions[0].kind",
    )
    assert error_of(c.put("/api/v1/program/survey-questions", json={})) == (
        422,
        "validation_failed",
        "questions",
    )
    assert error_of(c.put("/api/v1/program/survey-questions?variant=canceled", json={"questions": "x"})) == (
        422,
        "validation_failed",
        "questions",
    )
    db.expire_all()
    assert count_rows(db, SurveyQuestion) == before
    assert [q["id"] for q in c.get("/api/v1/program/survey-questions").get_json()["questions"]] == w.held
