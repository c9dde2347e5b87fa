"""Surveys: people answer their own; admins read any and edit the questions.

A survey someone may not see does not exist for them (404), so a mentee cannot
probe for other people's surveys; an admin may read any survey but answer
only their own (403 from the service).
"""

from __future__ import annotations

from typing import Any

from flask import request

from app.api import bp, json_body
from app.api.params import required
from app.auth import require_person, roles_required
from app.db import db
from scheduling.db import get_row
from scheduling.errors import NotFound
from scheduling.models import Person, SurveyInvitation, SurveyVariant
from scheduling.services import surveys as svc
from scheduling.services.program import get_program
from scheduling.services.validation import enum_value


def visible_invitation(invitation_id: int, viewer: Person) -> SurveyInvitation:
    invitation = get_row(db(), SurveyInvitation, invitation_id)
    if invitation is None or not (viewer.is_admin or invitation.person_id == viewer.id):
        raise NotFound("No such survey.")
    return invitation


@bp.get("/surveys")
def list_surveys() -> Any:
    """My survey invitations, newest first, answered or not."""
    me = require_person()
    return {"surveys": [svc.survey_summary(inv, me) for inv in svc.invitations_of(db(), me)]}


@bp.get("/surveys/<int:invitation_id>")
def get_survey(invitation_id: int) -> Any:
    me = require_person()
    view = svc.survey_view(visible_invitation(invitation_id, me), me)
    db().commit()  # the first look at a program's survey may have created its default questions
    return view


@bp.post("/surveys/<int:invitation_id>")
def answer_survey(invitation_id: int) -> Any:
    me = require_person()
    body = json_body()
    invitation = visible_invitation(invitation_id, me)
    svc.record_survey(db(), invitation.id, me, required(body, "answers"))
    return svc.survey_view(invitation, me)


def _variant() -> SurveyVariant:
    return enum_value(SurveyVariant, request.args.get("variant") or SurveyVariant.HELD.value, "variant")


@bp.get("/program/survey-questions")
@roles_required("admin")
def survey_questions_get() -> Any:
    session = db()
    variant = _variant()
    questions = svc.questions_for(session, get_program(session), variant)
    session.commit()  # keeps the default questions if this was the first look
    return {"variant": variant.value, "questions": [svc.question_dict(q) for q in questions]}


@bp.put("/program/survey-questions")
@roles_required("admin")
def survey_questions_put() -> Any:
    session = db()
    variant = _variant()
    saved = svc.replace_questions(session, get_program(session), variant, required(json_body(), "questions"))
    return {"variant": variant.value, "questions": [svc.question_dict(q) for q in saved]}
