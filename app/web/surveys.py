"""Surveys after a meeting: the list of mine and one survey's form (``scheduling.services.surveys``).

The link in the survey email is ``/surveys/<invitation_id>``. Answers are posted as
``q<question id>``; the service checks them and finishes the meeting.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from app.db import db
from app.web import bp
from app.web.common import FormErrors, failed, me, signed_in
from scheduling.db import get_row
from scheduling.errors import DomainError, NotFound
from scheduling.models import SurveyInvitation
from scheduling.services import surveys as svc


@bp.get("/surveys")
@signed_in()
def surveys_list() -> Any:
    person = me()
    items = [svc.survey_summary(inv, person) for inv in svc.invitations_of(db(), person)]
    return render_template("web/surveys.html", me=person, items=items)


def _mine(invitation_id: int) -> SurveyInvitation:
    person = me()
    invitation = get_row(db(), SurveyInvitation, invitation_id)
    if invitation is None or invitation.person_id != person.id:
        raise NotFound("No such survey.")
    return invitation


def _page(invitation: SurveyInvitation, errors: FormErrors | None = None, form: dict[str, str] | None = None,
          status: int = 200) -> Any:
    person = me()
    view = svc.survey_view(invitation, person)
    return render_template("web/survey.html", me=person, survey=view, errors=errors or FormErrors(),
                           form=form or {}, rating=range(svc.RATING_MIN, svc.RATING_MAX + 1)), status


@bp.get("/surveys/<int:invitation_id>")
@signed_in()
def survey(invitation_id: int) -> Any:
    return _page(_mine(invitation_id))


@bp.post("/surveys/<int:invitation_id>")
@signed_in()
def survey_answer(invitation_id: int) -> Any:
    invitation = _mine(invitation_id)
    answers = {key[1:]: value for key, value in request.form.items()
               if key.startswith("q") and key[1:].isdigit()}
    try:
        svc.record_survey(db(), invitation.id, me(), answers)
    except DomainError as exc:
        failed(exc)
        field = exc.field or "form"
        errors = FormErrors()
        errors[("q" + field.split(".", 1)[1]) if field.startswith("answers.") else "form"] = exc.message
        status = exc.status if exc.status < 500 else 422
        return _page(_mine(invitation_id), errors, dict(request.form), status=status)
    flash("Thank you: your answers are saved.", "info")
    return redirect(url_for("web.survey", invitation_id=invitation.id))
