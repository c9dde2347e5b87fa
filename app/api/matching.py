"""Finding the right mentor: match scores, recommendations, the competency model, gaps, routing.

A mentee sees their own matches and recommendations; an admin may look at anyone's
(``mentee_id``) and pushes recommendations. Where the program hides the mentor directory, a
mentee's matches and recommendations stay within the mentors recommended to her
(``scheduling.mentor_visibility``); an admin's view is whole. Competency gaps are shown to the person,
their manager and admins. Routing (a ranked list of preferred mentors for an admin to
assign) is open only in programs with ``admin_routed`` on.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify

from app.api import bp
from app.api.fields import AnyObject, Given, Id, Input, Text, between, one_of
from app.api.inputs import NoFields, TimeIn, time_pairs
from app.api.operations import operation
from app.api.params import fits_id
from app.api.profile_fields import FieldFiltered, field_filters
from app.api.requests import request_view
from app.api.responses import Out, Request, wrapped
from app.auth import require_person, roles_required
from app.db import db
from scheduling.db import get_row
from scheduling.errors import Forbidden, ImportFailed, NotFound, ValidationFailed
from scheduling.matching import match_view
from scheduling.mentor_visibility import ranked_for, recommended_for
from scheduling.models import Person, RoutingState
from scheduling.services import competencies, recommendations, routing
from scheduling.services.profile_fields import only_answering
from scheduling.services.program import get_program

MAX_LIMIT = 100
Limit = between(1, MAX_LIMIT, f"{{field}} must be from 1 to {MAX_LIMIT}.")


class MenteeQuery(Input):
    mentee_id: Id | None = None


class MatchQuery(MenteeQuery, FieldFiltered):
    """``field[<id>]=<answer>``: only mentors whose answers match, as in the directory."""

    limit: Limit = 20  # type: ignore[valid-type]


class RecommendationQuery(MenteeQuery):
    n: Limit = 5  # type: ignore[valid-type]


class PairIn(Input):
    mentee_id: Id
    mentor_id: Id


class PushIn(Input):
    """One of: ``csv``; ``pairs``; or ``mentee_ids`` with ``mentor_ids`` (every mentor to every mentee)."""

    csv: Text | None = None
    pairs: list[PairIn] | None = None
    mentee_ids: list[Id] | None = None
    mentor_ids: list[Id] | None = None
    note: Text = ""


class CompetenciesIn(Input):
    roles: Given


class SkillIn(Input):
    name: Given
    category: Any = ""


class SkillEdit(Input):
    category: Any = None
    add_aliases: list[Any] | None = None


class RoutingIn(Input):
    mentor_ids: list[Id]
    topic: Text = ""
    description: Text = ""


class RoutingQuery(Input):
    state: one_of(RoutingState) | None = None  # type: ignore[valid-type]


class AssignIn(Input):
    mentor_id: Id
    times: list[TimeIn] | None = None


class Matches(Out):
    mentee_id: int
    matches: list[dict[str, Any]]


class Recommendations(Out):
    mentee_id: int
    recommendations: list[dict[str, Any]]


class Gaps(Out):
    person_id: int
    role: str | None
    gaps: list[dict[str, Any]]


PushedList = wrapped("PushedRecommendations", "recommendations", list[dict[str, Any]])
Competencies = wrapped("Competencies", "roles", AnyObject)
Skills = wrapped("Skills", "skills", list[Any])
SkillOut = wrapped("SkillAnswer", "skill")
RoutingOut = wrapped("RoutingAnswer", "routing")
RoutingList = wrapped("RoutingList", "routing", list[dict[str, Any]])


class Assigned(Out):
    routing: dict[str, Any]
    request: Request


def _subject(viewer: Person, mentee_id: int | None) -> Person:
    """Whose matches: the viewer's own, or (admins only) ``mentee_id``'s."""
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


@bp.get("/matches")
@operation("Mentors ranked for the mentee (admins: mentee_id), with score, reasons and shared slots; "
           "field[<id>]=<answer> keeps the mentors whose profile fields match.", ok=Matches, query=MatchQuery)
def matches(query: MatchQuery) -> Any:
    """Mentors ranked for the mentee, each with its score, reasons and shared free slots."""
    viewer = require_person()
    mentee = _subject(viewer, query.mentee_id)
    session = db()
    only = only_answering(session, field_filters(session, query), None)
    # A hidden directory: only the mentors recommended to her, as in the people list.
    found = ranked_for(session, get_program(session), mentee, viewer, limit=query.limit, only=only)
    return {"mentee_id": mentee.id, "matches": [match_view(m) for m in found]}


@bp.get("/recommendations")
@operation("Admin-pushed mentors first, then the best matches.", ok=Recommendations,
           query=RecommendationQuery)
def recommendations_get(query: RecommendationQuery) -> Any:
    """Admin-pushed mentors first, then the best matches (``n``, default 5)."""
    viewer = require_person()
    mentee = _subject(viewer, query.mentee_id)
    session = db()
    found = recommended_for(session, get_program(session), mentee, viewer, n=query.n)
    return {"mentee_id": mentee.id, "recommendations": [match_view(m) for m in found]}


@bp.get("/recommendations/pushed")
@roles_required("admin")
@operation("The recommendations admins pushed.", ok=PushedList, query=MenteeQuery)
def recommendations_pushed(query: MenteeQuery) -> Any:
    session = db()
    program = get_program(session)
    rows = recommendations.list_recommendations(session, program, mentee_id=query.mentee_id)
    return {"recommendations": [recommendations.recommendation_view(r) for r in rows]}


def _import_failed(exc: ImportFailed) -> Any:
    return jsonify({"error": {**exc.as_dict(), "errors": [
        {"row": row, "field": field, "message": message} for row, field, message in exc.errors
    ]}}), exc.status


@bp.post("/recommendations")
@roles_required("admin")
@operation("Push mentors to mentees.", ok={201: PushedList}, body=PushIn)
def recommendations_push(body: PushIn) -> Any:
    """Push chosen mentors to chosen mentees: ``{"mentee_ids": [...], "mentor_ids": [...], "note"}``
    (every mentor to every mentee), ``{"pairs": [{"mentee_id", "mentor_id"}]}``, or ``{"csv": "..."}``
    with rows ``mentee_email,mentor_email[,note]``."""
    admin = require_person()
    session = db()
    program = get_program(session)
    try:
        if "csv" in body.model_fields_set:
            rows = recommendations.push_csv(session, program, admin, body.csv or "")
        elif body.pairs is not None:
            rows = recommendations.push(session, program, admin,
                                        [(p.mentee_id, p.mentor_id) for p in body.pairs], note=body.note)
        else:
            for name in ("mentee_ids", "mentor_ids"):
                if getattr(body, name) is None:
                    raise ValidationFailed(f"{name} must be a list of person ids.", name)
            rows = recommendations.push_pick_list(
                session, program, admin, body.mentee_ids or [], body.mentor_ids or [], note=body.note,
            )
    except ImportFailed as exc:
        session.rollback()
        return _import_failed(exc)
    return {"recommendations": [recommendations.recommendation_view(r) for r in rows]}, 201


@bp.delete("/recommendations/<int:recommendation_id>")
@roles_required("admin")
@operation("Take back a pushed recommendation.", ok={204: None})
def recommendations_delete(recommendation_id: int) -> Any:
    session = db()
    if not fits_id(recommendation_id):
        raise NotFound("No such recommendation.")
    recommendations.remove(session, get_program(session), require_person(), recommendation_id)
    return "", 204


# ---------------------------------------------------------------- competencies and the catalogue


@bp.get("/competencies")
@operation("The competency model: target skills per role.", ok=Competencies)
def competencies_get() -> Any:
    require_person()
    session = db()
    return {"roles": competencies.competency_model(session, get_program(session))}


@bp.put("/competencies")
@roles_required("admin")
@operation("Replace the competency model.", ok=Competencies, body=CompetenciesIn)
def competencies_put(body: CompetenciesIn) -> Any:
    """Replace the whole model: ``{"roles": {"Account Executive": [{"name", "level"}]}}``."""
    session = db()
    model = competencies.replace_model(session, get_program(session), body.roles)
    return {"roles": model}


@bp.get("/people/<int:person_id>/gaps")
@operation("A person's gaps against their role's targets.", ok=Gaps)
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
@operation("The skill catalogue.", ok=Skills)
def skills_catalogue() -> Any:
    require_person()
    return {"skills": competencies.catalogue(db())}


@bp.post("/skills")
@roles_required("admin")
@operation("Add a skill to the catalogue.", ok={201: SkillOut}, body=SkillIn)
def skills_add(body: SkillIn) -> Any:
    skill = competencies.add_skill(db(), body.name, category=body.category)
    return {"skill": {"id": skill.id, "name": skill.name, "category": skill.category}}, 201


@bp.patch("/skills/<int:skill_id>")
@roles_required("admin")
@operation("Change a skill's category, add aliases.", ok=SkillOut, body=SkillEdit)
def skills_edit(skill_id: int, body: SkillEdit) -> Any:
    session = db()
    skill = competencies.get_skill(session, skill_id)
    if "category" in body.model_fields_set:
        competencies.set_category(session, skill, body.category)
    for alias in body.add_aliases or []:
        competencies.add_alias(session, skill, alias)
    return {"skill": {"id": skill.id, "name": skill.name, "category": skill.category,
                      "aliases": sorted(a.key for a in skill.aliases)}}


# ---------------------------------------------------------------- admin routing


@bp.post("/routing")
@roles_required("mentee")
@operation("Ask an admin to assign one of my preferred mentors.", ok={201: RoutingOut}, body=RoutingIn)
def routing_submit(body: RoutingIn) -> Any:
    """``{"mentor_ids": [first choice, ...], "topic", "description"}``."""
    me = require_person()
    session = db()
    found = routing.submit_preferences(
        session, get_program(session), me, body.mentor_ids, topic=body.topic, description=body.description,
    )
    return {"routing": routing.routing_view(found)}, 201


@bp.get("/routing")
@operation("An admin's routing queue, or a mentee's own.", ok=RoutingList, query=RoutingQuery)
def routing_list(query: RoutingQuery) -> Any:
    """An admin's queue (``state=open`` to see what waits), or a mentee's own."""
    me = require_person()
    session = db()
    rows = routing.routings(session, get_program(session), me, state=query.state)
    return {"routing": [routing.routing_view(r) for r in rows]}


@bp.get("/routing/<int:routing_id>")
@operation("One routing request.", ok=RoutingOut)
def routing_get(routing_id: int) -> Any:
    return {"routing": routing.routing_view(routing.get_routing(db(), routing_id, require_person()))}


@bp.post("/routing/<int:routing_id>/assign")
@roles_required("admin")
@operation("Assign a mentor (times optional: else the first shared free slots).", ok={201: Assigned},
           body=AssignIn)
def routing_assign(routing_id: int, body: AssignIn) -> Any:
    """``{"mentor_id", "times": [{start, end}]?}``; without times, the first shared free slots."""
    admin = require_person()
    session = db()
    found = routing.get_routing(session, routing_id, admin)
    req = routing.assign(session, found, admin, body.mentor_id, times=time_pairs(body.times))
    return {"routing": routing.routing_view(found), "request": request_view(req, admin)}, 201


@bp.post("/routing/<int:routing_id>/withdraw")
@operation("Withdraw my routing request.", ok=RoutingOut, body=NoFields)
def routing_withdraw(routing_id: int, body: NoFields) -> Any:
    me = require_person()
    session = db()
    found = routing.withdraw_preferences(session, routing.get_routing(session, routing_id, me), me)
    return {"routing": routing.routing_view(found)}
