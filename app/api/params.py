"""Parsing JSON and query input into typed values, failing with a field-named 422.

Everything a route reads from the client goes through one of these, so wrong
types, missing fields and unknown values become clear 4xx answers, never a 500.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, TypeVar

from flask import request

from scheduling.db import MAX_ID
from scheduling.errors import ValidationFailed

E = TypeVar("E", bound=enum.Enum)
MISSING: Any = object()


def required(body: dict[str, Any], field: str) -> Any:
    if field not in body or body[field] is None:
        raise ValidationFailed(f"{field} is required.", field)
    return body[field]


MAX_INT = MAX_ID


def as_int(value: Any, field: str) -> int:
    """A non-negative whole number that fits an id column."""
    # bool is an int subclass in Python; true/false is never a sensible id.
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(f"{field} must be a whole number.", field)
    if not 0 <= value <= MAX_INT:
        raise ValidationFailed(f"{field} is out of range.", field)
    return value


def fits_id(value: int) -> bool:
    """Whether a path id can exist at all (larger ones are simply not found)."""
    return 0 <= value <= MAX_INT


def as_str(value: Any, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationFailed(f"{field} must be text.", field)
    return value


def as_datetime(value: Any, field: str) -> datetime:
    """An ISO-8601 date-time with a UTC offset; naive or malformed values are refused."""
    if not isinstance(value, str):
        raise ValidationFailed(f"{field} must be an ISO-8601 date-time string.", field)
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValidationFailed(f"{field} is not an ISO-8601 date-time: {value!r}.", field) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValidationFailed(f"{field} needs a UTC offset (e.g. 2030-01-09T10:00:00+01:00 or ...Z).", field)
    return parsed.astimezone(UTC)


def as_enum(cls: type[E], value: Any, field: str) -> E:
    try:
        return cls(value)
    except (ValueError, TypeError):
        allowed = ", ".join(str(m.value) for m in cls)
        raise ValidationFailed(f"Unknown {field} {value!r}; use one of: {allowed}.", field) from None


def query_int(name: str) -> int | None:
    raw = request.args.get(name)
    return None if raw is None or raw == "" else as_int(raw, name)


def as_flag(value: Any, field: str) -> bool:
    """A switch: 1/true/yes or 0/false/no (empty is off); JSON booleans too."""
    if isinstance(value, bool):
        return value
    raw = (value if isinstance(value, str) else "?").strip().lower()
    if raw in ("", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise ValidationFailed(f"{field} must be 1 or 0.", field)


def query_flag(name: str) -> bool:
    return as_flag(request.args.get(name) or "", name)


def query_enum(cls: type[E], name: str) -> E | None:
    raw = request.args.get(name)
    return None if raw is None or raw == "" else as_enum(cls, raw, name)


def page() -> tuple[int, int]:
    """``limit`` (1..200, default 50) and ``offset`` (>= 0) from the query string."""
    limit = query_int("limit")
    offset = query_int("offset") or 0
    if limit is None:
        limit = 50
    if not 1 <= limit <= 200:
        raise ValidationFailed("limit must be between 1 and 200.", "limit")
    return limit, offset
