"""Asking a mentor for a meeting: the details form, then pick a shared free time (or propose others).

Step one keeps the details in the session (nothing is stored until a time is
chosen); step two calls :func:`scheduling.services.requests.request_meeting`,
which checks every program rule. Times are read in the mentee's zone and listed by the
slot picker (``app.web.slot_picker``) in the zone the mentee picks, the mentor's beside them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import abort, flash, redirect, render_template, request, session, url_for
from sqlalchemy import select

from app.db import db
from app.web import bp
from app.web.common import (
    FormErrors,
    chosen_slots,
    failed,
    iso,
    me,
    parse_local,
    parse_utc,
    program,
    signed_in,
    zone_name,
)
from app.web.slot_picker import picker_context
from scheduling import mentor_visibility
from scheduling.db import get_row, utcnow
from scheduling.errors import DomainError, ValidationFailed
from scheduling.models import MeetingMode, Person, RequestKind, Skill, SkillRelation
from scheduling.services import modes
from scheduling.services import requests as svc

DRAFT = "request_draft"
DETAILS = ("topic", "description", "mode", "location")
ABOUT = ("skill", "goals", "kind")
MODES = [(MeetingMode.VIDEO.value, "Video call"), (MeetingMode.PHONE.value, "Phone"),
         (MeetingMode.IN_PERSON.value, "In person")]
PROPOSE_ROWS = 3


KIND_LABELS = {
    RequestKind.ONE_TIME: ("One meeting", "A single conversation about one topic."),
    RequestKind.ONGOING: ("A mentoring connection",
                          "A first meeting that starts an ongoing mentorship: you meet regularly after it."),
}


def _mentor(mentor_id: int) -> Person:
    mentor = get_row(db(), Person, mentor_id)
    if (mentor is None or not mentor.is_mentor or not mentor.active
            or not mentor_visibility.may_see_mentor(db(), program(), me(), mentor.id)):
        abort(404, description="No such mentor.")  # hidden directory: not among my recommendations
    return mentor


def check_details(form: Any, mentor: Person, *, about: bool = False) -> tuple[dict[str, str], FormErrors]:
    """Step one's details (``about``: also the skill, goals and kind of a mentee's request), judged
    by the rules and in the words of ``request_meeting`` itself (``detail_errors``), all at once."""
    details = {k: (form.get(k) or "").strip() for k in DETAILS + (ABOUT if about else ())}
    details["mode"] = details["mode"] or MeetingMode.VIDEO.value
    checked, problems = svc.detail_errors(
        db(), program(), mentor, topic=details["topic"], description=details["description"],
        mode=details["mode"], location=details["location"], kind=details.get("kind") or None,
        skill=details.get("skill") or None, goals=details.get("goals", ""),
    )
    errors = FormErrors()
    for exc in problems:
        errors.add(exc, None if about else {"kind": "form"})  # an offer's form has no kind to point at
    if about and checked is not None:
        details["kind"] = checked.kind.value  # none chosen: the mentor's default
    return details, errors


def skill_options(mentor: Person) -> list[tuple[str, str]]:
    """Catalogue skills for the request form: the mentor's offered skills first, then the rest."""
    offered = sorted({ps.skill.name for ps in mentor.skills if ps.relation == SkillRelation.OFFERS},
                     key=str.casefold)
    rest = [n for n in db().scalars(select(Skill.name).order_by(Skill.name)) if n not in offered]
    return [(n, f"{n} (offered by {mentor.name})") for n in offered] + [(n, n) for n in rest]


def _routed(mentor: Person) -> Any:
    """In an admin-routed program mentees do not book: they send preferences to the admins instead."""
    if program().admin_routed:
        return redirect(url_for("web.routing_new", mentor_id=mentor.id))
    return None


def blank_details() -> dict[str, str]:
    """Step one's form before anything is typed: a video meeting."""
    return {"topic": "", "description": "", "mode": MeetingMode.VIDEO.value, "location": ""}


def stored_draft(key: str, **other: int) -> dict[str, str] | None:
    """Step one's details, kept in the session for step two, if they are for this other person
    (``mentor_id=...`` for a request, ``mentee_id=...`` for an offer)."""
    draft = session.get(key)
    if not isinstance(draft, dict) or any(draft.get(name) != value for name, value in other.items()):
        return None
    return draft


def _preselected(raw: str | None) -> str:
    """A time chosen on the mentor's page, carried through step one to be ticked in the picker
    (dropped if it is not a time: the picker then simply opens as usual)."""
    if not raw:
        return ""
    try:
        return iso(parse_utc(raw, "slot"))
    except DomainError:
        return ""


@bp.route("/mentors/<int:mentor_id>/request", methods=["GET", "POST"])
@signed_in("mentee")
def request_start(mentor_id: int) -> Any:
    person = me()
    mentor = _mentor(mentor_id)
    if (routed := _routed(mentor)) is not None:
        return routed
    errors = FormErrors()
    kinds = modes.offered_kinds(program(), mentor)
    if not kinds:
        abort(404, description=f"{mentor.name} offers no mentoring right now.")
    details = stored_draft(DRAFT, mentor_id=mentor.id) or {**blank_details(), "kind": kinds[0].value}
    preselected = _preselected(request.values.get("slot"))
    if request.method == "GET" and not details["topic"]:  # a referral's link fills in the topic
        details["topic"] = (request.args.get("topic") or "").strip()[:svc.TOPIC_MAX]
    if request.method == "POST":
        details, errors = check_details(request.form, mentor, about=True)
        if not errors:
            session[DRAFT] = {"mentor_id": mentor.id, **details}
            if request.form.get("next") == "propose":
                return redirect(url_for("web.request_propose", mentor_id=mentor.id))
            return redirect(url_for("web.request_time", mentor_id=mentor.id, slot=preselected or None))
    page = render_template("web/request_form.html", me=person, mentor=mentor, details=details,
                           errors=errors, modes=MODES, kinds=kinds, kind_labels=KIND_LABELS,
                           skills=skill_options(mentor), slot=preselected)
    return page, 422 if errors else 200


def _time_page(person: Person, mentor: Person, draft: dict[str, str], errors: FormErrors,
               chosen: list[str]) -> Any:
    prog = program()
    picker = picker_context(
        prog=prog, viewer=person, other=mentor, mentor=mentor, mentee=person, values=request.values,
        chosen=chosen, errors=errors, now=utcnow(),
        url=lambda **params: url_for("web.request_time", mentor_id=mentor.id, **params),
    )
    return render_template(
        "web/request_time.html", me=person, mentor=mentor, draft=draft, **picker,
        errors=errors, zone=zone_name(person), max_times=svc.MAX_PROPOSED_TIMES, program=prog,
    ), 422 if errors else 200


def _create(
    person: Person, mentor: Person, draft: dict[str, str], times: list[tuple[datetime, datetime]]
) -> Any:
    req = svc.request_meeting(
        db(), program=program(), mentee=person, mentor=mentor, topic=draft["topic"],
        description=draft["description"], mode=draft["mode"], location=draft["location"], times=times,
        kind=draft.get("kind") or None, skill=draft.get("skill") or None, goals=draft.get("goals") or "",
    )
    session.pop(DRAFT, None)
    flash(f"Request sent to {mentor.name}.", "info")
    return redirect(url_for("web.request_detail", request_id=req.id))


@bp.route("/mentors/<int:mentor_id>/request/time", methods=["GET", "POST"])
@signed_in("mentee")
def request_time(mentor_id: int) -> Any:
    person = me()
    mentor = _mentor(mentor_id)
    if (routed := _routed(mentor)) is not None:
        return routed
    draft = stored_draft(DRAFT, mentor_id=mentor.id)
    if draft is None:
        return redirect(url_for("web.request_start", mentor_id=mentor.id))
    errors = FormErrors()
    chosen = (request.form if request.method == "POST" else request.args).getlist("slot")
    if request.method == "POST":
        try:
            times = chosen_slots(chosen, program().slot_minutes, svc.MAX_PROPOSED_TIMES)
            return _create(person, mentor, draft, times)
        except DomainError as exc:
            failed(exc)
            errors.add(exc, {"times": "slot", "topic": "form", "description": "form", "location": "form",
                             "skill": "form", "goals": "form"})
    return _time_page(person, mentor, draft, errors, chosen)


@bp.route("/mentors/<int:mentor_id>/request/propose", methods=["GET", "POST"])
@signed_in("mentee")
def request_propose(mentor_id: int) -> Any:
    person = me()
    mentor = _mentor(mentor_id)
    if (routed := _routed(mentor)) is not None:
        return routed
    draft = stored_draft(DRAFT, mentor_id=mentor.id)
    if draft is None:
        return redirect(url_for("web.request_start", mentor_id=mentor.id))
    prog = program()
    errors = FormErrors()
    rows = [{"date": request.form.get(f"date{i}", ""), "time": request.form.get(f"time{i}", "")}
            for i in range(PROPOSE_ROWS)]
    if request.method == "POST":
        times: list[tuple[datetime, datetime]] = []
        filled = [i for i, r in enumerate(rows) if r["date"] or r["time"]]
        try:
            if not filled:
                raise ValidationFailed("Propose at least one time.", "time0")
            for i in filled:
                start = parse_local(rows[i]["date"], rows[i]["time"], person, f"time{i}")
                times.append((start, start + timedelta(minutes=prog.slot_minutes)))
            try:
                return _create(person, mentor, draft, times)
            except DomainError as exc:
                if exc.field and exc.field.startswith("times["):  # point at the row the person typed
                    exc.field = f"time{filled[int(exc.field[6:].split(']')[0])]}"
                raise
        except DomainError as exc:
            failed(exc)
            errors.add(exc, {"topic": "form", "description": "form", "location": "form", "times": "time0",
                             "skill": "form", "goals": "form"})
    return render_template("web/request_propose.html", me=person, mentor=mentor, draft=draft, rows=rows,
                           errors=errors, zone=zone_name(person), program=prog), 422 if errors else 200
