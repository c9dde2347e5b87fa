"""Admin routing: the mentees' ranked preferences waiting for an admin, and "assign".

Assigning calls :func:`scheduling.services.routing.assign`, which makes an ordinary
pending request to the chosen mentor at the first times the two share (every
program rule applies); the mentor then answers it as usual. Each ranked mentor
shows how many free times they share with the mentee in the next two weeks, so an
admin sees before clicking whom an assignment can reach. A refused assignment is
shown on its row, and nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import flash, render_template, request

from app.admin import bp
from app.admin.forms import back_to
from app.auth import require_person
from app.db import db
from scheduling.availability import shared_slot_counts
from scheduling.errors import DomainError
from scheduling.models import Person, Program, RoutingRequest, RoutingState
from scheduling.services import routing as svc
from scheduling.services.program import get_program
from scheduling.services.validation import current_time

STATE_CHOICES = ("open", "assigned", "withdrawn", "any")


@dataclass(frozen=True)
class Row:
    routing: RoutingRequest
    free: dict[int, int]  # shared free times per ranked mentor (open rows only)
    assigned: Person | None


def _rows(program: Program, admin: Person, state: str) -> list[Row]:
    session = db()
    wanted = None if state == "any" else RoutingState(state)
    now = current_time(None)
    rows = []
    for r in svc.routings(session, program, admin, state=wanted):
        free: dict[int, int] = {}
        if r.state == RoutingState.OPEN:
            free = shared_slot_counts(session, program, [c.mentor for c in r.choices], r.mentee, now,
                                      now + timedelta(days=svc.SEARCH_DAYS), now=now)
        assigned = session.get(Person, r.assigned_mentor_id) if r.assigned_mentor_id else None
        rows.append(Row(r, free, assigned))
    return rows


def _render(state: str, *, errors: dict[int, str] | None = None, chosen: dict[int, str] | None = None,
            problem: str = "", status: int = 200) -> Any:
    session = db()
    program = get_program(session)
    rows = _rows(program, require_person(), state)
    listed = {row.routing.id for row in rows}
    errors = dict(errors or {})
    for routing_id in [k for k in errors if k not in listed]:  # e.g. no longer open: say it at the top
        problem = f"#{routing_id}: {errors.pop(routing_id)}"
    return render_template(
        "admin/routing.html", rows=rows, state=state,
        states=STATE_CHOICES, program=program, errors=errors, chosen=chosen or {}, problem=problem,
        search_days=svc.SEARCH_DAYS, default_times=svc.DEFAULT_TIMES,
    ), status


@bp.get("/routing")
def routing_page() -> Any:
    state = request.args.get("state") or "open"
    if state not in STATE_CHOICES:
        return _render("open", problem=f"Unknown state {state!r}.", status=422)
    return _render(state)


@bp.post("/routing/<int:routing_id>/assign")
def routing_assign(routing_id: int) -> Any:
    admin = require_person()
    session = db()
    found = svc.get_routing(session, routing_id, admin)
    raw = (request.form.get("mentor_id") or "").strip()
    state = request.form.get("state") or "open"
    state = state if state in STATE_CHOICES else "open"
    if not raw.isdigit() or len(raw) > 9:
        return _render(state, errors={found.id: "Choose one of the ranked mentors."}, status=422)
    try:
        req = svc.assign(session, found, admin, int(raw))
    except DomainError as exc:
        session.rollback()
        return _render(state, errors={routing_id: exc.message}, chosen={routing_id: raw},
                       status=exc.status if 400 <= exc.status < 500 else 422)
    flash(f"{req.mentor.name} assigned to {req.mentee.name}; {req.mentor.name} is asked as usual.", "success")
    return back_to("admin.routing_page", state=state)
