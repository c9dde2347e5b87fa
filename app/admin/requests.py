"""The pending-requests monitor: find requests nobody has answered, nudge or close them.

"Send reminder" and "close" go through the worker's scheduler
(``remind_request_now`` / ``close_request_now``) so that the same job code sends the
same e-mails and cancels the same scheduled jobs as when they happen on their own.
The failed-jobs view lists what the worker could not do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import abort, flash, render_template, request
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import aliased, selectinload

from app.admin import bp
from app.admin.forms import back_to
from app.auth import require_person
from app.db import db
from scheduling import timed_work
from scheduling.db import get_row
from scheduling.errors import DomainError
from scheduling.models import MeetingRequest, Person, RequestState, TimedWork
from scheduling.models.requests import OPEN_REQUEST_STATES
from scheduling.services import request_admin
from scheduling.services.requests import auto_close_due_at
from scheduling.services.validation import current_time
from worker import failures, runtime

PAGE_SIZE = 50
STATE_CHOICES = ("open", *(s.value for s in RequestState), "any")
MAX_AGE_DAYS = 3650


@dataclass(frozen=True)
class RequestFilters:
    state: str = "open"
    mentor: str = ""
    mentee: str = ""
    older_than_days: int | None = None
    problem: str = ""

    def as_args(self) -> dict[str, Any]:
        out: dict[str, Any] = {"state": self.state, "mentor": self.mentor, "mentee": self.mentee}
        if self.older_than_days is not None:
            out["older_than_days"] = self.older_than_days
        return out


def read_filters() -> RequestFilters:
    state = request.args.get("state") or "open"
    problem = ""
    if state not in STATE_CHOICES:
        problem, state = f"Unknown state {state!r}.", "open"
    raw_age = (request.args.get("older_than_days") or "").strip()
    older: int | None = None
    if raw_age:
        if raw_age.isdigit() and int(raw_age) <= MAX_AGE_DAYS:
            older = int(raw_age)
        else:
            problem = f"Age must be a whole number of days from 0 to {MAX_AGE_DAYS}."
    return RequestFilters(
        state=state,
        mentor=(request.args.get("mentor") or "").strip()[:200],
        mentee=(request.args.get("mentee") or "").strip()[:200],
        older_than_days=older,
        problem=problem,
    )


def _person_matches(column: Any, text: str) -> Any:
    """A person (by the request's mentor/mentee column) whose name or email contains ``text``."""
    who = aliased(Person)
    low = text.lower()
    return column.in_(
        select(who.id).where(or_(func.lower(who.name).contains(low, autoescape=True),
                                 func.lower(who.email).contains(low, autoescape=True)))
    )


def filtered_requests(filters: RequestFilters) -> Select[MeetingRequest]:
    query = select(MeetingRequest).options(
        selectinload(MeetingRequest.mentee), selectinload(MeetingRequest.mentor),
        selectinload(MeetingRequest.skill),
    )
    if filters.state == "open":
        query = query.where(MeetingRequest.state.in_(OPEN_REQUEST_STATES))
    elif filters.state != "any":
        query = query.where(MeetingRequest.state == RequestState(filters.state))
    if filters.mentor:
        query = query.where(_person_matches(MeetingRequest.mentor_id, filters.mentor))
    if filters.mentee:
        query = query.where(_person_matches(MeetingRequest.mentee_id, filters.mentee))
    if filters.older_than_days is not None:
        cutoff = current_time(None) - timedelta(days=filters.older_than_days)
        query = query.where(MeetingRequest.created_at <= cutoff)
    return query


@bp.get("/requests")
def requests_page() -> Any:
    filters = read_filters()
    session = db()
    query = filtered_requests(filters)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = list(session.scalars(
        query.order_by(MeetingRequest.created_at, MeetingRequest.id).limit(PAGE_SIZE)
    ))
    return render_template(
        "admin/requests.html",
        requests=rows,
        total=total,
        shown=len(rows),
        filters=filters,
        states=STATE_CHOICES,
        now=current_time(None),
        auto_close_due_at=auto_close_due_at,
        open_states=OPEN_REQUEST_STATES,
    ), 422 if filters.problem else 200


def _request_or_404(request_id: int) -> MeetingRequest:
    found = get_row(db(), MeetingRequest, request_id)
    if found is None:
        abort(404, description="No such request.")
    return found


def _return_args() -> dict[str, Any]:
    """Back to the monitor with the filters the admin had (sent along as hidden fields)."""
    keep = ("state", "mentor", "mentee", "older_than_days")
    return {k: request.form[k] for k in keep if request.form.get(k)}


@bp.post("/requests/<int:request_id>/remind")
def request_remind(request_id: int) -> Any:
    req = _request_or_404(request_id)
    if req.state != RequestState.PENDING:
        flash(f"Request #{req.id} is {req.state.value}; only pending requests get reminders.", "error")
        return back_to("admin.requests_page", **_return_args())
    try:
        request_admin.remind_now(db(), request_id)
    except DomainError as exc:
        flash(exc.message, "error")
        return back_to("admin.requests_page", **_return_args())
    flash(f"Reminder sent for request #{request_id}.", "success")
    return back_to("admin.requests_page", **_return_args())


@bp.post("/requests/<int:request_id>/close")
def request_close(request_id: int) -> Any:
    admin = require_person()
    req = _request_or_404(request_id)
    if not req.is_open:
        flash(f"Request #{req.id} is already {req.state.value}.", "error")
        return back_to("admin.requests_page", **_return_args())
    try:
        request_admin.close_now(db(), request_id, admin)
    except DomainError as exc:
        db().rollback()
        flash(exc.message, "error")
        return back_to("admin.requests_page", **_return_args())
    flash(f"Request #{request_id} closed.", "success")
    return back_to("admin.requests_page", **_return_args())


@bp.get("/jobs/failed")
def failed_jobs_page() -> Any:
    show = request.args.get("show") or "failed"
    if show not in failures.SHOWS:
        show = "failed"
    return render_template(
        "admin/failed_jobs.html",
        jobs=failures.list_work(db(), runtime.redis_or_none(), show=show, limit=100),
        backlog=failures.backlog(db()),
        show=show,
        shows=failures.SHOWS,
    )


@bp.post("/jobs/<int:work_id>/retry")
def job_retry(work_id: int) -> Any:
    return _handle_work(work_id, timed_work.retry_now, "will run again now")


@bp.post("/jobs/<int:work_id>/drop")
def job_drop(work_id: int) -> Any:
    return _handle_work(work_id, timed_work.drop, "dropped; it will not run again")


def _handle_work(work_id: int, action: Any, done: str) -> Any:
    if get_row(db(), TimedWork, work_id) is None:
        abort(404, description="No such timed work.")
    try:
        row = action(db(), work_id)
        db().commit()
    except DomainError as exc:
        db().rollback()
        flash(exc.message, "error")
        return back_to("admin.failed_jobs_page")
    flash(f"{row.key}: {done}.", "success")
    return back_to("admin.failed_jobs_page")
