"""Mentor-initiated meetings ("offers"): find a mentee, say what about, pick shared free times.

Open only where the program lets mentors create meetings (``mentors_may_create``);
elsewhere these pages answer 403 with the domain's own message. Like a mentee's
request, step one keeps the details in the session and step two calls
:func:`scheduling.services.requests.request_meeting` with ``initiated_by=MENTOR``,
which checks every program rule. The mentee then accepts, counters or declines the
offer on the request's page, as a mentor answers a request.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, session, url_for

from app.db import db
from app.web import bp
from app.web.booking import MODES, blank_details, check_details, stored_draft
from app.web.common import (
    FormErrors,
    chosen_slots,
    failed,
    me,
    program,
    signed_in,
    zone_name,
)
from app.web.slot_picker import picker_context
from scheduling.db import get_row, utcnow
from scheduling.errors import DomainError, MentorCreationNotAllowed
from scheduling.models import Initiator, Person, Program, SkillRelation
from scheduling.services import people as people_svc
from scheduling.services import requests as svc

DRAFT = "offer_draft"
PAGE_SIZE = 20
QUERY_MAX = 200


@bp.app_context_processor
def _offer_helpers() -> dict[str, Any]:
    def mentors_may_offer() -> bool:
        """For the navigation: whether this program lets mentors offer meetings (asked only when shown)."""
        return program().mentors_may_create

    return {"mentors_may_offer": mentors_may_offer}


def open_program() -> Program:
    """The program, if mentors may offer meetings in it; else the domain's refusal (403)."""
    prog = program()
    if not prog.mentors_may_create:
        raise MentorCreationNotAllowed("In this program only mentees can ask for meetings.")
    return prog


def _mentee(raw: object, mentor: Person) -> Person:
    mentee = get_row(db(), Person, int(raw)) if isinstance(raw, str) and raw.isdigit() else None
    if mentee is None or not mentee.is_mentee or not mentee.active or mentee.id == mentor.id:
        abort(404, description="No such mentee.")
    return mentee


@bp.get("/mentees")
@signed_in("mentor")
def mentees() -> Any:
    """Mentees a mentor may offer a meeting to, by name, title, department or wanted skill."""
    person = me()
    open_program()
    q = (request.args.get("q") or "").strip()
    errors = FormErrors()
    if len(q) > QUERY_MAX:
        errors["q"], q = f"At most {QUERY_MAX} characters.", ""
    try:
        offset = max(0, int(request.args.get("offset") or 0))
    except ValueError:
        offset = 0
    found = people_svc.search_people(db(), q=q or None, role="mentee", limit=PAGE_SIZE + 1, offset=offset)
    found = [p for p in found if p.id != person.id]
    more = len(found) > PAGE_SIZE
    return render_template("web/mentees.html", me=person, mentees=found[:PAGE_SIZE], q=q, errors=errors,
                           offset=offset, more=more, page_size=PAGE_SIZE, wants=SkillRelation.WANTS,
                           ), 422 if errors else 200


@bp.route("/offers/new", methods=["GET", "POST"])
@signed_in("mentor")
def offer_start() -> Any:
    """Step one: what the meeting is about and how to meet."""
    person = me()
    open_program()
    raw = request.values.get("mentee_id")
    if not raw:
        return redirect(url_for("web.mentees"))
    mentee = _mentee(raw, person)
    errors = FormErrors()
    details = stored_draft(DRAFT, mentee_id=mentee.id) or blank_details()
    if request.method == "POST":
        details, errors = check_details(request.form, person)
        if not errors:
            session[DRAFT] = {"mentee_id": mentee.id, **details}
            return redirect(url_for("web.offer_time", mentee_id=mentee.id))
    return render_template("web/offer_form.html", me=person, mentee=mentee, details=details, errors=errors,
                           modes=MODES), 422 if errors else 200


@bp.route("/offers/new/time", methods=["GET", "POST"])
@signed_in("mentor")
def offer_time() -> Any:
    """Step two: one or more times both people are free; sending makes the offer."""
    person = me()
    prog = open_program()
    mentee = _mentee(request.values.get("mentee_id"), person)
    draft = stored_draft(DRAFT, mentee_id=mentee.id)
    if draft is None:
        return redirect(url_for("web.offer_start", mentee_id=mentee.id))
    errors = FormErrors()
    status = 200
    chosen = request.form.getlist("slot")
    if request.method == "POST":
        try:
            req = svc.request_meeting(
                db(), program=prog, mentee=mentee, mentor=person, topic=draft["topic"],
                description=draft["description"], mode=draft["mode"], location=draft["location"],
                times=chosen_slots(chosen, prog.slot_minutes, svc.MAX_PROPOSED_TIMES),
                initiated_by=Initiator.MENTOR,
            )
        except DomainError as exc:
            failed(exc)
            status = exc.status if 400 <= exc.status < 500 else 422
            errors.add(exc, {"times": "slot", "topic": "form", "description": "form", "location": "form",
                             "mode": "form", "mentee_id": "form", "mentor_id": "form"})
        else:
            session.pop(DRAFT, None)
            flash(f"Offer sent to {mentee.name}; they accept or decline it.", "info")
            return redirect(url_for("web.request_detail", request_id=req.id))
    picker = picker_context(
        prog=prog, viewer=person, other=mentee, mentor=person, mentee=mentee, values=request.values,
        chosen=chosen, errors=errors, now=utcnow(),
        url=lambda **params: url_for("web.offer_time", mentee_id=mentee.id, **params),
    )
    if errors and status == 200:
        status = 422
    return render_template(
        "web/offer_time.html", me=person, mentee=mentee, draft=draft, **picker,
        errors=errors, zone=zone_name(person), max_times=svc.MAX_PROPOSED_TIMES, program=prog,
    ), status
