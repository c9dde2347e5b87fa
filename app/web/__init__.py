"""Server-rendered pages for mentees and mentors (sign-in, directory, requests, meetings).

One module per page group; each registers its routes on ``bp``. The helpers here
make the signed-in person and viewer-zone time formatting available to every
template (admin pages included, since they share ``_nav.html``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, current_app

from app.auth import current_person

bp = Blueprint("web", __name__)


@bp.app_context_processor
def _template_helpers() -> dict[str, Any]:
    def has_endpoint(name: str) -> bool:
        return name in current_app.view_functions

    return {"current_user": current_person, "has_endpoint": has_endpoint}


@bp.app_template_filter("when")
def _when(moment: datetime | None, viewer: Any = None) -> str:
    from app.web.common import when

    viewer = viewer or current_person()
    return when(moment, viewer) if viewer is not None and moment is not None else ""


@bp.app_template_filter("span")
def _span(start: datetime, end: datetime, viewer: Any = None) -> str:
    from app.web.common import span

    viewer = viewer or current_person()
    return span(start, end, viewer) if viewer is not None else ""


from app.web import (  # noqa: E402,F401
    access,
    availability,
    booking,
    calendar,
    conversations,
    direct_messages,
    directory,
    meetings,
    mentoring,
    notifications,
    oauth,
    offers,
    plans,
    profile,
    referrals,
    requests,
    routing,
    signin,
    surveys,
    team,
)
