"""Before and after a meeting (seed 001 practice): the mentee's goals, the agreed action plan.

The mentee states goals on the request or the meeting page until the meeting starts;
the mentor reads them to prepare. After the meeting either side records the next step
they agreed on; both see it on the meeting page and are reminded of it later (timed
work). Each action is one service call; refused, the page comes back with the message
by its field and nothing changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, redirect, request, url_for

from app.db import db
from app.web import bp
from app.web.common import FormErrors, failed, me, signed_in
from app.web.meetings import render_meeting, visible_meeting
from app.web.requests import render_request, visible_request
from scheduling.db import utcnow
from scheduling.errors import DomainError
from scheduling.models import Meeting, MeetingRequest
from scheduling.services import action_plans
from scheduling.services import requests as svc


@bp.app_template_global()
def goals_editable(req: MeetingRequest) -> bool:
    """Whether the goals form shows: before the meeting starts."""
    return svc.goals_editable(req, utcnow())


@bp.app_template_global()
def plan_recordable(meeting: Meeting) -> bool:
    """Whether the action plan form shows: after a meeting that took place."""
    return action_plans.may_record(meeting, utcnow())


def _status(exc: DomainError) -> int:
    return exc.status if 400 <= exc.status < 500 else 422


def _refused(exc: DomainError, render: Callable[[FormErrors, int], Any], field: str) -> Any:
    """The page again with the message by the form's one field (whatever the service named)."""
    failed(exc)
    errors = FormErrors()
    errors[field] = exc.message
    return render(errors, _status(exc))


@bp.post("/requests/<int:request_id>/goals")
@signed_in()
def request_goals(request_id: int) -> Any:
    person = me()
    req = visible_request(request_id, person)
    try:
        svc.set_goals(db(), req, person, request.form.get("goals") or "")
    except DomainError as exc:
        return _refused(exc, lambda errors, status: render_request(
            visible_request(request_id, person), person, errors, dict(request.form), status=status), "goals")
    flash("Goals saved; the mentor sees them.", "info")
    return redirect(url_for("web.request_detail", request_id=req.id, _anchor="meeting-goals"))


@bp.post("/meetings/<int:meeting_id>/goals")
@signed_in()
def meeting_goals(meeting_id: int) -> Any:
    person = me()
    meeting = visible_meeting(meeting_id, person)
    try:
        svc.set_goals(db(), meeting.request, person, request.form.get("goals") or "")
    except DomainError as exc:
        return _refused(exc, lambda errors, status: render_meeting(
            visible_meeting(meeting_id, person), person, errors, dict(request.form), status=status), "goals")
    flash("Goals saved; the mentor sees them.", "info")
    return redirect(url_for("web.meeting_detail", meeting_id=meeting.id, _anchor="meeting-goals"))


@bp.post("/meetings/<int:meeting_id>/action-plan")
@signed_in()
def meeting_action_plan(meeting_id: int) -> Any:
    person = me()
    meeting = visible_meeting(meeting_id, person)
    try:
        action_plans.record_plan(db(), meeting, person, request.form.get("action_plan") or "")
    except DomainError as exc:
        return _refused(exc, lambda errors, status: render_meeting(
            visible_meeting(meeting_id, person), person, errors, dict(request.form), status=status),
            "action_plan")
    flash("Action plan saved; you will both be reminded of it.", "info")
    return redirect(url_for("web.meeting_detail", meeting_id=meeting.id, _anchor="action-plan"))
