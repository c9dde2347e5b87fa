"""My requests (sent and received), one request's page, and every answer to it.

Each action is one ``scheduling.services.requests`` call; a refused one renders the
request page again with the message next to the field, and nothing changes. A mentor's
offer (where the program lets mentors create meetings) is a request the mentee answers;
the page speaks of the initiator and the answerer. The page carries the request's
message thread (:mod:`app.web.conversations`); an admin may open it to read.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from app.db import db
from app.web import bp, conversation_views
from app.web.common import (
    FormErrors,
    failed,
    iso,
    me,
    parse_local,
    parse_utc,
    program,
    signed_in,
    span,
    zone_name,
)
from app.web.request_labels import STATE_LABELS
from scheduling import counter_times
from scheduling.db import get_row, utcnow
from scheduling.errors import DomainError, NotFound, ValidationFailed
from scheduling.models import DeclineReason, Initiator, MeetingRequest, Person, RequestState, RoutingState
from scheduling.request_holds import holds_of
from scheduling.services import requests as svc
from scheduling.services import routing as routing_svc

DECLINE_REASONS = [
    (DeclineReason.NO_TIME.value, "I don't have time right now"),
    (DeclineReason.NOT_MY_EXPERTISE.value, "This is not my area of expertise"),
    (DeclineReason.TOO_MANY_REQUESTS.value, "I have too many requests"),
    (DeclineReason.TIMES_DO_NOT_WORK.value, "None of the times work for me"),
    (DeclineReason.OTHER.value, "Other (say why in the message)"),
]
REASON_LABELS = {
    **dict(DECLINE_REASONS), DeclineReason.DECLINED_FROM_CALENDAR.value: "Declined from calendar",
}
ROUTING_STATE_LABELS = {
    RoutingState.OPEN: "Waiting for an admin",
    RoutingState.ASSIGNED: "Mentor assigned",
    RoutingState.WITHDRAWN: "Withdrawn",
}
COUNTER_DAYS = 14
COUNTER_OPTIONS = 80


def visible_request(request_id: int, viewer: Person, *, admin_reads: bool = False) -> MeetingRequest:
    """The request for one of its two people (and, with ``admin_reads``, an admin); 404 for anyone else."""
    req = get_row(db(), MeetingRequest, request_id)
    if req is None or not (svc.is_participant(req, viewer) or (admin_reads and viewer.is_admin)):
        raise NotFound("No such request.")
    return req


@bp.get("/requests")
@signed_in()
def requests_list() -> Any:
    person = me()
    rows = list(db().scalars(
        select(MeetingRequest)
        .options(selectinload(MeetingRequest.mentee), selectinload(MeetingRequest.mentor),
                 selectinload(MeetingRequest.meeting), selectinload(MeetingRequest.skill))
        .where(or_(MeetingRequest.mentee_id == person.id, MeetingRequest.mentor_id == person.id))
        .order_by(MeetingRequest.created_at.desc(), MeetingRequest.id.desc())
    ))
    to_answer = [r for r in rows if svc.answerer_id(r) == person.id]
    to_answer.sort(key=lambda r: (r.state != RequestState.PENDING, -r.id))
    mine = [r for r in rows if svc.initiator_id(r) == person.id]
    prog = program()
    sent_to_admin = [r for r in routing_svc.routings(db(), prog, person)
                     if r.mentee_id == person.id] if person.is_mentee else []
    return render_template("web/requests.html", me=person, to_answer=to_answer, mine=mine,
                           states=STATE_LABELS, reasons=REASON_LABELS, routings=sent_to_admin,
                           program=prog, routing_states=ROUTING_STATE_LABELS)


def counter_options(req: MeetingRequest, viewer: Person) -> list[tuple[str, str]]:
    """Shared free times of the two people in the next two weeks, not already proposed."""
    if "counter" not in svc.allowed_actions(req, viewer):
        return []
    now = utcnow()
    slots = counter_times.suggestions(db(), req.program, req.mentor, req.mentee, now,
                                      now + timedelta(days=COUNTER_DAYS), now=now)
    taken = {p.start_at for p in req.proposed_times}
    free = [(iso(s.start), span(s.start, s.end, viewer)) for s in slots if s.start not in taken]
    return free[:COUNTER_OPTIONS]


def render_request(req: MeetingRequest, person: Person, errors: FormErrors | None = None,
                   form: dict[str, Any] | None = None, status: int = 200) -> Any:
    participant = svc.is_participant(req, person)
    actions = [a for a in svc.allowed_actions(req, person) if a != "close"] if participant else []
    return render_template(
        "web/request.html", me=person, req=req, actions=actions,
        proposed=svc.initiator_times(req), counter=svc.counter_time(req),
        states=STATE_LABELS, reasons=REASON_LABELS, decline_reasons=DECLINE_REASONS,
        counter_options=counter_options(req, person), errors=errors or FormErrors(), form=form or {},
        zone=zone_name(person), is_mentor=person.id == req.mentor_id,
        held_in_calendar=person.id == req.mentor_id and bool(holds_of(db(), req.id)),
        offer=req.initiated_by == Initiator.MENTOR,
        initiator_role="mentor" if req.initiated_by == Initiator.MENTOR else "mentee",
        thread=conversation_views.thread_for(req, person,
                                             url_for("web.request_message_post", request_id=req.id)),
    ), status


@bp.get("/requests/<int:request_id>")
@signed_in()
def request_detail(request_id: int) -> Any:
    person = me()
    return render_request(visible_request(request_id, person, admin_reads=True), person)


def _act(request_id: int, action: Any, done: str, field_map: dict[str, str] | None = None) -> Any:
    """Run one answer; on a domain error show the page again with the error by its field."""
    person = me()
    req = visible_request(request_id, person)
    try:
        action(person, req)
    except DomainError as exc:
        failed(exc)
        req = visible_request(request_id, person)
        errors = FormErrors().add(exc, field_map)
        status = exc.status if exc.status < 500 else 422
        return render_request(req, person, errors, dict(request.form), status=status)
    flash(done, "info")
    return redirect(url_for("web.request_detail", request_id=req.id))


@bp.post("/requests/<int:request_id>/accept")
@signed_in()
def request_accept(request_id: int) -> Any:
    def accept(person: Person, req: MeetingRequest) -> None:
        raw = request.form.get("time_id") or ""
        if not raw:
            if len(svc.initiator_times(req)) != 1:
                raise ValidationFailed("Choose one of the proposed times.", "time_id")
            svc.accept(db(), req, actor=person, time_index=0)
            return
        if not raw.isdigit():
            raise ValidationFailed("Choose one of the proposed times.", "time_id")
        svc.accept(db(), req, actor=person, proposed_time_id=int(raw))

    return _act(request_id, accept, "Accepted: the meeting is booked.")


def _counter_start(person: Person, req: MeetingRequest) -> datetime:
    picked = request.form.get("slot") or ""
    day, hhmm = request.form.get("date") or "", request.form.get("time") or ""
    if picked:
        return parse_utc(picked, "slot")
    if day or hhmm:
        return parse_local(day, hhmm, person, "date")
    raise ValidationFailed("Choose another time from the list, or type a date and time.", "slot")


@bp.post("/requests/<int:request_id>/counter")
@signed_in()
def request_counter(request_id: int) -> Any:
    def counter(person: Person, req: MeetingRequest) -> None:
        start = _counter_start(person, req)
        end = start + timedelta(minutes=req.program.slot_minutes)
        message = request.form.get("counter_message") or ""
        svc.counter(db(), req, actor=person, start=start, end=end, message=message)

    typed = bool(request.form.get("date") or request.form.get("time")) and not request.form.get("slot")
    field = "date" if typed else "slot"
    req = visible_request(request_id, me())
    initiator = "mentor" if req.initiated_by == Initiator.MENTOR else "mentee"
    return _act(request_id, counter, f"Another time proposed; waiting for the {initiator} to confirm.",
                {"start": field, "message": "counter_message"})


@bp.post("/requests/<int:request_id>/decline")
@signed_in()
def request_decline(request_id: int) -> Any:
    def decline(person: Person, req: MeetingRequest) -> None:
        reason = request.form.get("reason") or ""
        if not reason:
            raise ValidationFailed("Choose a reason.", "reason")
        svc.decline(db(), req, actor=person, reason=reason, message=request.form.get("decline_message") or "")

    return _act(request_id, decline, "Declined.", {"message": "decline_message"})


@bp.post("/requests/<int:request_id>/confirm")
@signed_in()
def request_confirm(request_id: int) -> Any:
    def confirm(person: Person, req: MeetingRequest) -> None:
        svc.confirm_counter(db(), req, actor=person)

    return _act(request_id, confirm, "Confirmed: the meeting is booked.")


@bp.post("/requests/<int:request_id>/withdraw")
@signed_in()
def request_withdraw(request_id: int) -> Any:
    def withdraw(person: Person, req: MeetingRequest) -> None:
        svc.withdraw(db(), req, actor=person)

    req = visible_request(request_id, me())
    return _act(request_id, withdraw, "Offer withdrawn." if req.initiated_by == Initiator.MENTOR
                else "Request withdrawn.")
