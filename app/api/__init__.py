"""The JSON API under /api/v1. Route modules register themselves on ``bp``."""

from __future__ import annotations

from flask import Blueprint, abort, request

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.before_request
def _json_only_writes() -> None:
    # Cookie-authenticated JSON API: requiring a JSON body on writes means a
    # cross-site form post (which cannot set this content type) never gets in.
    if request.method in {"POST", "PUT", "PATCH", "DELETE"} and not request.is_json:
        if request.method == "DELETE" and not request.content_length:
            return
        abort(415, description="Send a JSON body with Content-Type: application/json.")


def json_body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400, description="The body must be a JSON object.")
    return data


from app.api import (  # noqa: E402,F401
    auth,
    availability,
    conversations,
    direct_messages,
    health,
    jobs,
    matching,
    meetings,
    openapi,
    people,
    profile,
    profile_fields,
    program,
    reports,
    requests,
    surveys,
    tenants,
    work,
)
