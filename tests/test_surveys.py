"""Surveys: default questions, invitations, answer validation, the took-place rule, the editor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling.errors import DomainError
from scheduling.events import MeetingFinished
from scheduling.models import (
    Meeting,
    MeetingState,
    Person,
    Program,
    QuestionKind,
    SurveyAnswer,
    SurveyInvitation,
    SurveyQuestion,
    SurveyVariant,
)
from scheduling.services import meetings as meeting_service
from scheduling.services import surveys as svc
from tests.factories import (
    NOW,
    at,
    captured_events,
    count_rows,
    make_admin,
    make_meeting,
    make_mentee,
    make_mentor,
    make_program,
)

WED_10 = at("2030-01-09", "10:00")
AFTER = at("2030-01-09", "13:00")


@dataclass
class World:
    """The people and rows every test here starts from."""

    program: Program
    mentor: Person
    mentee: Person
    meeting: Meeting
    mentor_inv: SurveyInvitation
    mentee_inv: SurveyInvitation
    q: dict[str, SurveyQuestion]
    held: list[SurveyQuestion]
    admin: Person


@pytest.fixture
def w(db: Session) -> World:
    program = make_program(db)
    mentor = make_mentor(db, time_zone="Europe/Berlin")
    mentee = make_mentee(db, time_zone="America/New_York")
    meeting = make_meeting(db, program=program, mentor=mentor, mentee=mentee, start=WED_10)
    mentor_inv, mentee_inv = svc.invite(db, meeting, now=AFTER)
    db.commit()
    held = svc.questions_for(db, program, SurveyVariant.HELD)
    return World(
        program=program,
        mentor=mentor,
        mentee=mentee,
        meeting=meeting,
        mentor_inv=mentor_inv,
        mentee_inv=mentee_inv,
        q={q.kind.value + str(i): q for i, q in enumerate(held)},
        held=held,
        admin=make_admin(db),
    )


def good_answers(w: World, took_place: Any = True) -> dict[str, Any]:
    """A complete valid HELD answer set for the default questions."""
    held = w.held
    return {
        str(held[0].id): took_place,
        str(held[1].id): 5,
        str(held[2].id): 3,
        str(held[3].id): "Maybe",
        str(held[4].id): "  Very helpful.  ",
    }


def state_of(db: Session, w: World) -> tuple[Any, ...]:
    db.expire_all()
    meeting = db.get(Meeting, w.meeting.id)
    invs = db.scalars(select(SurveyInvitation).order_by(SurveyInvitation.id)).all()
    assert meeting is not None
    return (
        meeting.state,
        tuple((i.answered_at, i.took_place) for i in invs),
        count_rows(db, SurveyAnswer, SurveyInvitation, SurveyQuestion),
    )


def refused(db: Session, w: World, action: Any, code: str, field: str | None = "any") -> DomainError:
    before = state_of(db, w)
    with captured_events() as seen, pytest.raises(DomainError) as info:
        action()
    assert info.value.code == code, info.value.message
    if field != "any":
        assert info.value.field == field
    assert state_of(db, w) == before
    assert seen == []
    return info.value


# --- default questions ---------------------------------------------------------------------------


def test_default_questions_start_with_took_place_and_are_created_once(db: Session) -> None:
    program = make_program(db)
    svc.ensure_default_questions(db, program)
    svc.ensure_default_questions(db, program)
    db.commit()
    per_variant = {}
    for variant in SurveyVariant:
        questions = svc.questions_for(db, program, variant)
        first = questions[0]
        assert (first.kind, first.text, first.required) == (
            QuestionKind.TOOK_PLACE,
            "Did this meeting take place?",
            True,
        )
        assert [q.position for q in questions] == sorted(q.position for q in questions)
        assert all(q.kind != QuestionKind.TOOK_PLACE for q in questions[1:])
        per_variant[variant] = [q.text for q in questions[1:]]
    total = len(per_variant[SurveyVariant.HELD]) + len(per_variant[SurveyVariant.CANCELED]) + 2
    assert count_rows(db, SurveyQuestion)["SurveyQuestion"] == total
    assert set(per_variant[SurveyVariant.HELD]).isdisjoint(per_variant[SurveyVariant.CANCELED])
    assert any("canceled" in t for t in per_variant[SurveyVariant.CANCELED])


def test_each_program_gets_its_own_questions(db: Session) -> None:
    one, two = make_program(db), make_program(db, name="Second")
    a = svc.questions_for(db, one, "held")
    b = svc.questions_for(db, two, "held")
    assert {q.program_id for q in a} == {one.id} and {q.program_id for q in b} == {two.id}
    assert [q.text for q in a] == [q.text for q in b]


def test_unknown_variant_is_a_validation_error(db: Session) -> None:
    with pytest.raises(DomainError) as info:
        svc.questions_for(db, make_program(db), "sometimes")
    assert (info.value.code, info.value.field) == ("validation_failed", "variant")


# --- invitations -------------------------------------------------------------------------------


def test_invite_is_idempotent_one_per_participant(db: Session, w: World) -> None:
    again = svc.invite(db, w.meeting, now=AFTER + timedelta(hours=5))
    db.commit()
    assert [i.id for i in again] == [w.mentor_inv.id, w.mentee_inv.id]
    assert [i.person_id for i in again] == [w.mentor.id, w.mentee.id]
    assert {i.variant for i in again} == {SurveyVariant.HELD}
    assert all(i.sent_at == AFTER for i in again)
    assert count_rows(db, SurveyInvitation)["SurveyInvitation"] == 2


def test_canceled_meeting_gets_the_canceled_variant(db: Session) -> None:
    program = make_program(db)
    mentor, mentee = make_mentor(db), make_mentee(db)
    meeting = make_meeting(db, program=program, mentor=mentor, mentee=mentee, start=WED_10)
    meeting_service.cancel(db, meeting, actor=mentee, reason="Clash", now=NOW)
    invitations = svc.invite(db, meeting, now=NOW)
    db.commit()
    assert {i.variant for i in invitations} == {SurveyVariant.CANCELED}


def test_unanswered_lists_who_still_owes_an_answer(db: Session, w: World) -> None:
    assert [i.id for i in svc.unanswered(db, w.meeting)] == [w.mentor_inv.id, w.mentee_inv.id]
    svc.record_survey(db, w.mentee_inv.id, w.mentee, good_answers(w), now=AFTER)
    assert [i.id for i in svc.unanswered(db, w.meeting)] == [w.mentor_inv.id]


# --- answering: the took-place rule ------------------------------------------------------------


def test_yes_completes_the_meeting_and_stores_answers(db: Session, w: World) -> None:
    with captured_events() as seen:
        inv = svc.record_survey(db, w.mentee_inv.id, w.mentee, good_answers(w), now=AFTER)
    assert seen == [MeetingFinished(w.meeting.id)]
    db.expire_all()
    assert db.get(Meeting, w.meeting.id).state == MeetingState.COMPLETED  # type: ignore[union-attr]
    inv = db.get(SurveyInvitation, inv.id)  # type: ignore[assignment]
    assert (inv.answered_at, inv.took_place) == (AFTER, True)
    stored = {a.question_id: (a.value, a.text) for a in inv.answers}
    held = w.held
    assert stored == {
        held[0].id: (True, ""),
        held[1].id: (5, ""),
        held[2].id: (3, ""),
        held[3].id: ("Maybe", ""),
        held[4].id: (None, "Very helpful."),
    }


def test_no_marks_not_held_and_skips_the_questions_about_the_meeting(db: Session, w: World) -> None:
    first = str(w.held[0].id)
    svc.record_survey(db, w.mentor_inv.id, w.mentor, {first: False}, now=AFTER)
    db.expire_all()
    assert db.get(Meeting, w.meeting.id).state == MeetingState.NOT_HELD  # type: ignore[union-attr]
    assert count_rows(db, SurveyAnswer)["SurveyAnswer"] == 1


def test_no_with_answers_about_the_meeting_is_refused(db: Session, w: World) -> None:
    answers = good_answers(w, took_place=False)
    refused(
        db,
        w,
        lambda: svc.record_survey(db, w.mentor_inv.id, w.mentor, answers, now=AFTER),
        "validation_failed",
        f"answers.{w.held[1].id}",
    )


def test_form_values_yes_no_and_digit_strings_are_accepted(db: Session, w: World) -> None:
    held = w.held
    answers = {str(held[0].id): "Yes", str(held[1].id): "4", str(held[2].id): "", str(held[3].id): None}
    inv = svc.record_survey(db, w.mentee_inv.id, w.mentee, answers, now=AFTER)
    assert {a.question_id: a.value for a in inv.answers} == {held[0].id: True, held[1].id: 4}


def test_first_answer_decides_a_disagreeing_second_is_kept_but_does_not_flip(
    db: Session, w: World
) -> None:
    first = str(w.held[0].id)
    svc.record_survey(db, w.mentor_inv.id, w.mentor, {first: False}, now=AFTER)
    with captured_events() as seen:
        svc.record_survey(
            db, w.mentee_inv.id, w.mentee, good_answers(w), now=AFTER + timedelta(hours=1)
        )
    assert seen == []
    db.expire_all()
    assert db.get(Meeting, w.meeting.id).state == MeetingState.NOT_HELD  # type: ignore[union-attr]
    took = [i.took_place for i in db.scalars(select(SurveyInvitation).order_by(SurveyInvitation.id))]
    assert took == [False, True]


def test_agreeing_second_answer_changes_nothing_more(db: Session, w: World) -> None:
    svc.record_survey(db, w.mentor_inv.id, w.mentor, good_answers(w), now=AFTER)
    with captured_events() as seen:
        svc.record_survey(db, w.mentee_inv.id, w.mentee, good_answers(w), now=AFTER)
    assert seen == []
    db.expire_all()
    assert db.get(Meeting, w.meeting.id).state == MeetingState.COMPLETED  # type: ignore[union-attr]
    assert count_rows(db, SurveyAnswer)["SurveyAnswer"] == 10


def test_answer_on_a_meeting_canceled_after_the_invite_leaves_it_canceled(
    db: Session, w: World
) -> None:
    meeting_service.cancel(db, w.meeting, actor=None, reason="Removed from calendar.", now=AFTER)
    svc.record_survey(db, w.mentee_inv.id, w.mentee, good_answers(w), now=AFTER)
    db.expire_all()
    assert db.get(Meeting, w.meeting.id).state == MeetingState.CANCELED  # type: ignore[union-attr]


# --- answering: refusals -----------------------------------------------------------------------


def _bad(w: World, index: int, value: Any) -> dict[str, Any]:
    answers = good_answers(w)
    answers[str(w.held[index].id)] = value
    return answers


BAD_VALUES = [
    pytest.param(0, 0, id="took_place-zero"),
    pytest.param(0, "maybe", id="took_place-maybe"),
    pytest.param(0, None, id="took_place-missing"),
    pytest.param(1, 0, id="rating-0"),
    pytest.param(1, 6, id="rating-6"),
    pytest.param(1, 3.5, id="rating-fraction"),
    pytest.param(1, True, id="rating-bool"),
    pytest.param(1, "five", id="rating-word"),
    pytest.param(1, None, id="required-rating-missing"),
    pytest.param(3, "Perhaps", id="choice-not-offered"),
    pytest.param(3, ["Yes"], id="choice-list"),
    pytest.param(4, "x" * (svc.ANSWER_TEXT_MAX + 1), id="text-too-long"),
    pytest.param(4, 42, id="text-number"),
    pytest.param(4, "nul\x00", id="text-nul"),
]


@pytest.mark.parametrize(("index", "value"), BAD_VALUES)
def test_bad_answers_are_refused_and_change_nothing(
    db: Session, w: World, index: int, value: Any
) -> None:
    answers = _bad(w, index, value)
    if value is None:
        del answers[str(w.held[index].id)]
    refused(
        db,
        w,
        lambda: svc.record_survey(db, w.mentee_inv.id, w.mentee, answers, now=AFTER),
        "validation_failed",
        f"answers.{w.held[index].id}",
    )


def test_text_at_the_cap_is_accepted(db: Session, w: World) -> None:
    answers = _bad(w, 4, "y" * svc.ANSWER_TEXT_MAX)
    inv = svc.record_survey(db, w.mentee_inv.id, w.mentee, answers, now=AFTER)
    assert [a.text for a in inv.answers if a.question_id == w.held[4].id] == ["y" * svc.ANSWER_TEXT_MAX]


def test_unknown_question_and_non_object_are_refused(db: Session, w: World) -> None:
    canceled_q = svc.questions_for(db, w.program, SurveyVariant.CANCELED)[1]
    db.commit()
    answers = {**good_answers(w), str(canceled_q.id): "Other"}
    refused(
        db,
        w,
        lambda: svc.record_survey(db, w.mentee_inv.id, w.mentee, answers, now=AFTER),
        "validation_failed",
        f"answers.{canceled_q.id}",
    )
    refused(
        db,
        w,
        lambda: svc.record_survey(db, w.mentee_inv.id, w.mentee, ["yes"], now=AFTER),  # type: ignore[arg-type]
        "validation_failed",
        "answers",
    )


def test_only_the_invitee_may_answer(db: Session, w: World) -> None:
    for other in (w.mentor, w.admin):
        refused(
            db,
            w,
            lambda o=other: svc.record_survey(db, w.mentee_inv.id, o, good_answers(w), now=AFTER),
            "forbidden",
        )
    refused(
        db, w, lambda: svc.record_survey(db, 999_999, w.mentee, good_answers(w), now=AFTER), "not_found"
    )


def test_second_submission_is_refused(db: Session, w: World) -> None:
    svc.record_survey(db, w.mentee_inv.id, w.mentee, good_answers(w), now=AFTER)
    refused(
        db,
        w,
        lambda: svc.record_survey(db, w.mentee_inv.id, w.mentee, good_answers(w, False), now=AFTER),
        "survey_already_answered",
    )


def test_answer_before_the_meeting_started_is_refused(db: Session, w: World) -> None:
    refused(
        db,
        w,
        lambda: svc.record_survey(db, w.mentee_inv.id, w.mentee, good_answers(w), now=NOW),
        "invalid_transition",
    )


# --- the canceled variant ----------------------------------------------------------------------


@pytest.fixture
def canceled(db: Session) -> dict[str, Any]:
    program = make_program(db)
    mentor, mentee = make_mentor(db), make_mentee(db)
    meeting = make_meeting(db, program=program, mentor=mentor, mentee=mentee, start=WED_10)
    meeting_service.cancel(db, meeting, actor=mentor, reason="Travel", now=NOW)
    mentor_inv, mentee_inv = svc.invite(db, meeting, now=NOW)
    db.commit()
    return {
        "meeting": meeting,
        "mentor": mentor,
        "mentee": mentee,
        "mentor_inv": mentor_inv,
        "mentee_inv": mentee_inv,
        "questions": svc.questions_for(db, program, SurveyVariant.CANCELED),
    }


def test_canceled_survey_asks_why_and_leaves_the_meeting_canceled(
    db: Session, canceled: dict[str, Any]
) -> None:
    qs = canceled["questions"]
    why = next(q for q in qs if q.kind == QuestionKind.CHOICE and q.required)
    with captured_events() as seen:
        inv = svc.record_survey(
            db,
            canceled["mentee_inv"].id,
            canceled["mentee"],
            {str(qs[0].id): False, str(why.id): why.choices[0]},
            now=NOW,
        )
    assert seen == []
    assert inv.took_place is False
    db.expire_all()
    assert db.get(Meeting, canceled["meeting"].id).state == MeetingState.CANCELED  # type: ignore[union-attr]


def test_canceled_survey_requires_its_reason_even_when_not_held(
    db: Session, canceled: dict[str, Any]
) -> None:
    qs = canceled["questions"]
    why = next(q for q in qs if q.kind == QuestionKind.CHOICE and q.required)
    with pytest.raises(DomainError) as info:
        svc.record_survey(db, canceled["mentee_inv"].id, canceled["mentee"], {str(qs[0].id): False}, now=NOW)
    assert (info.value.code, info.value.field) == ("validation_failed", f"answers.{why.id}")
    assert count_rows(db, SurveyAnswer)["SurveyAnswer"] == 0


def test_held_answers_do_not_fit_a_canceled_survey(
    db: Session, canceled: dict[str, Any], w: World
) -> None:
    with pytest.raises(DomainError) as info:
        svc.record_survey(db, canceled["mentee_inv"].id, canceled["mentee"], good_answers(w), now=NOW)
    assert info.value.code == "validation_failed"


# --- the editor ---------------------------------------------------------------------------------


def as_items(questions: list[SurveyQuestion]) -> list[dict[str, Any]]:
    return [
        {"id": q.id, "text": q.text, "kind": q.kind.value, "choices": list(q.choices), "required": q.required}
        for q in questions
    ]


def test_editor_reorders_edits_adds_and_retires(db: Session, w: World) -> None:
    held = w.held
    items = as_items(held)
    took, useful, prepared, recommend, _free = items
    useful["text"] = "How useful was it?"
    new = {
        "text": "Which topic did you cover?",
        "kind": "choice",
        "choices": ["Career", "Skills"],
        "required": True,
    }
    saved = svc.replace_questions(db, w.program, "held", [took, recommend, useful, new, prepared])
    db.expire_all()
    active = svc.questions_for(db, w.program, SurveyVariant.HELD)
    assert [q.id for q in active] == [q.id for q in saved]
    assert [q.id for q in active[:3]] == [held[0].id, held[3].id, held[1].id]
    assert active[2].text == "How useful was it?"
    assert (active[3].kind, active[3].choices, active[3].required) == (
        QuestionKind.CHOICE,
        ["Career", "Skills"],
        True,
    )
    assert [q.position for q in active] == [0, 1, 2, 3, 4]
    retired = db.get(SurveyQuestion, held[4].id)
    assert retired is not None and retired.active is False
    # the canceled variant is untouched
    assert len(svc.questions_for(db, w.program, SurveyVariant.CANCELED)) == 4


def test_edited_questions_are_what_the_next_answer_is_checked_against(db: Session, w: World) -> None:
    took = as_items(w.held)[0]
    new = {"text": "Rate the room", "kind": "rating", "required": True}
    saved = svc.replace_questions(db, w.program, "held", [took, new])
    with pytest.raises(DomainError) as info:  # the old required rating is gone, the new one is required
        svc.record_survey(db, w.mentee_inv.id, w.mentee, {str(saved[0].id): True}, now=AFTER)
    assert info.value.field == f"answers.{saved[1].id}"
    svc.record_survey(
        db, w.mentee_inv.id, w.mentee, {str(saved[0].id): True, str(saved[1].id): 2}, now=AFTER
    )


def test_took_place_stays_first_and_required(db: Session, w: World) -> None:
    items = as_items(w.held)
    items[0]["required"] = False
    items[0]["text"] = "Did you meet?"
    del items[0]["id"]
    saved = svc.replace_questions(db, w.program, "held", items)
    assert (saved[0].id, saved[0].required, saved[0].text) == (w.held[0].id, True, "Did you meet?")


def _editor_case(w: World, case: str) -> tuple[list[dict[str, Any]], str]:
    items = as_items(w.held)
    took = items[0]
    if case == "empty":
        return [], "questions"
    if case == "first-not-took-place":
        return items[1:], "questions[0].kind"
    if case == "second-took-place":
        return [took, {"text": "Again?", "kind": "took_place"}], "questions[1].kind"
    if case == "one-choice":
        return [took, {"text": "Pick", "kind": "choice", "choices": ["Only"]}], "questions[1].choices"
    if case == "duplicate-choice":
        return [took, {"text": "Pick", "kind": "choice", "choices": ["A", " A "]}], "questions[1].choices[1]"
    if case == "choices-on-rating":
        return [took, {"text": "Rate", "kind": "rating", "choices": ["A", "B"]}], "questions[1].choices"
    if case == "blank-text":
        return [took, {"text": "   ", "kind": "text"}], "questions[1].text"
    if case == "long-text":
        return [took, {"text": "q" * 501, "kind": "text"}], "questions[1].text"
    if case == "unknown-kind":
        return [took, {"text": "Scale", "kind": "slider"}], "questions[1].kind"
    if case == "unknown-key":
        return [took, {"text": "Rate", "kind": "rating", "weight": 2}], "questions[1].weight"
    if case == "required-not-bool":
        return [took, {"text": "Rate", "kind": "rating", "required": "yes"}], "questions[1].required"
    if case == "listed-twice":
        return [took, items[1], items[1]], "questions[2].id"
    if case == "other-variant-id":
        other = svc.questions_for(object_session_of(w), w.program, SurveyVariant.CANCELED)[1]
        return [took, {**items[1], "id": other.id}], "questions[1].id"
    if case == "swap-first":
        return [{**took, "id": items[1]["id"]}, *items[2:]], "questions[0].id"
    if case == "too-many":
        return [took] + [{"text": f"Q{i}", "kind": "text"} for i in range(30)], "questions"
    raise AssertionError(case)


def object_session_of(w: World) -> Session:
    from sqlalchemy.orm import object_session

    session = object_session(w.program)
    assert session is not None
    return session


EDITOR_CASES = [
    "empty",
    "first-not-took-place",
    "second-took-place",
    "one-choice",
    "duplicate-choice",
    "choices-on-rating",
    "blank-text",
    "long-text",
    "unknown-kind",
    "unknown-key",
    "required-not-bool",
    "listed-twice",
    "other-variant-id",
    "swap-first",
    "too-many",
]


@pytest.mark.parametrize("case", EDITOR_CASES)
def test_editor_refuses_bad_lists_and_changes_nothing(db: Session, w: World, case: str) -> None:
    items, field = _editor_case(w, case)
    db.commit()
    refused(db, w, lambda: svc.replace_questions(db, w.program, "held", items), "validation_failed", field)
    db.expire_all()
    assert [q.id for q in svc.questions_for(db, w.program, "held")] == [q.id for q in w.held]


def test_answered_questions_keep_kind_and_choices_but_may_gain_choices(
    db: Session, w: World
) -> None:
    svc.record_survey(db, w.mentee_inv.id, w.mentee, good_answers(w), now=AFTER)
    items = as_items(w.held)
    changed_kind = [dict(i) for i in items]
    changed_kind[1] = {**changed_kind[1], "kind": "text"}
    refused(
        db,
        w,
        lambda: svc.replace_questions(db, w.program, "held", changed_kind),
        "validation_failed",
        "questions[1].kind",
    )
    dropped = [dict(i) for i in items]
    dropped[3] = {**dropped[3], "choices": ["Yes", "No"]}
    refused(
        db,
        w,
        lambda: svc.replace_questions(db, w.program, "held", dropped),
        "validation_failed",
        "questions[3].choices",
    )
    extended = [dict(i) for i in items]
    extended[3] = {**extended[3], "choices": ["Yes", "Maybe", "No", "Not sure"]}
    saved = svc.replace_questions(db, w.program, "held", extended)
    assert saved[3].choices == ["Yes", "Maybe", "No", "Not sure"]


# --- the view -----------------------------------------------------------------------------------


def test_view_of_an_open_survey_in_the_viewers_zone(db: Session, w: World) -> None:
    view = svc.survey_view(w.mentee_inv, w.mentee)
    assert view["can_answer"] is True and view["answered"] is False
    assert view["variant"] == "held" and view["role"] == "mentee"
    assert view["meeting"]["with"]["id"] == w.mentor.id
    assert view["meeting"]["start"] == "2030-01-09T10:00:00Z"
    assert view["meeting"]["start_local"] == "2030-01-09T05:00:00-05:00"
    assert [q["id"] for q in view["questions"]] == [q.id for q in w.held]
    assert all(q["answer"] is None for q in view["questions"])
    assert svc.survey_view(w.mentee_inv, w.admin)["can_answer"] is False


def test_view_of_an_answered_survey_keeps_retired_questions(db: Session, w: World) -> None:
    svc.record_survey(db, w.mentee_inv.id, w.mentee, good_answers(w), now=AFTER)
    items = as_items(w.held)
    svc.replace_questions(db, w.program, "held", items[:2])  # retire three answered questions
    db.expire_all()
    inv = db.get(SurveyInvitation, w.mentee_inv.id)
    assert inv is not None
    view = svc.survey_view(inv, w.mentee)
    assert view["can_answer"] is False
    answers = {q["id"]: q["answer"] for q in view["questions"]}
    held = w.held
    assert answers == {
        held[0].id: True,
        held[1].id: 5,
        held[2].id: 3,
        held[3].id: "Maybe",
        held[4].id: "Very helpful.",
    }
    assert view["answered_at"]["local"] == "2030-01-09T08:00:00-05:00"


# --- both sides at once (PostgreSQL row locks) -------------------------------------------------


def _answer_together(factory: Any, calls: list[tuple[int, int, dict[str, Any]]]) -> list[BaseException]:
    """Run ``record_survey`` for each (invitation, person, answers) in its own thread and session,
    released together; return what they raised."""
    import threading

    barrier = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def answer(invitation_id: int, person_id: int, answers: dict[str, Any]) -> None:
        with factory() as session:
            person = session.get(Person, person_id)
            assert person is not None
            barrier.wait()
            try:
                svc.record_survey(session, invitation_id, person, answers, now=AFTER)
            except BaseException as exc:  # collected and asserted on by the caller
                errors.append(exc)

    threads = [threading.Thread(target=answer, args=call) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return errors


def test_both_sides_answering_at_once_both_succeed(db: Session, engine: Any) -> None:
    """The later answer decides on the state the first left, so it never fails on a stale state."""
    from scheduling.db import make_session_factory

    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one writer at a time; the race needs PostgreSQL's row locks")
    program = make_program(db)
    factory = make_session_factory(engine)
    for hour in ("10:00", "11:00", "12:00", "13:00"):
        mentor, mentee = make_mentor(db), make_mentee(db)
        meeting = make_meeting(
            db, program=program, mentor=mentor, mentee=mentee, start=at("2030-01-09", hour)
        )
        mentor_inv, mentee_inv = svc.invite(db, meeting, now=AFTER)
        db.commit()
        took_place, useful = (q.id for q in svc.questions_for(db, program, SurveyVariant.HELD)[:2])
        db.commit()
        errors = _answer_together(
            factory,
            [
                (mentor_inv.id, mentor.id, {str(took_place): False}),
                (mentee_inv.id, mentee.id, {str(took_place): True, str(useful): 4}),
            ],
        )
        assert errors == []
        db.expire_all()
        answered = db.scalars(
            select(SurveyInvitation)
            .where(SurveyInvitation.meeting_id == meeting.id)
            .order_by(SurveyInvitation.id)
        ).all()
        assert [i.took_place for i in answered] == [False, True]
        state = db.get(Meeting, meeting.id).state  # type: ignore[union-attr]
        assert state in (MeetingState.NOT_HELD, MeetingState.COMPLETED)
