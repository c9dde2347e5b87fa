"""Post-meeting surveys: the questions, the invitations and the answers.

Both sides of a meeting get one invitation each. The variant is CANCELED when
the meeting was called off, otherwise HELD; each variant has its own question
list per program, and the first question of either is always the required
TOOK_PLACE "Did this meeting take place?".

How the answer about whether the meeting took place moves the meeting
(:func:`record_survey`):

* The **first** TOOK_PLACE answer on an active meeting decides it: yes →
  ``meetings.complete``, no → ``meetings.mark_not_held``. A later answer that
  agrees changes nothing; a later answer that disagrees is stored on its
  invitation (``took_place``) and counted by the health report as a
  disagreement, but does not flip the meeting: a finished meeting is final in
  :mod:`scheduling.services.meetings`, and an admin can sort it out from the report.
* A meeting that is already canceled stays canceled whatever is answered: the
  CANCELED variant asks why, and its TOOK_PLACE answer is only reported.

A survey is answered once (a second submission raises
:class:`SurveyAlreadyAnswered`): the first answer may already have finished the
meeting, so an edit could not be applied consistently.

Question ids are never reused: the editor retires a question it drops
(``active=False``) instead of deleting it, so answers already given keep their
question and the reports keep their history.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from scheduling.db import get_row
from scheduling.errors import (
    Forbidden,
    InvalidTransition,
    NotFound,
    SurveyAlreadyAnswered,
    ValidationFailed,
)
from scheduling.locks import lock_people, lock_row
from scheduling.models import (
    Meeting,
    MeetingState,
    Person,
    Program,
    QuestionKind,
    SurveyAnswer,
    SurveyAudience,
    SurveyInvitation,
    SurveyQuestion,
    SurveyVariant,
)
from scheduling.services import meetings as meeting_service
from scheduling.services.safe_text import storable
from scheduling.services.serialize import person_summary, time_range, timestamp
from scheduling.services.transaction import retry_lost_races, unit_of_work
from scheduling.services.validation import current_time, enum_value
from scheduling.zones import zone_of

TOOK_PLACE_TEXT = "Did this meeting take place?"
QUESTION_TEXT_MAX = 500
CHOICE_TEXT_MAX = 200
MAX_CHOICES = 20
MAX_QUESTIONS = 30
ANSWER_TEXT_MAX = 4000
RATING_MIN, RATING_MAX = 1, 5
QUESTION_KEYS = frozenset({"id", "text", "kind", "choices", "required", "audience"})


@dataclass(frozen=True)
class DefaultQuestion:
    text: str
    kind: QuestionKind
    required: bool = False
    choices: tuple[str, ...] = ()
    audience: SurveyAudience = SurveyAudience.EVERYONE


YES_MAYBE_NO = ("Yes", "Maybe", "No")

DEFAULT_QUESTIONS: dict[SurveyVariant, tuple[DefaultQuestion, ...]] = {
    SurveyVariant.HELD: (
        DefaultQuestion(TOOK_PLACE_TEXT, QuestionKind.TOOK_PLACE, required=True),
        DefaultQuestion("How useful was the meeting for you?", QuestionKind.RATING, required=True),
        DefaultQuestion("How well did the two of you prepare?", QuestionKind.RATING),
        DefaultQuestion(
            "Would you recommend flash mentoring to a colleague?", QuestionKind.CHOICE, choices=YES_MAYBE_NO
        ),
        DefaultQuestion("What was most valuable, or what could be better?", QuestionKind.TEXT),
    ),
    SurveyVariant.CANCELED: (
        DefaultQuestion(TOOK_PLACE_TEXT, QuestionKind.TOOK_PLACE, required=True),
        DefaultQuestion(
            "Why was the meeting canceled?",
            QuestionKind.CHOICE,
            required=True,
            choices=(
                "A scheduling conflict came up",
                "The topic was no longer relevant",
                "The other person canceled",
                "Illness or emergency",
                "Other",
            ),
        ),
        DefaultQuestion(
            "Would you like to book another meeting with this person?",
            QuestionKind.CHOICE,
            choices=YES_MAYBE_NO,
        ),
        DefaultQuestion("Anything we could do to help the next meeting happen?", QuestionKind.TEXT),
    ),
}


# --- questions ----------------------------------------------------------------------------------


def ensure_default_questions(session: Session, program: Program) -> None:
    """Give ``program`` the default question list of each variant it has none for (no commit).

    Called when a program is created (``services.program.create_program``, the demo; migration
    0010 gave older programs theirs) and again by each survey write (invitation, answer, editor
    save) for a program made any other way; reads never call it. Idempotent.
    Only when a set is missing is the program row locked (PostgreSQL; first in the order of
    ``scheduling.locks``) and the check repeated, so two first calls at once cannot both
    insert a set while the usual call, which finds both sets, takes no lock.
    """
    have = _variants_present(session, program)
    if have >= set(DEFAULT_QUESTIONS):
        return
    lock_row(session, program)
    have = _variants_present(session, program)
    for variant, defaults in DEFAULT_QUESTIONS.items():
        if variant in have:
            continue
        for position, q in enumerate(defaults):
            session.add(
                SurveyQuestion(
                    program_id=program.id,
                    variant=variant,
                    position=position,
                    text=q.text,
                    kind=q.kind,
                    choices=list(q.choices),
                    required=q.required,
                    audience=q.audience,
                    active=True,
                )
            )
    session.flush()


def _variants_present(session: Session, program: Program) -> set[SurveyVariant]:
    return set(
        session.scalars(
            select(SurveyQuestion.variant).where(SurveyQuestion.program_id == program.id).distinct()
        )
    )


def questions_for(
    session: Session, program: Program, variant: SurveyVariant | str,
    audience: SurveyAudience | None = None,
) -> list[SurveyQuestion]:
    """The active questions of ``variant`` in order; only reads (the defaults exist from the
    program's creation, see :func:`ensure_default_questions`).

    ``audience``: only those a mentor (or a mentee) is asked; None: the whole list, as admins edit it.
    """
    variant = enum_value(SurveyVariant, variant, "variant")
    query = (
        select(SurveyQuestion)
        .where(
            SurveyQuestion.program_id == program.id,
            SurveyQuestion.variant == variant,
            SurveyQuestion.active.is_(True),
        )
        .order_by(SurveyQuestion.position, SurveyQuestion.id)
    )
    if audience is not None and audience != SurveyAudience.EVERYONE:
        query = query.where(SurveyQuestion.audience.in_([SurveyAudience.EVERYONE, audience]))
    return list(session.scalars(query))


def audience_of(meeting: Meeting, person_id: int) -> SurveyAudience:
    """Which survey a participant answers: the mentor's or the mentee's."""
    return SurveyAudience.MENTOR if person_id == meeting.mentor_id else SurveyAudience.MENTEE


def question_dict(question: SurveyQuestion) -> dict[str, Any]:
    return {
        "id": question.id,
        "position": question.position,
        "text": question.text,
        "kind": question.kind.value,
        "choices": list(question.choices or []),
        "required": question.required,
        "active": question.active,
        "audience": question.audience.value,
    }


def replace_questions(
    session: Session,
    program: Program,
    variant: SurveyVariant | str,
    questions: Sequence[Mapping[str, Any]],
) -> list[SurveyQuestion]:
    """Make the active list of ``variant`` exactly ``questions``, in that order; commits.

    Each item is ``{"id"?, "text", "kind", "choices"?, "required"?}``. An item
    with an id edits that question; without one it adds a question; questions
    left out are retired. Rules: the first item, and only it, is TOOK_PLACE
    (always required; an item of that kind without an id stands for the
    existing one); a question that already has answers keeps its kind and every
    choice (new choices may be added), so old answers keep their meaning.
    Errors name the item (``questions[2].choices``); a refused list changes nothing.
    """
    with unit_of_work(session):
        variant = enum_value(SurveyVariant, variant, "variant")
        ensure_default_questions(session, program)
        current = questions_for(session, program, variant)
        existing: dict[int, SurveyQuestion] = {
            q.id: q
            for q in session.scalars(
                select(SurveyQuestion).where(
                    SurveyQuestion.program_id == program.id, SurveyQuestion.variant == variant
                )
            )
        }
        took_place = next(q for q in current if q.kind == QuestionKind.TOOK_PLACE)
        items = _check_question_list(questions)
        answered = _answered_question_ids(session, list(existing))

        plan: list[tuple[SurveyQuestion | None, _QuestionItem]] = []
        seen_ids: set[int] = set()
        for i, item in enumerate(items):
            field = f"questions[{i}]"
            qid = item.id
            if i == 0:  # the TOOK_PLACE question keeps its id, so its answers stay one series
                if qid not in (None, took_place.id):
                    message = f"The first question is question {took_place.id}; it cannot be swapped."
                    raise ValidationFailed(message, f"{field}.id")
                qid = took_place.id
            target = None
            if qid is not None:
                target = existing.get(qid)
                if target is None:
                    message = f"Question {qid} is not a {variant.value} question."
                    raise ValidationFailed(message, f"{field}.id")
                if qid in seen_ids:
                    raise ValidationFailed(f"Question {qid} is listed twice.", f"{field}.id")
                seen_ids.add(qid)
                if qid in answered:
                    _check_answered_edit(target, item, field)
            plan.append((target, item))

        for question in existing.values():
            question.active = False
        saved: list[SurveyQuestion] = []
        for position, (target, item) in enumerate(plan):
            if target is None:
                target = SurveyQuestion(program_id=program.id, variant=variant)
                session.add(target)
            target.position = position
            target.text = item.text
            target.kind = item.kind
            target.choices = list(item.choices)
            target.required = item.required
            if item.audience is not None:
                target.audience = item.audience
            elif target.id is None:
                target.audience = SurveyAudience.EVERYONE
            target.active = True
            saved.append(target)
        session.flush()
        session.commit()
    return saved


@dataclass(frozen=True)
class _QuestionItem:
    id: int | None
    text: str
    kind: QuestionKind
    choices: tuple[str, ...]
    required: bool
    audience: SurveyAudience | None = None  # None: keep an existing question's, else everyone


def _check_question_list(questions: object) -> list[_QuestionItem]:
    if not isinstance(questions, list | tuple):
        raise ValidationFailed("questions must be a list.", "questions")
    if not questions:
        raise ValidationFailed("A survey needs at least its first question.", "questions")
    if len(questions) > MAX_QUESTIONS:
        raise ValidationFailed(f"A survey has at most {MAX_QUESTIONS} questions.", "questions")
    items = [_check_question(raw, f"questions[{i}]") for i, raw in enumerate(questions)]
    if items[0].kind != QuestionKind.TOOK_PLACE:
        raise ValidationFailed(
            f'The first question must be the "{TOOK_PLACE_TEXT}" ({QuestionKind.TOOK_PLACE.value}) question.',
            "questions[0].kind",
        )
    for i, item in enumerate(items[1:], start=1):
        if item.kind == QuestionKind.TOOK_PLACE:
            raise ValidationFailed("Only the first question asks whether the meeting took place.",
                                   f"questions[{i}].kind")
    return items


def _check_question(raw: object, field: str) -> _QuestionItem:
    if not isinstance(raw, Mapping):
        raise ValidationFailed("Each question is an object with text and kind.", field)
    unknown = sorted(set(raw) - QUESTION_KEYS)
    if unknown:
        raise ValidationFailed(f"Unknown key {unknown[0]!r} in a question.", f"{field}.{unknown[0]}")
    qid = raw.get("id")
    if qid is not None and (isinstance(qid, bool) or not isinstance(qid, int)):
        raise ValidationFailed("A question id is a whole number.", f"{field}.id")
    kind = enum_value(QuestionKind, raw.get("kind"), f"{field}.kind")
    text = raw.get("text")
    if not isinstance(text, str):
        raise ValidationFailed("The question text is required.", f"{field}.text")
    text = " ".join(storable(text, f"{field}.text").split())
    if not text:
        raise ValidationFailed("The question text is required.", f"{field}.text")
    if len(text) > QUESTION_TEXT_MAX:
        raise ValidationFailed(f"A question has at most {QUESTION_TEXT_MAX} characters.", f"{field}.text")
    required = raw.get("required", False)
    if not isinstance(required, bool):
        raise ValidationFailed("required must be true or false.", f"{field}.required")
    if kind == QuestionKind.TOOK_PLACE:
        required = True  # the answer that finishes the meeting is never optional
    choices = _check_choices(raw.get("choices"), kind, f"{field}.choices")
    audience = raw.get("audience")
    checked = None if audience is None else enum_value(SurveyAudience, audience, f"{field}.audience")
    if kind == QuestionKind.TOOK_PLACE and checked not in (None, SurveyAudience.EVERYONE):
        raise ValidationFailed("Both sides are asked whether the meeting took place.", f"{field}.audience")
    return _QuestionItem(qid, text, kind, choices, required, checked)


def _check_choices(raw: object, kind: QuestionKind, field: str) -> tuple[str, ...]:
    if kind != QuestionKind.CHOICE:
        if raw not in (None, [], ()):
            raise ValidationFailed(f"Only {QuestionKind.CHOICE.value} questions have choices.", field)
        return ()
    if not isinstance(raw, list | tuple) or len(raw) < 2:
        raise ValidationFailed("A single-choice question needs at least two choices.", field)
    if len(raw) > MAX_CHOICES:
        raise ValidationFailed(f"A question has at most {MAX_CHOICES} choices.", field)
    choices: list[str] = []
    for j, choice in enumerate(raw):
        where = f"{field}[{j}]"
        if not isinstance(choice, str):
            raise ValidationFailed("A choice is text.", where)
        choice = " ".join(storable(choice, where).split())
        if not choice:
            raise ValidationFailed("A choice cannot be empty.", where)
        if len(choice) > CHOICE_TEXT_MAX:
            raise ValidationFailed(f"A choice has at most {CHOICE_TEXT_MAX} characters.", where)
        if choice in choices:
            raise ValidationFailed(f"The choice {choice!r} is listed twice.", where)
        choices.append(choice)
    return tuple(choices)


def _answered_question_ids(session: Session, question_ids: list[int]) -> set[int]:
    if not question_ids:
        return set()
    return set(
        session.scalars(
            select(SurveyAnswer.question_id).where(SurveyAnswer.question_id.in_(question_ids)).distinct()
        )
    )


def _check_answered_edit(question: SurveyQuestion, item: _QuestionItem, field: str) -> None:
    if item.kind != question.kind:
        raise ValidationFailed(
            "This question already has answers, so its kind cannot change; add a new question instead.",
            f"{field}.kind",
        )
    dropped = [c for c in question.choices or [] if c not in item.choices]
    if dropped:
        raise ValidationFailed(
            f"This question already has answers, so the choice {dropped[0]!r} must stay.",
            f"{field}.choices",
        )


# --- invitations --------------------------------------------------------------------------------


def variant_for(meeting: Meeting) -> SurveyVariant:
    return SurveyVariant.CANCELED if meeting.state == MeetingState.CANCELED else SurveyVariant.HELD


def invite(session: Session, meeting: Meeting, *, now: datetime | None = None) -> list[SurveyInvitation]:
    """One invitation per participant (mentor, then mentee), creating only the missing ones.

    Idempotent, so a retried survey job adds nothing. Does not commit: the caller
    (the survey job) commits after it has sent the emails it needs to.
    """
    now = current_time(now)
    program = session.get(Program, meeting.program_id)
    if program is None:  # a meeting always has its program; guard against hand-edited data
        raise NotFound("The meeting's program is gone.")
    ensure_default_questions(session, program)
    have = {
        inv.person_id: inv
        for inv in session.scalars(select(SurveyInvitation).where(SurveyInvitation.meeting_id == meeting.id))
    }
    out: list[SurveyInvitation] = []
    for person_id in (meeting.mentor_id, meeting.mentee_id):
        invitation = have.get(person_id)
        if invitation is None:
            invitation = SurveyInvitation(
                meeting_id=meeting.id,
                person_id=person_id,
                variant=variant_for(meeting),
                sent_at=now,
                reminders_sent=0,
            )
            session.add(invitation)
        out.append(invitation)
    session.flush()
    return out


def unanswered(session: Session, meeting: Meeting) -> list[SurveyInvitation]:
    """The meeting's invitations nobody has answered yet (for survey reminders)."""
    return list(
        session.scalars(
            select(SurveyInvitation)
            .where(SurveyInvitation.meeting_id == meeting.id, SurveyInvitation.answered_at.is_(None))
            .order_by(SurveyInvitation.id)
        )
    )


def invitations_of(session: Session, person: Person) -> list[SurveyInvitation]:
    """A person's invitations, newest first, answered or not."""
    return list(
        session.scalars(
            select(SurveyInvitation)
            .where(SurveyInvitation.person_id == person.id)
            .order_by(SurveyInvitation.sent_at.desc(), SurveyInvitation.id.desc())
        )
    )


def waiting_for(session: Session, person: Person) -> list[SurveyInvitation]:
    """The surveys of past meetings ``person`` has not answered yet, oldest first (the home tile)."""
    return list(
        session.scalars(
            select(SurveyInvitation)
            .where(SurveyInvitation.person_id == person.id, SurveyInvitation.answered_at.is_(None))
            .order_by(SurveyInvitation.sent_at, SurveyInvitation.id)
        )
    )


# --- answering ----------------------------------------------------------------------------------


@retry_lost_races
def record_survey(
    session: Session,
    invitation_id: int,
    person: Person,
    answers: Mapping[str, Any],
    *,
    now: datetime | None = None,
) -> SurveyInvitation:
    """Store ``person``'s answers (keyed by question id) and finish the meeting; commits.

    Only the invited person may answer, once. Each answer is checked by kind:
    TOOK_PLACE yes/no (``true``/``false`` or ``"yes"``/``"no"``), RATING a whole
    number 1..5, CHOICE one of the choices, TEXT at most 4000 characters; an
    empty value (``None``, ``""``) means unanswered. Required questions must be
    answered, except that when a HELD survey says the meeting did not take
    place the questions about the meeting are skipped (and answers to them are
    refused). The first TOOK_PLACE answer completes or marks not held an
    active meeting (see the module docstring for disagreements and canceled
    meetings). Refused submissions change nothing.
    """
    now = current_time(now)
    with unit_of_work(session):
        invitation = get_row(session, SurveyInvitation, invitation_id)
        if invitation is None:
            raise NotFound("No such survey.")
        if invitation.person_id != person.id:
            raise Forbidden("Only the person invited can answer this survey.")
        meeting = session.get(Meeting, invitation.meeting_id)
        program = session.get(Program, meeting.program_id) if meeting is not None else None
        if meeting is None or program is None:
            raise NotFound("No such survey.")
        # The order of scheduling.locks: the program (if its questions are still to be made), the two
        # people, the meeting (decide on the state the other side's answer left), the invitation (one
        # submission at a time).
        ensure_default_questions(session, program)
        lock_people(session, meeting.mentor_id, meeting.mentee_id)
        lock_row(session, meeting)
        lock_row(session, invitation)
        if invitation.answered_at is not None:
            raise SurveyAlreadyAnswered("You have already answered this survey.")
        questions = questions_for(session, program, invitation.variant,
                                  audience_of(meeting, invitation.person_id))
        parsed = check_answers(questions, answers, invitation.variant)
        if meeting.is_active and now < meeting.start_at:
            raise InvalidTransition("The meeting has not started yet; answer the survey afterwards.")
        took_place = store_answers(session, invitation, questions, parsed, now=now)
        if meeting.is_active:
            finish = meeting_service.complete if took_place else meeting_service.mark_not_held
            finish(session, meeting, actor=person, now=now)  # commits the answers with the state
        else:
            session.commit()
    return invitation


def store_answers(
    session: Session,
    invitation: SurveyInvitation,
    questions: list[SurveyQuestion],
    parsed: Mapping[int, tuple[Any, str]],
    *,
    now: datetime,
) -> bool:
    """Attach checked answers (see :func:`check_answers`) to the invitation; no commit.

    Returns the answer to "Did this meeting take place?".
    """
    for question in questions:
        if question.id in parsed:
            value, text = parsed[question.id]
            invitation.answers.append(SurveyAnswer(question_id=question.id, value=value, text=text))
    invitation.answered_at = now
    invitation.took_place = bool(parsed[questions[0].id][0])
    session.flush()
    return invitation.took_place


def check_answers(
    questions: list[SurveyQuestion], answers: object, variant: SurveyVariant
) -> dict[int, tuple[Any, str]]:
    """``{question id: (stored value, stored text)}`` for the answered questions, or ValidationFailed."""
    if not isinstance(answers, Mapping):
        raise ValidationFailed("answers must be an object keyed by question id.", "answers")
    by_key = {str(q.id): q for q in questions}
    for key in answers:
        if str(key) not in by_key:
            raise ValidationFailed(f"{key!r} is not a question of this survey.", f"answers.{key}")
    given = {str(k): v for k, v in answers.items()}
    parsed: dict[int, tuple[Any, str]] = {}
    for question in questions:
        field = f"answers.{question.id}"
        result = _check_answer(question, given.get(str(question.id)), field)
        if result is not None:
            parsed[question.id] = result

    first = questions[0]
    if first.id not in parsed:
        raise ValidationFailed("Say whether the meeting took place.", f"answers.{first.id}")
    skip_rest = variant == SurveyVariant.HELD and parsed[first.id][0] is False
    for question in questions[1:]:
        field = f"answers.{question.id}"
        if skip_rest and question.id in parsed:
            raise ValidationFailed(
                "The meeting did not take place, so leave the questions about it unanswered.", field
            )
        if not skip_rest and question.required and question.id not in parsed:
            raise ValidationFailed("This question needs an answer.", field)
    return parsed


def _check_answer(question: SurveyQuestion, value: Any, field: str) -> tuple[Any, str] | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    kind = question.kind
    if kind == QuestionKind.TOOK_PLACE:
        if isinstance(value, bool):
            return value, ""
        if isinstance(value, str) and value.strip().lower() in ("yes", "no"):
            return value.strip().lower() == "yes", ""
        raise ValidationFailed("Answer yes or no.", field)
    if kind == QuestionKind.RATING:
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int) or not RATING_MIN <= value <= RATING_MAX:
            raise ValidationFailed(f"A rating is a whole number from {RATING_MIN} to {RATING_MAX}.", field)
        return value, ""
    if kind == QuestionKind.CHOICE:
        if not isinstance(value, str) or value not in (question.choices or []):
            raise ValidationFailed("Pick one of the choices offered.", field)
        return value, ""
    if not isinstance(value, str):
        raise ValidationFailed("The answer must be text.", field)
    text = storable(value, field).strip()
    if len(text) > ANSWER_TEXT_MAX:
        raise ValidationFailed(f"The answer has at most {ANSWER_TEXT_MAX} characters.", field)
    return None, text


# --- views --------------------------------------------------------------------------------------


def survey_summary(invitation: SurveyInvitation, viewer: Person) -> dict[str, Any]:
    """The invitation without its questions (for lists), times in the viewer's zone."""
    session = object_session(invitation)
    if session is None:
        raise ValueError("the invitation must belong to a session")
    meeting = session.get(Meeting, invitation.meeting_id)
    assert meeting is not None
    invitee = meeting.mentor if invitation.person_id == meeting.mentor_id else meeting.mentee
    other = meeting.mentee if invitee is meeting.mentor else meeting.mentor
    zone = zone_of(viewer)
    return {
        "id": invitation.id,
        "variant": invitation.variant.value,
        "person": person_summary(invitee),
        "role": "mentor" if invitee is meeting.mentor else "mentee",
        "meeting": {
            "id": meeting.id,
            "topic": meeting.topic,
            "state": meeting.state.value,
            "with": person_summary(other),
            **time_range(meeting.start_at, meeting.end_at, viewer),
        },
        "sent_at": timestamp(invitation.sent_at, zone),
        "answered_at": timestamp(invitation.answered_at, zone),
        "answered": invitation.answered_at is not None,
        "took_place": invitation.took_place,
        "can_answer": invitation.answered_at is None and viewer.id == invitation.person_id,
    }


def survey_view(invitation: SurveyInvitation, viewer: Person) -> dict[str, Any]:
    """The survey with its questions and any answers, JSON-ready.

    Unanswered: the variant's active questions. Answered: the questions answered
    (even if retired since) and the active ones left blank, in order.
    """
    session = object_session(invitation)
    if session is None:
        raise ValueError("the invitation must belong to a session")
    meeting = session.get(Meeting, invitation.meeting_id)
    assert meeting is not None
    program = session.get(Program, meeting.program_id)
    assert program is not None
    answers = {a.question_id: a for a in invitation.answers}
    shown = {q.id: q for q in questions_for(session, program, invitation.variant,
                                            audience_of(meeting, invitation.person_id))}
    for given in answers.values():
        shown.setdefault(given.question_id, given.question)
    questions = []
    for q in sorted(shown.values(), key=lambda q: (q.position, q.id)):
        answer = answers.get(q.id)
        value = None if answer is None else (answer.text if q.kind == QuestionKind.TEXT else answer.value)
        questions.append({**question_dict(q), "answer": value})
    return {**survey_summary(invitation, viewer), "questions": questions}
