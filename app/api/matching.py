"""Finding the right mentor: match scores, recommendations, the competency model, gaps, routing.

A mentee sees their own matches and recommendations; an admin may look at anyone's
(``mentee_id``) and pushes recommendations. Competency gaps are shown to the person,
their manager and admins. Routing (a ranked list of preferred mentors for an admin to
assign) is open only in programs with ``admin_routed`` on.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify

from app.api import bp, json_body
from app.api.params import as_int, as_str, fits_id, query_enum, query_int, required
from app.api.requests import parse_times, request_view
from app.auth import require_person, roles_required
from app.db import db
from scheduling.db import get_row
from scheduling.errors import Forbidden, ImportFailed, NotFound, ValidationFailed
from scheduling.matching import match_view, rank_mentors, recommendations_for
from scheduling.models import Person, RoutingState
from scheduling.services import competencies, recommendations, routing
from scheduling.services.program import get_program

MAX_LIMIT = 100


def _subject(viewer: Person) -> Person:
    """Whose matches: the viewer's own, or (admins only) ``mentee_id``'s."""
    mentee_id = query_int("mentee_id")
    if mentee_id is None or mentee_id == viewer.id:
        if not viewer.is_mentee:
            raise Forbidden("Matches are for mentees; admins pass mentee_id.", "mentee_id")
        return viewer
    if not viewer.is_admin:
        raise Forbidden("Only admins see another person's matches.", "mentee_id")
    person = get_row(db(), Person, mentee_id)
    if person is None or not person.active:
        raise NotFound("No such person.", "mentee_id")
    return person


def _limit(name: str, default: int) -> int:
    value = query_int(name)
    if value is None:
        return default
    if not 1 <= value <= MAX_LIMIT:
        raise ValidationFailed(f"{name} must be from 1 to {MAX_LIMIT}.", name)
    return value


@bp.get("/matches")
def matches() -> Any:
    """Mentors ranked for the mentee, each with its score, reasons and shared free slots."""
    viewer = require_person()
    mentee = _subject(viewer)
    session = db()
    found = rank_mentors(session, get_program(session), mentee, limit=_limit("limit", 20))
    return {"mentee_id": mentee.id, "matches": [match_view(m) for m in found]}


@bp.get("/recommendations")
def recommendations_get() -> Any:
    """Admin-pushed mentors first, then the best matches (``n``, default 5)."""
    viewer = require_person()
    mentee = _subject(viewer)
    session = db()
    found = recommendations_for(session, get_program(session), mentee, n=_limit("n", 5))
    return {"mentee_id": mentee.id, "recommendations": [match_view(m) for m in found]}


@bp.get("/recommendations/pushed")
@roles_required("admin")
def recommendations_pushed() -> Any:
    session = db()
    program = get_program(session)
    rows = recommendations.list_recommendations(session, program, mentee_id=query_int("mentee_id"))
    return {"recommendations": [recommendations.recommendation_view(r) for r in rows]}


def _ids(body: dict[str, Any], field: str) -> list[int]:
    value = body.get(field)
    if not isinstance(value, list):
        raise ValidationFailed(f"{field} must be a list of person ids.", field)
    return [as_int(v, f"{field}[{i}]") for i, v in enumerate(value)]


def _import_failed(exc: ImportFailed) -> Any:
    return jsonify({"error": {**exc.as_dict(), "errors": [
        {"row": row, "field": field, "message": message} for row, field, message in exc.errors
    ]}}), exc.status


@bp.post("/recommendations")
@roles_required("admin")
def recommendations_push() -> Any:
    """Push chosen mentors to chosen mentees: ``{"mentee_ids": [...], "mentor_ids": [...], "note"}``
    (every mentor to every mentee), ``{"pairs": [{"mentee_id", "mentor_id"}]}``, or ``{"csv": "..."}``
    with rows ``mentee_email,mentor_email[,note]``."""
    admin = require_person()
    body = json_body()
    session = db()
    program = get_program(session)
    try:
        if "csv" in body:
            rows = recommendations.push_csv(session, program, admin, as_str(body["csv"], "csv"))
        elif "pairs" in body:
            pairs = body["pairs"]
            if not isinstance(pairs, list) or not all(isinstance(p, dict) for p in pairs):
                raise ValidationFailed("pairs must be a list of {mentee_id, mentor_id}.", "pairs")
            rows = recommendations.push(
                session, program, admin,
                [(as_int(required(p, "mentee_id"), f"pairs[{i}].mentee_id"),
                  as_int(required(p, "mentor_id"), f"pairs[{i}].mentor_id")) for i, p in enumerate(pairs)],
                note=as_str(body.get("note"), "note"),
            )
        else:
            rows = recommendations.push_pick_list(
                session, program, admin, _ids(body, "mentee_ids"), _ids(body, "mentor_ids"),
                note=as_str(body.get("note"), "note"),
            )
    except ImportFailed as exc:
        session.rollback()
        return _import_failed(exc)
    return {"recommendations": [recommendations.recommendation_view(r) for r in rows]}, 201


@bp.delete("/recommendations/<int:recommendation_id>")
@roles_required("admin")
def recommendations_delete(recommendation_id: int) -> Any:
    session = db()
    if not fits_id(recommendation_id):
        raise NotFound("No such recommendation.")
    recommendations.remove(session, get_program(session), require_person(), recommendation_id)
    return "", 204


# ---------------------------------------------------------------- competencies and the catalogue


@bp.get("/competencies")
def competencies_get() -> Any:
    require_person()
    session = db()
    return {"roles": competencies.competency_model(session, get_program(session))}


@bp.put("/competencies")
@roles_required("admin")
def competencies_put() -> Any:
    """Replace the whole model: ``{"roles": {"Account Executive": [{"name", "level"}]}}``."""
    session = db()
    model = competencies.replace_model(session, get_program(session), required(json_body(), "roles"))
    return {"roles": model}


@bp.get("/people/<int:person_id>/gaps")
def person_gaps(person_id: int) -> Any:
    """A person's gaps against their role's targets: for them, their manager and admins."""
    viewer = require_person()
    person = get_row(db(), Person, person_id)
    if person is None or not competencies.can_view_gaps(viewer, person):
        raise NotFound("No such person.")
    session = db()
    gaps = competencies.visible_gaps(session, get_program(session), person, viewer)
    return {"person_id": person.id, "role": person.title, "gaps": [g.as_dict() for g in gaps]}


@bp.get("/skills")
def skills_catalogue() -> Any:
    require_person()
    return {"skills": competencies.catalogue(db())}


@bp.post("/skills")
@roles_required("admin")
def skills_add() -> Any:
    body = json_body()
    skill = competencies.add_skill(db(), required(body, "name"), category=body.get("category", ""))
    return {"skill": {"id": skill.id, "name": skill.name, "category": skill.category}}, 201


@bp.patch("/skills/<int:skill_id>")
@roles_required("admin")
def skills_edit(skill_id: int) -> Any:
    body = json_body()
    session = db()
    skill = competencies.get_skill(session, skill_id)
    if "category" in body:
        competencies.set_category(session, skill, body["category"])
    for alias in body.get("add_aliases") or []:
        competencies.add_alias(session, skill, alias)
    return {"skill": {"id": skill.id, "name": skill.name, "category": skill.category,
                      "aliases": sorted(a.key for a in skill.aliases)}}


# ---------------------------------------------------------------- admin routing


@bp.post("/routing")
@roles_required("mentee")
def routing_submit() -> Any:
    """``{"mentor_ids": [first choice, ...], "topic", "description"}``."""
    me = require_person()
    body = json_body()
    session = db()
    found = routing.submit_preferences(
        session, get_program(session), me, _ids(body, "mentor_ids"),
        topic=as_str(body.get("topic"), "topic"), description=as_str(body.get("description"), "description"),
    )
    return {"routing": routing.routing_view(found)}, 201


@bp.get("/routing")
def routing_list() -> Any:
    """An admin's queue (``state=open`` to see what waits), or a mentee's own."""
    me = require_person()
    session = db()
    rows = routing.routings(session, get_program(session), me, state=query_enum(RoutingState, "state"))
    return {"routing": [routing.routing_view(r) for r in rows]}


@bp.get("/routing/<int:routing_id>")
def routing_get(routing_id: int) -> Any:
    return {"routing": routing.routing_view(routing.get_routing(db(), routing_id, require_person()))}


@bp.post("/routing/<int:routing_id>/assign")
@roles_required("admin")
def routing_assign(routing_id: int) -> Any:
    """``{"mentor_id", "times": [{start, end}]?}``; without times, the first shared free slots."""
    admin = require_person()
    body = json_body()
    session = db()
    found = routing.get_routing(session, routing_id, admin)
    times = parse_times(body["times"]) if body.get("times") is not None else None
    req = routing.assign(session, found, admin, as_int(required(body, "mentor_id"), "mentor_id"), times=times)
    return {"routing": routing.routing_view(found), "request": request_view(req, admin)}, 201


@bp.post("/routing/<int:routing_id>/withdraw")
def routing_withdraw(routing_id: int) -> Any:
    me = require_person()
    json_body()
    session = db()
    found = routing.withdraw_preferences(session, routing.get_routing(session, routing_id, me), me)
    return {"routing": routing.routing_view(found)}
