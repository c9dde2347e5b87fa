"""Admin-routed programs: the mentee sends a ranked list of preferred mentors to the admins.

Where ``program.admin_routed`` is on, "Request meeting" on a mentor leads here
instead of to booking (see ``app.web.booking``): the mentee ranks up to
``MAX_CHOICES`` mentors with a topic, an admin assigns one (``app.admin.routing``),
and that mentor is asked as usual. The mentee follows the state on the page of the
preferences and may withdraw them while no admin has decided. All rules are
``scheduling.services.routing``'s; a refused form shows the message by its field.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select

from app.db import db
from app.web import bp
from app.web.common import FormErrors, failed, me, program, signed_in
from app.web.requests import ROUTING_STATE_LABELS
from scheduling.errors import AdminRoutingOff, DomainError, ValidationFailed
from scheduling.models import Person, Program, RoutingRequest
from scheduling.services import routing as svc

MENTOR_OPTIONS = 1000
RANK_LABELS = ["First choice", "Second choice", "Third choice", "Fourth choice", "Fifth choice"]


def routed_program() -> Program:
    """The program, if it routes requests through admins; else the domain's refusal (403)."""
    prog = program()
    if not prog.admin_routed:
        raise AdminRoutingOff("This program does not route requests through admins; ask a mentor directly.")
    return prog


def _mentor_options(viewer: Person) -> list[tuple[str, str]]:
    rows = db().scalars(select(Person).where(Person.active, Person.is_mentor, Person.id != viewer.id)
                        .order_by(Person.name, Person.id).limit(MENTOR_OPTIONS))
    return [(str(p.id), " · ".join(x for x in (p.name, p.title, p.department) if x)) for p in rows]


@bp.route("/routing/new", methods=["GET", "POST"])
@signed_in("mentee")
def routing_new() -> Any:
    person = me()
    prog = routed_program()
    errors = FormErrors()
    status = 200
    ranks = range(1, svc.MAX_CHOICES + 1)
    if request.method == "POST":
        form = {k: (request.form.get(k) or "").strip() for k in ("topic", "description")}
        form |= {f"choice{i}": (request.form.get(f"choice{i}") or "").strip() for i in ranks}
        filled = [i for i in ranks if form[f"choice{i}"]]
        try:
            for i in filled:
                if not form[f"choice{i}"].isdigit() or len(form[f"choice{i}"]) > 9:
                    raise ValidationFailed("Choose a mentor from the list.", f"choice{i}")
            found = svc.submit_preferences(db(), prog, person, [int(form[f"choice{i}"]) for i in filled],
                                           topic=form["topic"], description=form["description"])
        except DomainError as exc:
            failed(exc)
            status = exc.status if 400 <= exc.status < 500 else 422
            name = exc.field or ""
            if name.startswith("mentor_ids["):  # the select the person used for that rank
                exc.field = f"choice{filled[int(name[len('mentor_ids['):].split(']')[0])]}"
            errors.add(exc, {"mentor_ids": "choices", "mentee_id": "form"})
        else:
            flash("Your preferences were sent to the program admins. "
                  "They assign a mentor, who is then asked.", "info")
            return redirect(url_for("web.routing_detail", routing_id=found.id))
    else:
        first = request.args.get("mentor_id") or ""
        form = {"topic": "", "description": "", **{f"choice{i}": "" for i in ranks}, "choice1": first}
    return render_template("web/routing_form.html", me=person, form=form, errors=errors, ranks=ranks,
                           rank_labels=RANK_LABELS, mentors=_mentor_options(person),
                           ), status


@bp.get("/routing/<int:routing_id>")
@signed_in()
def routing_detail(routing_id: int) -> Any:
    person = me()
    return _show(svc.get_routing(db(), routing_id, person), person)


def _show(found: RoutingRequest, person: Person, error: str = "", status: int = 200) -> Any:
    assigned = db().get(Person, found.assigned_mentor_id) if found.assigned_mentor_id else None
    return render_template("web/routing.html", me=person, routing=found, states=ROUTING_STATE_LABELS,
                           assigned=assigned, error=error), status


@bp.post("/routing/<int:routing_id>/withdraw")
@signed_in()
def routing_withdraw(routing_id: int) -> Any:
    person = me()
    found = svc.get_routing(db(), routing_id, person)
    try:
        svc.withdraw_preferences(db(), found, person)
    except DomainError as exc:
        failed(exc)
        return _show(svc.get_routing(db(), routing_id, person), person, exc.message,
                     exc.status if 400 <= exc.status < 500 else 422)
    flash("Preferences withdrawn.", "info")
    return redirect(url_for("web.routing_detail", routing_id=found.id))
