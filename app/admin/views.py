"""What every admin template may use: times shown in the signed-in admin's own zone."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app, request

from app.admin import bp
from app.auth import current_person


def viewer_zone() -> ZoneInfo:
    person = current_person()
    try:
        return ZoneInfo(person.time_zone if person is not None else "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_time(moment: datetime | None, fmt: str = "%a %d %b %Y %H:%M") -> str:
    """``moment`` (aware, UTC) as the viewer reads it, with the zone's abbreviation."""
    if moment is None:
        return "—"
    local = moment.astimezone(viewer_zone())
    return f"{local.strftime(fmt)} {local.tzname() or ''}".strip()


def age(delta: timedelta) -> str:
    """A short human age: '3 d 4 h', '5 h', '12 min'."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h"
    return f"{mins} min"


# (page, label, endpoint prefixes of the pages that belong to it, for aria-current)
NAV: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("admin.settings_page", "Settings", ("admin.settings",)),
    ("admin.people_page", "People", ("admin.people",)),
    ("admin.requests_page", "Pending requests", ("admin.requests",)),
    ("admin.failed_jobs_page", "Failed jobs", ("admin.failed_jobs",)),
    ("admin.routing_page", "Routing", ("admin.routing",)),
    ("admin.tenants_page", "Calendars", ("admin.tenants",)),
    ("sso_admin.identity_page", "Sign-in", ("sso_admin.",)),
    ("admin.skills_page", "Skills", ("admin.skills", "admin.roles")),
    ("admin.profile_fields_page", "Profile fields", ("admin.profile_fields",)),
    ("admin.surveys_page", "Surveys", ("admin.surveys",)),
    ("admin.recommendations_page", "Recommendations", ("admin.recommendations",)),
    ("admin.report_page", "Report", ("admin.report",)),
    ("admin.outbox_page", "Mail sent", ("admin.outbox",)),  # only with an outbox (app/admin/outbox.py)
)


def admin_nav() -> list[tuple[str, str, bool]]:
    """The admin pages this installation has, each with whether the current page is one of its own."""
    here = request.endpoint or ""
    outbox = bool(current_app.config.get("MAIL_OUTBOX_DIR"))
    return [(endpoint, label, here.startswith(prefixes))
            for endpoint, label, prefixes in NAV if endpoint in current_app.view_functions
            and (outbox or endpoint != "admin.outbox_page")]


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {"local_time": local_time, "age": age, "viewer_zone": viewer_zone, "admin_nav": admin_nav}
