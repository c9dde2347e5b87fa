"""A mentor's "taking requests" page: pause until a date, their own monthly cap, and (where the
program lets mentors choose) the mentoring they offer. The checks and the save are
``scheduling.services.mentoring``; a refused form shows every problem by its field and changes nothing."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import flash, redirect, render_template, request, url_for

from app.db import db
from app.web import bp
from app.web.common import FormErrors, me, program, signed_in, zone
from scheduling.db import utcnow
from scheduling.models import MentoringMode, Person
from scheduling.services import mentoring


def _form_values(person: Person) -> dict[str, Any]:
    paused = person.paused_until if person.paused_at(utcnow()) else None
    return {
        "paused_until": "" if paused is None else _local_day(person, paused).isoformat(),
        "monthly_cap": "" if person.monthly_meeting_cap is None else str(person.monthly_meeting_cap),
        "offers_one_time": person.offers_one_time,
        "offers_ongoing": person.offers_ongoing,
    }


def _local_day(person: Person, moment: Any) -> date:
    day: date = moment.astimezone(zone(person)).date()
    return day


def _read(form: Any) -> tuple[dict[str, Any], mentoring.MentoringSettings | None, FormErrors]:
    values = {
        "paused_until": (form.get("paused_until") or "").strip(),
        "monthly_cap": (form.get("monthly_cap") or "").strip(),
        "offers_one_time": form.get("offers_one_time") == "1",
        "offers_ongoing": form.get("offers_ongoing") == "1",
    }
    if form.get("action") == "resume":
        values["paused_until"] = ""
    errors = FormErrors()
    day: date | None = None
    cap: int | None = None
    if values["paused_until"]:
        try:
            day = date.fromisoformat(values["paused_until"])
        except ValueError:
            errors["paused_until"] = "Give a date (YYYY-MM-DD)."
    if values["monthly_cap"]:
        try:
            cap = int(values["monthly_cap"])
        except ValueError:
            errors["monthly_cap"] = "Give a whole number, or leave it empty for no cap."
    if errors:
        return values, None, errors
    settings = mentoring.MentoringSettings(day, cap, values["offers_one_time"], values["offers_ongoing"])
    return values, settings, errors


@bp.route("/mentoring", methods=["GET", "POST"])
@signed_in("mentor")
def mentoring_settings() -> Any:
    person = me()
    prog = program()
    values = _form_values(person)
    errors = FormErrors()
    if request.method == "POST":
        values, settings, errors = _read(request.form)
        if settings is not None:
            errors.update(mentoring.check(prog, person, settings, now=utcnow()))
        if settings is not None and not errors:
            mentoring.save(db(), prog, person, settings)
            flash("Saved: " + ("you are not taking requests until " + values["paused_until"]
                               if settings.paused_until else "you are taking requests") + ".", "info")
            return redirect(url_for("web.mentoring_settings"))
    paused = person.paused_at(utcnow())
    return render_template(
        "web/mentoring.html", me=person, values=values, errors=errors, paused=paused,
        choose_modes=prog.mentoring_mode == MentoringMode.MENTOR_CHOICE,
    ), 422 if errors else 200
