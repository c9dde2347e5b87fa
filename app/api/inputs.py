"""Input models more than one resource uses: a time range, paging, and an action without fields."""

from __future__ import annotations

from typing import Any

from app.api.fields import Id, Input, When, between


class NoFields(Input):
    """An action that takes nothing but still wants a JSON object (``{}``)."""


class TimeIn(Input):
    start: When
    end: When


def time_pairs(times: list[TimeIn] | None) -> Any:
    """``[(start, end)]`` as the services take them (None stays None)."""
    return None if times is None else [(t.start, t.end) for t in times]


class Page(Input):
    limit: between(1, 200, "limit must be between 1 and 200.") = 50  # type: ignore[valid-type]
    offset: Id = 0
