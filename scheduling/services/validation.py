"""Small input checks shared by the services, each failing with a field-named ValidationFailed."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import TypeVar

from scheduling.db import utcnow
from scheduling.errors import ValidationFailed
from scheduling.services.safe_text import storable

E = TypeVar("E", bound=enum.Enum)


def current_time(now: datetime | None) -> datetime:
    """``now`` as aware UTC; services take ``now`` so tests and jobs can pin the clock."""
    if now is None:
        return utcnow()
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    return now.astimezone(UTC)


def enum_value(cls: type[E], value: object, field: str) -> E:
    if isinstance(value, cls):
        return value
    try:
        return cls(value)
    except (ValueError, TypeError):
        allowed = ", ".join(str(m.value) for m in cls)
        raise ValidationFailed(f"Unknown {field} {value!r}; use one of: {allowed}.", field) from None


def text(value: object, field: str, *, max_length: int, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationFailed(f"{field} must be text.", field)
    value = storable(value, field).strip()
    if required and not value:
        raise ValidationFailed(f"{field.capitalize()} is required.", field)
    if len(value) > max_length:
        raise ValidationFailed(f"{field.capitalize()} is too long (at most {max_length} characters).", field)
    return value


def time_range(start: object, end: object, field: str) -> tuple[datetime, datetime]:
    """An aware, non-empty [start, end) in UTC; naive times are refused rather than guessed."""
    for value in (start, end):
        if not isinstance(value, datetime):
            raise ValidationFailed("Times must be date-times.", field)
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValidationFailed("Times need a UTC offset or zone (naive times are ambiguous).", field)
    assert isinstance(start, datetime) and isinstance(end, datetime)
    if not start < end:
        raise ValidationFailed("The end must be after the start.", field)
    return start.astimezone(UTC), end.astimezone(UTC)
