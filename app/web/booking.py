"""Asking a mentor for a meeting: the details form, then pick a shared free time (or propose others).

Step one keeps the details in the session (nothing is stored until a time is
chosen); step two calls :func:`scheduling.services.requests.request_meeting`,
which checks every program rule. Times are listed and read in the mentee's zone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import groupby
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
    local,
    local_midnight,
    me,
    parse_local,
    parse_week,
    program,
    signed_in,
    zone_name,
)
from freebusy.slots import Slot
from scheduling import matching
from scheduling.availability import bookable_slots
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
WEEKS_AHEAD = 12
PROPOSE_ROWS = 3


@dataclass(frozen=True)
class SlotChoice:
    value: str  # the UTC start, posted back
    label: str  # in the viewer's zone


@dataclass(frozen=True)
class DayChoices:
    day: date
    label: str
    slots: list[SlotChoice]


KIND_LABELS = {
    RequestKind.ONE_TIME: ("One meeting", "A single conversation about one topic."),
    RequestKind.ONGOING: ("A mentoring connection",
                          "A first meeting that starts an ongoing mentorship: you meet regularly after it."),
}


def _mentor(mentor_id: int) -> Person:
    mentor = get_row(db(), Person, mentor_id)
    if (mentor is None or not mentor.is_mentor or not mentor.active
            or not matching.may_see_mentor(db(), program(), me(), mentor.id)):
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
    if request.method == "GET" and not details["topic"]:  # a referral's link fills in the topic
        details["topic"] = (request.args.get("topic") or "").strip()[:svc.TOPIC_MAX]
    if request.method == "POST":
        details, errors = check_details(request.form, mentor, about=True)
        if not errors:
            session[DRAFT] = {"mentor_id": mentor.id, **details}
            target = "web.request_propose" if request.form.get("next") == "propose" else "web.request_time"
            return redirect(url_for(target, mentor_id=mentor.id))
    page = render_template("web/request_form.html", me=person, mentor=mentor, details=details,
                           errors=errors, modes=MODES, kinds=kinds, kind_labels=KIND_LABELS,
                           skills=skill_options(mentor))
    return page, 422 if errors else 200


def week_choices(slots: Iterable[Slot], viewer: Person) -> list[DayChoices]:
    """Slots grouped by the viewer's local day, labelled in the viewer's zone."""
    days = []
    for day, group in groupby(slots, key=lambda s: local(s.start, viewer).date()):  # type: ignore[union-attr]
        items = [SlotChoice(iso(s.start), clock(s, viewer)) for s in group]
        days.append(DayChoices(day, f"{day:%A} {day.day} {day:%b}", items))  # the week label has the year
    return days


def clock(slot: Slot, viewer: Person) -> str:
    """'04:00-04:30 EST': the day is the group's legend, so a slot shows its hours and zone."""
    s, e = local(slot.start, viewer), local(slot.end, viewer)
    assert s is not None and e is not None
    return f"{s:%H:%M}\u2013{e:%H:%M} {e.tzname() if s.tzname() != e.tzname() else s.tzname()}"


@dataclass(frozen=True)
class WeekView:
    """One week of the slot picker and where its arrows lead."""

    monday: date
    slots: list[Slot]
    prev_week: date | None
    next_week: date | None
    moved: bool  # this week had nothing left, so the page opened on the first week that has

    def context(self, viewer: Person) -> dict[str, Any]:
        return {"monday": self.monday, "days": week_choices(self.slots, viewer), "prev_week": self.prev_week,
                "next_week": self.next_week, "moved": self.moved}


def week_view(viewer: Person, raw_week: str | None, slots_in: Callable[[datetime, datetime], list[Slot]]
              ) -> WeekView:
    """The week asked for; without one, this week, or the first later week with a free slot."""
    monday, start, end = week_window(viewer, raw_week)
    this_monday = parse_week(None, viewer, local(utcnow(), viewer).date())  # type: ignore[union-attr]
    last_monday = this_monday + timedelta(weeks=WEEKS_AHEAD)
    slots = slots_in(start, end)
    first = monday
    if not raw_week:
        while not slots and monday < last_monday:
            monday, start, end = week_window(viewer, (monday + timedelta(weeks=1)).isoformat())
            slots = slots_in(start, end)
        if not slots:
            monday = first  # nothing in the weeks ahead either: show this week and say so
    return WeekView(monday, slots, monday - timedelta(weeks=1) if monday > this_monday else None,
                    monday + timedelta(weeks=1) if monday < last_monday else None, monday != first)


def week_window(viewer: Person, raw_week: str | None) -> tuple[date, datetime, datetime]:
    now = utcnow()
    today = local(now, viewer).date()  # type: ignore[union-attr]
    monday = parse_week(raw_week, viewer, today)
    this_monday = parse_week(None, viewer, today)
    monday = min(max(monday, this_monday), this_monday + timedelta(weeks=WEEKS_AHEAD))
    start = max(local_midnight(monday, viewer), now)
    end = local_midnight(monday + timedelta(days=7), viewer)
    return monday, start, end


def _time_page(person: Person, mentor: Person, draft: dict[str, str], errors: FormErrors,
               chosen: list[str]) -> Any:
    prog = program()
    week = week_view(person, request.values.get("week"),
                     lambda start, end: bookable_slots(db(), prog, mentor, person, start, end))
    return render_template(
        "web/request_time.html", me=person, mentor=mentor, draft=draft, **week.context(person),
        errors=errors, chosen=chosen, zone=zone_name(person), max_times=svc.MAX_PROPOSED_TIMES, program=prog,
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
    chosen = request.form.getlist("slot")
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
