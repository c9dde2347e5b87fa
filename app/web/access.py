"""Passwords by emailed one-time link (invitation, "forgot password") and the first-sign-in step.

Thin: each route calls :mod:`scheduling.services.access`. A used, retired or expired link
answers 410 with a page that says how to get a new one; "forgot password" answers the
same whether or not the address has an account.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from app import limiter
from app.auth import current_person, login
from app.db import db
from app.signin_limits import signin_limited
from app.web import bp
from app.web.common import FormErrors, safe_next
from app.web.profile import check_rows, posted_rows, skill_lists
from app.web.signin import landing_for
from scheduling.errors import DomainError
from scheduling.services import access
from scheduling.services.people import check_time_zone

FORGOT_LIMIT = "5/minute"
# Pages a person who still owes the first-sign-in profile may open.
_OPEN_DURING_WELCOME = {"web.welcome", "web.signout", "web.signin", "web.password_forgot", "web.password_set",
                        "static", "favicon"}


@bp.before_app_request
def _first_sign_in_step() -> Any:
    """Someone who accepted an invitation fills in the profile before anything else."""
    if request.endpoint in _OPEN_DURING_WELCOME or request.blueprint not in ("web", None):
        return None
    person = current_person()
    if person is not None and person.needs_profile and request.method == "GET":
        return redirect(url_for("web.welcome", next=safe_next(request.full_path.rstrip("?"))))
    return None


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(FORGOT_LIMIT, methods=["POST"],
               error_message="Too many requests; wait a minute and try again.")
@signin_limited
def password_forgot() -> Any:
    errors = FormErrors()
    email = ""
    if request.method == "POST":
        email = (request.form.get("email") or "").strip()
        try:
            access.request_reset(db(), email)
        except DomainError as exc:
            errors["email"] = exc.message
        else:
            return render_template("web/password_forgot.html", sent=True, errors=errors, email=email)
    return render_template("web/password_forgot.html", sent=False, errors=errors, email=email), \
        422 if errors else 200


def _invalid(exc: access.LinkInvalid) -> Any:
    return render_template("web/link_invalid.html", message=exc.message), 410


@bp.route("/password/set/<token>", methods=["GET", "POST"])
def password_set(token: str) -> Any:
    try:
        link = access.open_link(db(), token)
    except access.LinkInvalid as exc:
        return _invalid(exc)
    errors = FormErrors()
    if request.method == "POST":
        try:
            person = access.set_password(db(), token, request.form.get("password") or "",
                                         request.form.get("confirm") or "")
        except access.LinkInvalid as exc:
            return _invalid(exc)
        except DomainError as exc:
            errors.add(exc)
        else:
            login(person)
            flash("Your password is set.", "info")
            return redirect(url_for("web.welcome") if person.needs_profile else landing_for(person.roles))
    return render_template("web/password_set.html", link=link, errors=errors), 422 if errors else 200


@bp.route("/welcome", methods=["GET", "POST"])
def welcome() -> Any:
    person = current_person()
    next_url = safe_next(request.values.get("next"))
    if person is None:
        return redirect(url_for("web.signin", next=url_for("web.welcome", next=next_url)))
    if not person.needs_profile:
        return redirect(next_url or landing_for(person.roles))
    errors = FormErrors()
    values = {"time_zone": person.time_zone if person.time_zone != "UTC" else ""}
    rows = posted_rows() if request.method == "POST" else {"wants": [], "offers": []}
    if request.method == "POST":
        values["time_zone"] = (request.form.get("time_zone") or "").strip()
        try:
            zone = check_time_zone(values["time_zone"])
        except DomainError as exc:
            errors.add(exc)
        wants = check_rows("wants", rows.get("wants", []), errors)
        offers = check_rows("offers", rows.get("offers", []), errors) if person.is_mentor else None
        if not errors:
            lists, field_map = skill_lists(person, wants, offers)
            try:
                access.finish_profile(db(), person, {"time_zone": zone}, lists)
            except DomainError as exc:
                errors.add(exc, field_map)
            else:
                flash("Welcome! Here is where to start.", "info")
                return redirect(next_url or landing_for(person.roles))
    return render_template("web/welcome.html", person=person, values=values, rows=rows, errors=errors,
                           next_url=next_url), \
        422 if errors else 200
