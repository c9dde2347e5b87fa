"""A person's IANA zone as a tzinfo: the one place that decides what a bad zone name means.

Profiles refuse unknown names, so one can only come from old rows or a zone database
without it. Showing a time (pages, emails, month limits) then uses UTC; computing free
time from a weekly pattern (``strict=True``) refuses instead, since the pattern's hours
would land at the wrong moments.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from scheduling.errors import UnknownTimeZone
from scheduling.models import Person


def zone_named(name: str | None, *, strict: bool = False, owner: str = "") -> ZoneInfo:
    """The zone called ``name`` (empty: UTC). Unknown: UTC, or with ``strict`` :class:`UnknownTimeZone`."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        if strict:
            who = f"{owner} has" if owner else "This profile has"
            raise UnknownTimeZone(f"{who} an unknown time zone {name!r}.", "time_zone") from None
        return ZoneInfo("UTC")


def zone_of(person: Person, *, strict: bool = False) -> ZoneInfo:
    """``person``'s zone (see :func:`zone_named`)."""
    return zone_named(person.time_zone, strict=strict, owner=person.name)
