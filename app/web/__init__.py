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

    return {"current_user": current_person, "has_endpoint": has_endpoint, "terms": program_terms}


def program_terms() -> Any:
    """What the program calls mentees and mentors (:mod:`scheduling.terms`), once per request."""
    from flask import g

    from scheduling.terms import DEFAULT, terms_of

    if "program_terms" not in g:
        try:
            from app.db import db
            from scheduling.services.program import get_program

            g.program_terms = terms_of(get_program(db()))
        except Exception:  # no program yet, or an error page while the database is away: the defaults
            g.program_terms = DEFAULT
    return g.program_terms


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
    agenda,
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
