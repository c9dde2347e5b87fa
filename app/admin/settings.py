"""Program settings: one form with every setting, judged by ``scheduling.services.program``.

The form is built from the service's own list of settings (:data:`SETTINGS`), with
the input kind read off the Program column, so a setting another part registers
later appears here without a change. Each field is checked by the service's own
checker so that all problems show at once, next to their fields; the whole change
then goes through :func:`update_settings` (which also checks settings against each
other). Nothing is saved unless everything passes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from flask import flash, render_template, request
from sqlalchemy import Boolean, Enum, Integer

from app.admin import bp
from app.admin.forms import FieldErrors, back_to
from app.db import db
from app.form_values import as_int_or_text
from scheduling.errors import DomainError
from scheduling.models import Program
from scheduling.services.program import SETTINGS, get_program, settings_values, update_settings

LABELS: dict[str, tuple[str, str]] = {
    "name": ("Program name", ""),
    "description": ("Description", "Shown to participants on their home page."),
    "mentoring_mode": ("Mentoring mode", "One-time (flash) meetings, ongoing mentoring, both, "
                                         "or let each mentor choose."),
    "availability_mode": ("Availability", "Mentors publish weekly slots, or describe their "
                                          "availability in words."),
    "slot_minutes": ("Meeting length (minutes)", ""),
    "buffer_minutes": ("Buffer between meetings (minutes)", ""),
    "lead_time_hours": ("Lead time (hours)", "How far ahead a meeting must be requested."),
    "mentors_may_create": ("Mentors may create meetings", "Mentors may ask a mentee for a meeting."),
    "remind_after_days": ("Remind mentor after (days)", "Empty: no reminder for pending requests."),
    "auto_close_after_days": ("Auto-close pending requests after (days)", "Empty: never."),
    "max_meetings_per_month": ("Max meetings per mentee per month", "Empty: no limit."),
    "max_meetings_per_year": ("Max meetings per mentee per year", "Empty: no limit."),
    "max_pending_requests": ("Max pending requests per mentee", "Empty: no limit."),
    "meeting_reminder_hours": ("Meeting reminder (hours before)", "Empty: no reminder."),
    "survey_delay_hours": ("Survey sent after the meeting (hours)", ""),
    "prefer_other_department": ("Prefer mentors from other departments", "Used in recommendations."),
    "directory_hidden": ("Hide the mentor directory", "Mentees see only their recommendations."),
    "admin_routed": ("Admins route requests", "Admins push recommended mentors to mentees."),
    "mentee_term": ("What a mentee is called", "One person, e.g. learner; shown in page headings, the "
                    "navigation and email greetings."),
    "mentor_term": ("What a mentor is called", "One person, e.g. guide."),
    "action_plan_reminder_days": ("Remind of the action plan after (days)", "Both sides get the plan they "
                                  "agreed on this many days after it was recorded. Empty: no reminder."),
    "video_links": ("Video links for video meetings", "A Google Meet or Teams meeting when the organizer's "
                    "calendar is Google or Microsoft 365, else the link below."),
    "video_url_template": ("Video link for other calendars", "For CalDAV or no calendar, e.g. "
                           "https://meet.example.org/{room} ({room}: a name per meeting; {meeting_id}: "
                           "its number). Empty: no link there."),
    "calendar_holds": ("Pending requests as holds in the mentor's calendar", "Each time a mentee proposes "
                       "goes into the mentor's calendar as a tentative invitation (Google and CalDAV "
                       "calendars); the mentor accepts or declines the request there, and the time "
                       "is kept free for it."),
}


@dataclass(frozen=True)
class SettingField:
    name: str
    label: str
    help: str
    kind: str  # text | textarea | number | checkbox | select
    optional: bool = False
    choices: tuple[tuple[str, str], ...] = ()


def _field(name: str) -> SettingField:
    label, help_text = LABELS.get(name, (name.replace("_", " ").capitalize(), ""))
    column = Program.__table__.c[name]
    kind = "text"
    choices: tuple[tuple[str, str], ...] = ()
    if isinstance(column.type, Boolean):
        kind = "checkbox"
    elif isinstance(column.type, Enum) and column.type.enum_class is not None:
        kind = "select"
        choices = tuple((str(m.value), str(m.value).replace("_", " ")) for m in column.type.enum_class)
    elif isinstance(column.type, Integer):
        kind = "number"
    elif name == "description":
        kind = "textarea"
    return SettingField(name, label, help_text, kind, bool(column.nullable), choices)


def setting_fields() -> list[SettingField]:
    return [_field(name) for name in SETTINGS]


def posted_value(field: SettingField) -> Any:
    """The posted text as the JSON-like value the service checks (empty optional number -> None)."""
    if field.kind == "checkbox":
        return request.form.get(field.name) is not None
    raw = request.form.get(field.name, "")
    if field.kind == "number":
        if not raw.strip() and field.optional:
            return None
        return as_int_or_text(raw)
    return raw


def shown_value(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    return "" if value is None else value


def _render(program: Program, values: dict[str, Any], errors: FieldErrors, status: int = 200) -> Any:
    return render_template(
        "admin/settings.html", program=program, fields=setting_fields(), values=values, errors=errors
    ), status


@bp.get("/")
def index() -> Any:
    return back_to("admin.settings_page")


@bp.get("/settings")
def settings_page() -> Any:
    program = get_program(db())
    values = {k: shown_value(v) for k, v in settings_values(program).items()}
    return _render(program, values, {})


@bp.post("/settings")
def settings_save() -> Any:
    session = db()
    program = get_program(session)
    fields = setting_fields()
    current = settings_values(program)
    posted = {f.name: posted_value(f) for f in fields if f.kind == "checkbox" or f.name in request.form}
    errors: FieldErrors = {}
    for name, value in posted.items():
        try:
            SETTINGS[name](value, name)
        except DomainError as exc:
            errors[exc.field or name] = exc.message
    changes = {k: v for k, v in posted.items() if k not in errors and _differs(current[k], v)}
    if not errors and changes:
        try:
            update_settings(session, program, changes)
        except DomainError as exc:
            errors[exc.field or "_form"] = exc.message
    if errors:
        session.rollback()
        shown = {k: shown_value(v) for k, v in current.items()}
        shown.update({k: shown_value(v) for k, v in posted.items()})
        return _render(program, shown, errors, 422)
    flash("Settings saved." if changes else "Nothing changed.", "success")
    return back_to("admin.settings_page")


def _differs(stored: Any, posted: Any) -> bool:
    return shown_value(stored) != shown_value(posted) if not isinstance(posted, bool) else stored != posted
