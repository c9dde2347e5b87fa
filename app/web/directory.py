"""Finding a mentor: the mentee's home (recommendations), the directory with filters, a mentor's card."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import abort, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import db
from app.web import bp
from app.web.common import FormErrors, iso, me, program, signed_in, span
from app.web.slot_picker import beside
from scheduling import matching, mentor_visibility
from scheduling.db import get_row, utcnow
from scheduling.errors import DomainError
from scheduling.models import Person, Program, Skill
from scheduling.services import direct_messages, modes, profile_fields
from scheduling.services import people as people_svc
from scheduling.services import requests as requests_svc
from scheduling.services import surveys as surveys_svc
from scheduling.slot_weeks import next_slots, this_week_counts
from scheduling.zones import zone_of

PAGE_SIZE = 20
FREE_SCAN = 200  # mentors checked for free time at once when "has free time this week" is on
FILTERS = ("q", "skill", "department", "title", "time_zone")
FILTER_MAX = 200
HOME_COUNT = 5
SOON_COUNT = 5  # next shared free times listed on a mentor's page


@dataclass
class Recommendation:
    mentor: Person
    reasons: list[str] = field(default_factory=list)
    shared_slots: int = 0
    pushed: bool = False  # recommended by a program admin
    percent: int | None = None  # the match score as "NN% match"


def recommendations(person: Person, prog: Program, n: int = HOME_COUNT) -> list[Recommendation]:
    """Top mentors for the mentee and why (admin-pushed first), from ``scheduling.matching``."""
    found = mentor_visibility.recommended_for(db(), prog, person, person, n=n)
    return [Recommendation(m.mentor, list(m.reasons), m.shared_slots, m.recommended, m.percent)
            for m in found]


@bp.get("/home")
@signed_in("mentee")
def home() -> Any:
    person = me()
    prog = program()
    return render_template("web/home.html", me=person, recs=recommendations(person, prog), program=prog,
                           feedback=surveys_svc.waiting_for(db(), person),
                           actions=requests_svc.waiting_for(db(), person))


def _filter_values() -> tuple[dict[str, str], FormErrors]:
    values: dict[str, str] = {}
    errors = FormErrors()
    for name in FILTERS:
        value = (request.args.get(name) or "").strip()
        if len(value) > FILTER_MAX:
            errors[name] = f"At most {FILTER_MAX} characters."
            value = ""
        values[name] = value
    return values, errors


def _match_percents(person: Person, mentors: list[Person]) -> dict[int, int]:
    """``{mentor id: NN}`` of "NN% match" for the viewer (a mentee), from ``scheduling.matching``."""
    ids = [m.id for m in mentors if m.id != person.id]
    if not ids:
        return {}
    ranked = matching.rank_mentors(db(), program(), person, mentor_ids=ids)
    return {m.card.id: m.percent for m in ranked}


@bp.get("/mentors")
@signed_in()
def directory() -> Any:
    person = me()
    session = db()
    values, errors = _filter_values()
    free_week = request.args.get("free") == "1"
    by_match = request.args.get("sort") == "match" and person.is_mentee
    scores: dict[int, int] = {}
    try:
        offset = max(0, int(request.args.get("offset") or 0))
    except ValueError:
        offset = 0
    filters = {k: (v or None) for k, v in values.items()}
    q, skill, department, title, time_zone = (filters[k] for k in FILTERS)
    only = mentor_visibility.visible_mentor_ids(session, program(), person)  # hidden: recommendations
    hidden = only is not None
    field_filters = profile_fields.filters(session, program())
    field_values = {f"field-{f.id}": (request.args.get(f"field-{f.id}") or "").strip() for f in field_filters}
    try:  # the program's own profile fields (seed 003): people whose answers match every one chosen
        chosen = profile_fields.read_filters(session, program(), request.args)
    except DomainError as exc:
        errors.add(exc)
        chosen = {}
    only = profile_fields.only_answering(session, chosen, only)
    now = utcnow()  # mentors who paused themselves until later are not listed
    mentors: list[Person] = []
    total = 0
    counts: dict[int, int] = {}
    try:
        if free_week or by_match:
            found = people_svc.search_people(session, q=q, skill=skill, department=department, title=title,
                                             time_zone=time_zone, role="mentor", limit=FREE_SCAN,
                                             only_ids=only, taking_requests_at=now)
            found = [m for m in found if m.id != person.id]
            if free_week:  # the slot picker's first week: the same range, so the same number
                counts = this_week_counts(session, program(), found, person, zone_of(person), now)
                found = [m for m in found if counts[m.id] > 0]
            if by_match:
                scores = _match_percents(person, found)
                found.sort(key=lambda m: -scores.get(m.id, 0))  # stable: ties keep the name order
            total, mentors = len(found), found[offset:offset + PAGE_SIZE]
        else:
            mentors = people_svc.search_people(session, q=q, skill=skill, department=department, title=title,
                                               time_zone=time_zone, role="mentor", limit=PAGE_SIZE,
                                               offset=offset, only_ids=only, taking_requests_at=now)
            total = people_svc.count_people(session, q=q, skill=skill, department=department, title=title,
                                            time_zone=time_zone, role="mentor", only_ids=only,
                                            taking_requests_at=now)
        if person.is_mentee and not by_match:
            scores = _match_percents(person, mentors)
    except DomainError as exc:
        errors.add(exc)
    options = {
        "skills": list(session.scalars(select(Skill.name).order_by(Skill.name))),
        "departments": [(d, d) for d in people_svc.departments(session)],
        "time_zones": [(z, z) for z in sorted(set(session.scalars(
            select(Person.time_zone).where(Person.active, Person.is_mentor).distinct())))],
    }
    status = 422 if errors else 200
    return render_template(
        "web/directory.html", me=person, mentors=mentors, total=total, values=values, free_week=free_week,
        counts=counts, offset=offset, page_size=PAGE_SIZE, options=options, errors=errors,
        hidden=hidden, scores=scores, by_match=by_match,
        field_filters=field_filters, field_values=field_values,
        field_options={f.id: [(c, c) for c in f.choices] for f in field_filters},
        field_answers=profile_fields.answers_of(session, mentors, field_filters),
    ), status


@dataclass(frozen=True)
class SoonSlot:
    """One of the next shared free times on a mentor's page: a link into the picker with it chosen."""

    label: str  # the mentee's zone
    beside: str  # the mentor's local time
    value: str  # the UTC start


def soon_slots(session: Session, prog: Program, mentor: Person, mentee: Person, now: datetime
               ) -> list[SoonSlot]:
    """The next :data:`SOON_COUNT` shared free times, labelled as the picker labels them."""
    found = next_slots(session, prog, mentor, mentee, zone_of(mentee), now, SOON_COUNT)
    return [SoonSlot(span(s.start, s.end, mentee), beside(s, zone_of(mentee), mentee, mentor), iso(s.start))
            for s in found]


@bp.get("/mentors/<int:mentor_id>")
@signed_in()
def mentor_card(mentor_id: int) -> Any:
    person = me()
    session = db()
    mentor = get_row(session, Person, mentor_id)
    prog = program()
    if (mentor is None or not mentor.is_mentor or not mentor.active
            or not mentor_visibility.may_see_mentor(session, prog, person, mentor.id)):
        abort(404, description="No such mentor.")
    now = utcnow()
    free = 0
    soon: list[SoonSlot] = []
    paused = mentor.paused_at(now)
    kinds = modes.offered_kinds(prog, mentor)
    can_request = person.is_mentee and mentor.id != person.id and not paused
    if mentor.id != person.id:
        free = this_week_counts(session, prog, [mentor], person, zone_of(person), now)[mentor.id]
        if can_request and kinds and not prog.admin_routed:  # each links into the request's picker
            soon = soon_slots(session, prog, mentor, person, now)
    return render_template("web/mentor.html", me=person, mentor=mentor, free=free, soon=soon, program=prog,
                           paused=paused, kinds=kinds, can_request=can_request,
                           can_message=direct_messages.may_write(session, prog, person, mentor))
