"""Separate, editable mentor and mentee surveys (a question is asked of both sides, or only one);
the home tile that asks for feedback on past meetings; free-text answers shown in the report."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from scheduling.errors import ValidationFailed
from scheduling.models import SurveyAnswer, SurveyAudience, SurveyVariant
from scheduling.reports import program_health
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

START = at("2030-01-09", "10:00")
AFTER = START + timedelta(hours=3)


def _split_surveys(db: Session, program: Any) -> dict[str, int]:
    """The default held list plus a mentee-only text question and a mentor-only rating."""
    items = [svc.question_dict(q) for q in svc.questions_for(db, program, SurveyVariant.HELD)]
    for item in items:
        item.pop("position"), item.pop("active")
    items += [
        {"text": "What will you try first?", "kind": "text", "audience": "mentee"},
        {"text": "How clear were your mentee's goals?", "kind": "rating", "audience": "mentor"},
    ]
    saved = svc.replace_questions(db, program, SurveyVariant.HELD, items)
    return {"mentee_only": saved[-2].id, "mentor_only": saved[-1].id, "took_place": saved[0].id}


def _world(db: Session) -> tuple[Any, Any, Any, Any, Any]:
    program = make_program(db)
    mentor, mentee = make_mentor(db), make_mentee(db)
    meeting = make_meeting(db, program=program, mentor=mentor, mentee=mentee, start=START)
    mentor_inv, mentee_inv = svc.invite(db, meeting, now=AFTER)
    db.commit()
    return program, mentor, mentee, mentor_inv, mentee_inv


def test_mentor_and_mentee_each_answer_their_own_survey(db: Session) -> None:
    program, mentor, mentee, mentor_inv, mentee_inv = _world(db)
    ids = _split_surveys(db, program)
    mentor_view = {q["id"] for q in svc.survey_view(mentor_inv, mentor)["questions"]}
    mentee_view = {q["id"] for q in svc.survey_view(mentee_inv, mentee)["questions"]}
    assert ids["mentor_only"] in mentor_view and ids["mentee_only"] not in mentor_view
    assert ids["mentee_only"] in mentee_view and ids["mentor_only"] not in mentee_view
    assert ids["took_place"] in mentor_view & mentee_view

    with pytest.raises(ValidationFailed) as refused:  # a mentor cannot answer the mentee's question
        svc.record_survey(db, mentor_inv.id, mentor, {str(ids["took_place"]): True,
                                                       str(ids["mentee_only"]): "x"}, now=AFTER)
    assert refused.value.field == f"answers.{ids['mentee_only']}"
    assert count_rows(db, SurveyAnswer)["SurveyAnswer"] == 0


def test_the_first_question_is_asked_of_both_sides(db: Session) -> None:
    program, *_ = _world(db)
    items = [svc.question_dict(q) for q in svc.questions_for(db, program, SurveyVariant.HELD)]
    items[0]["audience"] = "mentor"
    with pytest.raises(ValidationFailed) as refused:
        svc.replace_questions(db, program, SurveyVariant.HELD,
                              [{k: v for k, v in i.items() if k not in ("position", "active")}
                               for i in items])
    assert refused.value.field == "questions[0].audience"


def test_admin_makes_a_question_mentee_only_in_the_editor(client: Any, db: Session) -> None:
    program, *_ = _world(db)
    login(client, make_admin(db))
    page = client.get("/admin/surveys").get_data(as_text=True)
    assert 'name="q-1-audience"' in page and "Mentees only" in page
    held = svc.questions_for(db, program, SurveyVariant.HELD)
    form: dict[str, str] = {"variant": "held", "rows": str(len(held))}
    for i, q in enumerate(held):
        form.update({f"q-{i}-id": str(q.id), f"q-{i}-text": q.text, f"q-{i}-kind": q.kind.value,
                     f"q-{i}-choices": "\n".join(q.choices), f"q-{i}-order": str(i + 1),
                     f"q-{i}-audience": "everyone"})
        if q.required:
            form[f"q-{i}-required"] = "on"
    form["q-4-audience"] = "mentee"
    assert client.post("/admin/surveys", data=form).status_code == 303
    db.expire_all()
    audiences = [q.audience for q in svc.questions_for(db, program, SurveyVariant.HELD)]
    assert audiences == [SurveyAudience.EVERYONE] * 4 + [SurveyAudience.MENTEE]


def test_report_shows_free_text_answers_and_who_wrote_them(client: Any, db: Session) -> None:
    program, _mentor, mentee, _mentor_inv, mentee_inv = _world(db)
    ids = _split_surveys(db, program)
    svc.record_survey(db, mentee_inv.id, mentee, {str(ids["took_place"]): True,
                                                   str(ids["mentee_only"]): "Ask for a stretch project",
                                                   **_required(db, program, mentee_inv, mentee)}, now=AFTER)
    texts = {q["question_id"]: q.get("texts") for q in program_health(db, program)["surveys"]["questions"]}
    assert texts[ids["mentee_only"]][0]["text"] == "Ask for a stretch project"
    assert texts[ids["mentee_only"]][0]["by"] == "mentee"
    login(client, make_admin(db))
    page = client.get("/admin/report").get_data(as_text=True)
    assert "<q>Ask for a stretch project</q>" in page and "Asked of mentees only." in page


def _required(db: Session, program: Any, invitation: Any, person: Any) -> dict[str, Any]:
    """Answers to the required rating questions of the invitee's survey."""
    return {str(q["id"]): 4 for q in svc.survey_view(invitation, person)["questions"]
            if q["required"] and q["kind"] == "rating"}


def test_home_asks_for_feedback_on_past_meetings(client: Any, db: Session) -> None:
    _program, _mentor, mentee, _mentor_inv, mentee_inv = _world(db)
    other = make_mentee(db)
    login(client, other)
    assert "Give feedback on past meetings" not in client.get("/home").get_data(as_text=True)
    login(client, mentee)
    page = client.get("/home").get_data(as_text=True)
    assert "Give feedback on past meetings" in page and f'href="/surveys/{mentee_inv.id}"' in page
    took_place = svc.survey_view(mentee_inv, mentee)["questions"][0]["id"]
    svc.record_survey(db, mentee_inv.id, mentee, {str(took_place): False}, now=AFTER)
    assert "Give feedback on past meetings" not in client.get("/home").get_data(as_text=True)
