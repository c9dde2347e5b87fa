"""Surveys: people answer their own; admins read any and edit the questions.

A survey someone may not see does not exist for them (404), so a mentee cannot
probe for other people's surveys; an admin may read any survey but answer
only their own (403 from the service).
"""

from __future__ import annotations

from typing import Any

from app.api import bp
from app.api.fields import Given, Input, one_of
from app.api.operations import operation
from app.api.responses import Out, wrapped
from app.auth import require_person, roles_required
from app.db import db
from scheduling.db import get_row
from scheduling.errors import NotFound
from scheduling.models import Person, SurveyInvitation, SurveyVariant
from scheduling.services import surveys as svc
from scheduling.services.program import get_program


class AnswersIn(Input):
    answers: Given


class QuestionsIn(Input):
    questions: Given


class VariantQuery(Input):
    variant: one_of(SurveyVariant) = SurveyVariant.HELD  # type: ignore[valid-type]


class Survey(Out):
    id: int


class Questions(Out):
    variant: SurveyVariant
    questions: list[dict[str, Any]]


SurveyList = wrapped("SurveyList", "surveys", list[dict[str, Any]])


def visible_invitation(invitation_id: int, viewer: Person) -> SurveyInvitation:
    invitation = get_row(db(), SurveyInvitation, invitation_id)
    if invitation is None or not (viewer.is_admin or invitation.person_id == viewer.id):
        raise NotFound("No such survey.")
    return invitation


@bp.get("/surveys")
@operation("My survey invitations, newest first.", ok=SurveyList)
def list_surveys() -> Any:
    """My survey invitations, newest first, answered or not."""
    me = require_person()
    return {"surveys": [svc.survey_summary(inv, me) for inv in svc.invitations_of(db(), me)]}


@bp.get("/surveys/<int:invitation_id>")
@operation("One survey with its questions (and my answers).", ok=Survey)
def get_survey(invitation_id: int) -> Any:
    me = require_person()
    return svc.survey_view(visible_invitation(invitation_id, me), me)


@bp.post("/surveys/<int:invitation_id>")
@operation("Answer my survey.", ok=Survey, body=AnswersIn)
def answer_survey(invitation_id: int, body: AnswersIn) -> Any:
    me = require_person()
    invitation = visible_invitation(invitation_id, me)
    svc.record_survey(db(), invitation.id, me, body.answers)
    return svc.survey_view(invitation, me)


@bp.get("/program/survey-questions")
@roles_required("admin")
@operation("The survey questions of one variant (admins).", ok=Questions, query=VariantQuery)
def survey_questions_get(query: VariantQuery) -> Any:
    session = db()
    variant = query.variant
    questions = svc.questions_for(session, get_program(session), variant)
    return {"variant": variant.value, "questions": [svc.question_dict(q) for q in questions]}


@bp.put("/program/survey-questions")
@roles_required("admin")
@operation("Replace the survey questions of one variant (admins).", ok=Questions, query=VariantQuery,
           body=QuestionsIn)
def survey_questions_put(query: VariantQuery, body: QuestionsIn) -> Any:
    session = db()
    variant = query.variant
    saved = svc.replace_questions(session, get_program(session), variant, body.questions)
    return {"variant": variant.value, "questions": [svc.question_dict(q) for q in saved]}
