"""Server-rendered pages for program admins (settings, people, requests, tenants, surveys, report).

Every route here is for admins only: the blueprint checks the role once, before any
view runs, with the same :func:`app.auth.roles_required` the API uses, so a route
added later cannot forget it. Routes stay thin: they parse a form, call a
``scheduling`` service and render the outcome.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, redirect, request, url_for

from app.auth import current_person, roles_required

bp = Blueprint("admin", __name__, url_prefix="/admin")


@roles_required("admin")
def _admins_only() -> None:
    return None


@bp.before_request
def _guard() -> Any:
    if current_person() is None and request.method == "GET" and "web.signin" in current_app.view_functions:
        return redirect(url_for("web.signin", next=request.full_path.rstrip("?")))
    return _admins_only()


from app.admin import (  # noqa: E402,F401
    invitations,
    outbox,
    people,
    profile_fields,
    recommendations,
    report,
    requests,
    routing,
    settings,
    skills,
    surveys,
    tenants,
    views,
)
