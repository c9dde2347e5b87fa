"""The program's rules as the admin sets them, each one validated.

Every setting has one checker in :data:`SETTINGS` that turns a JSON value into
the stored value or raises :class:`ValidationFailed` naming the setting. Rules
that tie two settings together (a reminder must come before the auto-close)
are checked on the merged result, so a change is judged against the settings
it would produce. Other parts (matching) may add settings with :func:`register_setting`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling.errors import NotFound, ValidationFailed
from scheduling.models import AvailabilityMode, MentoringMode, Program
from scheduling.services.safe_text import storable
from scheduling.services.surveys import ensure_default_questions
from scheduling.services.transaction import unit_of_work
from scheduling.terms import check_term
from scheduling.video import check_template

SLOT_MINUTES = (15, 20, 30, 45, 60, 90, 120)

Checker = Callable[[Any, str], Any]


def first_program(session: Session) -> Program | None:
    """The program this installation runs (the first one; the app runs one active program), if any."""
    return session.scalars(select(Program).order_by(Program.id).limit(1)).first()


def get_program(session: Session) -> Program:
    """:func:`first_program`, or NotFound before one is set up."""
    program = first_program(session)
    if program is None:
        raise NotFound("No mentoring program is set up yet; load the demo or create one.")
    return program


# ---------------------------------------------------------------- checkers


def _int(value: Any, field: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(f"{field} must be a whole number from {lo} to {hi}.", field)
    if not lo <= value <= hi:
        raise ValidationFailed(f"{field} must be from {lo} to {hi} (got {value}).", field)
    return value


def int_between(lo: int, hi: int) -> Checker:
    return lambda value, field: _int(value, field, lo, hi)


def optional_int_between(lo: int, hi: int) -> Checker:
    """None switches the rule off; otherwise a whole number in [lo, hi]."""
    return lambda value, field: None if value is None else _int(value, field, lo, hi)


def boolean(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationFailed(f"{field} must be true or false.", field)
    return value


def one_of(cls: type[enum.Enum]) -> Checker:
    def check(value: Any, field: str) -> enum.Enum:
        try:
            return cls(value)
        except (ValueError, TypeError):
            allowed = ", ".join(str(m.value) for m in cls)
            raise ValidationFailed(f"{field} must be one of: {allowed}.", field) from None

    return check


def text(max_length: int, *, required: bool = False) -> Checker:
    def check(value: Any, field: str) -> str:
        if value is None and not required:
            return ""
        if not isinstance(value, str):
            raise ValidationFailed(f"{field} must be text.", field)
        value = storable(value, field).strip()
        if required and not value:
            raise ValidationFailed(f"{field} cannot be empty.", field)
        if len(value) > max_length:
            raise ValidationFailed(f"{field} has at most {max_length} characters.", field)
        return value

    return check


def slot_length(value: Any, field: str) -> int:
    if isinstance(value, bool) or value not in SLOT_MINUTES:
        allowed = ", ".join(map(str, SLOT_MINUTES))
        raise ValidationFailed(f"{field} must be one of {allowed} minutes.", field)
    return int(value)


SETTINGS: dict[str, Checker] = {
    "name": text(200, required=True),
    "description": text(5000),
    "mentoring_mode": one_of(MentoringMode),
    "availability_mode": one_of(AvailabilityMode),
    "slot_minutes": slot_length,
    "buffer_minutes": int_between(0, 120),
    "lead_time_hours": int_between(0, 720),
    "mentors_may_create": boolean,
    "remind_after_days": optional_int_between(1, 90),
    "auto_close_after_days": optional_int_between(1, 90),
    "max_meetings_per_month": optional_int_between(1, 1000),
    "max_meetings_per_year": optional_int_between(1, 10000),
    "max_pending_requests": optional_int_between(1, 1000),
    "meeting_reminder_hours": optional_int_between(1, 168),
    "survey_delay_hours": int_between(0, 168),
    "prefer_other_department": boolean,
    "directory_hidden": boolean,
    "admin_routed": boolean,
    "video_links": boolean,
    "video_url_template": check_template,
    "calendar_holds": boolean,
    "action_plan_reminder_days": optional_int_between(1, 365),
    "mentee_term": check_term,
    "mentor_term": check_term,
}


def register_setting(name: str, checker: Checker) -> None:
    """Make another Program column editable through :func:`update_settings`."""
    if not hasattr(Program, name):
        raise ValueError(f"Program has no attribute {name!r}")
    SETTINGS[name] = checker


def check_consistency(values: Mapping[str, Any]) -> None:
    """Rules between settings, checked on the settings as they would be after a change."""
    remind, close = values.get("remind_after_days"), values.get("auto_close_after_days")
    if remind is not None and close is not None and remind >= close:
        raise ValidationFailed(
            f"The reminder (after {remind} days) must come before the auto-close (after {close} days).",
            "remind_after_days",
        )
    month, year = values.get("max_meetings_per_month"), values.get("max_meetings_per_year")
    if month is not None and year is not None and month > year:
        raise ValidationFailed(
            f"A monthly limit of {month} cannot be above the yearly limit of {year}.",
            "max_meetings_per_month",
        )
    mentee, mentor = values.get("mentee_term"), values.get("mentor_term")
    if mentee is not None and mentee == mentor:
        raise ValidationFailed(f"Both sides cannot be called “{mentee}”.", "mentor_term")
    slot, buffer = values.get("slot_minutes"), values.get("buffer_minutes")
    if slot is not None and buffer is not None and buffer > slot * 2:
        raise ValidationFailed("The buffer between meetings cannot exceed twice the slot length.",
                               "buffer_minutes")


def check_settings(program: Program | None, changes: Mapping[str, Any]) -> dict[str, Any]:
    """The validated stored values for ``changes`` (on top of ``program``'s current settings)."""
    if not isinstance(changes, Mapping):
        raise ValidationFailed("Settings must be a JSON object.")
    checked: dict[str, Any] = {}
    for key, value in changes.items():
        checker = SETTINGS.get(key)
        if checker is None:
            raise ValidationFailed(f"Unknown setting {key!r}.", key)
        checked[key] = checker(value, key)
    merged = settings_values(program) if program is not None else {}
    merged.update(checked)
    check_consistency(merged)
    return checked


def update_settings(session: Session, program: Program, changes: Mapping[str, Any]) -> Program:
    """Change program settings, all or nothing; unknown settings are refused."""
    if not changes:
        raise ValidationFailed("Send at least one setting to change.")
    checked = check_settings(program, changes)
    with unit_of_work(session):
        for key, value in checked.items():
            setattr(program, key, value)
        session.commit()
    return program


def create_program(session: Session, **settings: Any) -> Program:
    """A new program with validated settings (defaults for the rest) and its default survey
    questions, so reading them never has to create them; one transaction."""
    settings.setdefault("name", "Flash mentoring")
    checked = check_settings(None, settings)
    check_consistency({**column_defaults(), **checked})
    with unit_of_work(session):
        program = Program(**checked)
        session.add(program)
        session.flush()
        ensure_default_questions(session, program)
        session.commit()
    return program


def column_defaults() -> dict[str, Any]:
    """The model's default for each setting (what an unset setting becomes on insert)."""
    out: dict[str, Any] = {}
    for key in SETTINGS:
        column = Program.__table__.c.get(key)
        default = getattr(column, "default", None)
        if default is not None and getattr(default, "is_scalar", False):
            out[key] = default.arg
    return out


def settings_values(program: Program) -> dict[str, Any]:
    return {key: getattr(program, key) for key in SETTINGS}


def settings_dict(program: Program) -> dict[str, Any]:
    """JSON-ready settings (enums as their values) plus the id."""
    out: dict[str, Any] = {"id": program.id}
    for key, value in settings_values(program).items():
        out[key] = value.value if isinstance(value, enum.Enum) else value
    return out
