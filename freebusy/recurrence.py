"""Weekly availability ("Tuesdays 09:00-11:00 Europe/London") expanded into real instants.

The weekdays come from ``dateutil.rrule`` (no hand-rolled recurrence); each
occurrence is a *wall-clock* time in the rule's IANA zone (``zoneinfo``, with the
``tzdata`` package as fallback database), so 09:00 London stays 09:00 London
across the clock change: 08:00Z in summer, 09:00Z in winter.

Wall times that the clock change makes odd follow Python's ``fold=0`` rule, made
concrete by a round trip through UTC:

* **Nonexistent (spring gap).** 01:30 on the night London jumps 01:00 -> 02:00 is
  read with the offset in force *before* the jump, so it lands on 02:30 BST: the
  time is shifted forward by the length of the gap. A window 01:15-01:45 that night
  becomes 02:15-02:45 local (still 30 minutes); 01:00-02:00 lasts one real hour.
  Each end of a window is resolved on its own; a window that comes out empty or
  reversed (01:30-02:00 that night: 02:30 BST to 02:00 BST) does not happen that day.
* **Ambiguous (autumn fold).** 01:30 on the night London falls back 02:00 -> 01:00
  happens twice; the *first* occurrence (BST, the pre-transition offset) is used.
  A window 01:00-02:00 that night therefore lasts two real hours (01:00 BST to
  02:00 GMT), which is what a person sitting at their desk experiences.

Windows are clipped to the requested range; a window that crosses the range edge is
kept in part. ``docs/availability.md`` repeats these rules for people.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import WEEKLY, rrule

from freebusy.intervals import IntervalSet, to_us


class UnknownZone(ValueError):
    """An IANA zone name that the zone database does not know."""


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    """The ``ZoneInfo`` for an IANA name, or :class:`UnknownZone`."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise UnknownZone(f"unknown time zone {name!r}") from None


@dataclass(frozen=True)
class WeeklyRule:
    """Every week on ``weekday`` (Monday = 0) from ``start`` to ``end`` wall time in ``time_zone``."""

    weekday: int
    start: time
    end: time
    time_zone: str

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0..6 (Monday = 0), got {self.weekday}")
        if not self.start < self.end:
            raise ValueError(f"weekly window must start before it ends: {self.start}-{self.end}")
        zone(self.time_zone)


def rules_from_text(text: str, default_zone: str) -> list[WeeklyRule]:
    """Weekly rules written as ``"weekday start end zone"`` items joined by ``";"``.

    Times in ISO form (``09:00``, ``09:00:00.000000``), an empty zone means ``default_zone``:
    what a database's string aggregation of weekly slots gives in one row per mentor
    (``scheduling.availability.mentors_rules``), and a hashable memo key as it is.
    Raises ``ValueError`` (``UnknownZone`` for a zone) on anything else.
    """
    out = []
    for item in text.split(";"):
        weekday, start, end, tz = item.split(" ", 3)
        out.append(WeeklyRule(int(weekday), time.fromisoformat(start), time.fromisoformat(end),
                              tz or default_zone))
    return out


def wall_to_utc(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """The instant a wall clock in ``tz`` shows ``wall`` on ``day`` (fold=0; see module doc)."""
    # Attaching tzinfo with fold=0 then converting to UTC *is* the rule: zoneinfo uses the
    # pre-transition offset both for gap times (shift forward) and fold times (first one).
    return datetime.combine(day, wall.replace(fold=0, tzinfo=None), tzinfo=tz).astimezone(UTC)


@lru_cache(maxsize=4096)
def weekday_dates(weekday: int, first: date, last: date) -> tuple[date, ...]:
    """Every date in ``[first, last]`` falling on ``weekday`` (via rrule; cached, it is pure)."""
    rule = rrule(WEEKLY, byweekday=weekday, dtstart=datetime.combine(first, time()),
                 until=datetime.combine(last, time()))
    return tuple(d.date() for d in rule)


def expand_weekly(rules: Iterable[WeeklyRule], start: datetime, end: datetime) -> IntervalSet:
    """All occurrences of ``rules`` overlapping ``[start, end)``, clipped to it, in UTC."""
    s_us, e_us = to_us(start), to_us(end)
    if s_us >= e_us:
        return IntervalSet()
    first, last = local_dates(s_us, e_us)
    pairs: list[tuple[int, int]] = []
    for rule in rules:
        for ws, we in _windows(rule, first, last):
            if ws < e_us and we > s_us:
                pairs.append((ws if ws > s_us else s_us, we if we < e_us else e_us))
    return IntervalSet.from_us_pairs(pairs)


def local_dates(s_us: int, e_us: int) -> tuple[date, date]:
    """The local dates that can hold a window touching ``[s_us, e_us)``, in any zone.

    One day of slack on both sides covers every UTC offset (they are all within +-14 h).
    Dates, not instants: ranges starting "now" map to the same dates all day.
    """
    return (_from_us(s_us) - timedelta(days=1)).date(), (_from_us(e_us) + timedelta(days=1)).date()


def weekly_windows(rules: Iterable[WeeklyRule], first: date, last: date) -> IntervalSet:
    """Every window of ``rules`` on the local dates ``first..last``, unclipped, in UTC."""
    return IntervalSet.from_us_pairs(w for rule in rules for w in _windows(rule, first, last))


@lru_cache(maxsize=65_536)
def _windows(rule: WeeklyRule, first: date, last: date) -> tuple[tuple[int, int], ...]:
    """Every window of ``rule`` on the local dates ``first..last`` as epoch-microsecond pairs.

    Pure (zone rules are fixed for the process), so memoised: a ranking over many mentors
    asks for the same dates again and again, and the zone conversions are most of the
    cost of an expansion (see ``bench/availability.py``). Keyed by local dates, not
    instants, so queries starting "now" share entries all day.
    """
    tz = zone(rule.time_zone)
    out = []
    for day in weekday_dates(rule.weekday, first, last):
        ws = to_us(wall_to_utc(day, rule.start, tz))
        we = to_us(wall_to_utc(day, rule.end, tz))
        if ws < we:
            out.append((ws, we))
    return tuple(out)


def _from_us(value: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=value)


def forget_expansions() -> None:
    """Drop the memoised expansions (the benchmark times a cold start with it)."""
    _windows.cache_clear()
