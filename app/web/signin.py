"""Sign in and out with email and password (the session cookie the API also uses)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from app.auth import authenticate, current_person, login, logout
from app.db import db
from app.signin_limits import signin_limited
from app.web import bp
from app.web.common import FormErrors, safe_next
from scheduling.identity_providers import password_signin_allowed


def landing_for(roles: list[str]) -> str:
    """Where a person starts: mentees at their recommendations, mentors at their requests."""
    if "mentee" in roles:
        return url_for("web.home")
    if "mentor" in roles:
        return url_for("web.requests_list")
    if "admin" in roles and "admin.index" in _endpoints():
        return url_for("admin.index")
    return url_for("web.meetings_list")


def _endpoints() -> set[str]:
    from flask import current_app

    return set(current_app.view_functions)


@bp.get("/")
def index() -> Any:
    person = current_person()
    if person is None:
        return redirect(url_for("web.signin"))
    return redirect(landing_for(person.roles))


@bp.route("/signin", methods=["GET", "POST"])
@signin_limited
def signin() -> Any:
    errors = FormErrors()
    email = ""
    next_url = safe_next(request.values.get("next"))
    if request.method == "POST":
        email = (request.form.get("email") or "").strip()
        password = request.form.get("password") or ""
        if not email:
            errors["email"] = "Enter your email address."
        sso = _sso_route(email, next_url)
        if sso is not None:
            return sso
        if not password_signin_allowed(db()):
            errors["form"] = "This program signs people in through their organization only."
            return render_template("web/signin.html", errors=errors, email=email, next_url=next_url), 403
        if not password:
            errors["password"] = "Enter your password."
        if not errors:
            person = authenticate(email, password)
            if person is None:
                errors["form"] = "That email and password do not match an active account."
            else:
                login(person)
                flash(f"Signed in as {person.name}.", "info")
                return redirect(next_url or landing_for(person.roles))
    status = 422 if errors else 200
    return render_template("web/signin.html", errors=errors, email=email, next_url=next_url), status


def _sso_route(email: str, next_url: str | None) -> Any:
    """An address whose domain signs in through an identity provider goes there, password or not."""
    from app.sso.signin import sso_redirect

    return sso_redirect(email, next_url) if "@" in email else None


@bp.post("/signout")
def signout() -> Any:
    from app.sso.signin import provider_logout_url

    at_provider = provider_logout_url()  # RP-initiated logout, when the person came through SSO
    logout()
    flash("Signed out.", "info")
    return redirect(at_provider or url_for("web.signin"))
