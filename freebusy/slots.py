"""Cutting availability into bookable slots of the program's length.

Grid (where slots may start), decided by the slot length ``L`` in minutes:

* ``L`` divides 60 (5, 10, 15, 20, 30, 60): a **wall-clock grid in the mentor's
  zone** - slots start at local times that are multiples of ``L`` past the hour
  (:00/:30 for 30 minutes). In Asia/Kolkata (UTC+05:30) a 60-minute slot starts at
  10:00 local = 04:30Z, not at 04:00Z.
* any other length (45, 90, 50, ...): slots are laid end to end from the **start
  of each availability window** (a window 09:15-12:00 with 45 minutes gives 09:15,
  10:00, 10:45), because no clock grid fits those lengths.

A candidate is kept only if it lies wholly inside the window (no slot shorter than
``L``), starts at or after ``not_before`` (now + lead time; the grid is *not* moved
to ``now``), and overlaps none of the ``busy`` sets. Candidates are derived from
availability windows and then filtered by busy time, so a busy block never shifts
the grid of the free time after it.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from freebusy.intervals import Interval, IntervalSet, check_span, from_us, to_us

MINUTE_US = 60_000_000
HOUR_US = 60 * MINUTE_US
_OFFSET_CACHE: dict[tuple[tzinfo, int], int] = {}


@dataclass(frozen=True, order=True)
class Slot:
    """A bookable ``[start, end)`` in UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        check_span(self.start, self.end, "slot")

    @property
    def interval(self) -> Interval:
        return Interval(self.start, self.end)

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


def uses_clock_grid(minutes: int) -> bool:
    """Whether ``minutes``-long slots sit on a wall-clock grid (else window-anchored)."""
    return 0 < minutes <= 60 and 60 % minutes == 0


def candidate_starts_us(
    availability: IntervalSet,
    minutes: int,
    tz: tzinfo,
    not_before_us: int | None = None,
) -> list[int]:
    """Start instants (epoch microseconds) of every whole slot on the grid inside ``availability``."""
    if minutes <= 0:
        raise ValueError("slot length must be positive")
    length = minutes * MINUTE_US
    clock = uses_clock_grid(minutes)
    floor = not_before_us if not_before_us is not None else -(2**62)
    out: list[int] = []
    append = out.append
    for ws, we in zip(availability.starts_us, availability.ends_us, strict=True):
        if we - length < floor or we - ws < length:
            continue
        if not clock:
            t = ws
            if t < floor:  # skip whole steps until the lead time is passed
                t += -((ws - floor) // length) * length
            while t + length <= we:
                append(t)
                t += length
            continue
        off = _offset_us(tz, ws)
        off_end = _offset_us(tz, we)
        first = max(ws, floor)
        t = -((-(first + off)) // length) * length - off  # ceil onto the local grid
        if off == off_end:  # the common case: no clock change inside the window
            while t + length <= we:
                append(t)
                t += length
            continue
        while t + length <= we:  # a clock change inside the window: re-check the grid each step
            o = _offset_us(tz, t)
            if (t + o) % length:
                t = -((-(t + o)) // length) * length - o
                continue
            append(t)
            t += length
    return out


def filter_free_us(starts: Sequence[int], minutes: int, busy: Sequence[IntervalSet]) -> list[int]:
    """The candidate starts whose slot overlaps none of the ``busy`` sets."""
    length = minutes * MINUTE_US
    kept = list(starts)
    for b in busy:
        if not b or not kept:
            continue
        b_s, b_e = b.starts_us, b.ends_us
        n = len(b_s)
        survivors = []
        for t in kept:
            i = bisect_right(b_e, t)
            if i >= n or b_s[i] >= t + length:
                survivors.append(t)
        kept = survivors
    return kept


def cut_slots(
    availability: IntervalSet,
    *,
    minutes: int,
    time_zone: tzinfo,
    not_before: datetime | None = None,
    busy: Sequence[IntervalSet] = (),
) -> list[Slot]:
    """Bookable slots: grid slots inside ``availability``, after ``not_before``, clear of ``busy``."""
    nb = to_us(not_before) if not_before is not None else None
    starts = filter_free_us(candidate_starts_us(availability, minutes, time_zone, nb), minutes, busy)
    length = timedelta(minutes=minutes)
    return [Slot(s, s + length) for s in map(from_us, starts)]


def count_slots(
    availability: IntervalSet,
    *,
    minutes: int,
    time_zone: tzinfo,
    not_before: datetime | None = None,
    busy: Sequence[IntervalSet] = (),
) -> int:
    """How many slots :func:`cut_slots` would return, without building them (for rankings)."""
    nb = to_us(not_before) if not_before is not None else None
    return len(filter_free_us(candidate_starts_us(availability, minutes, time_zone, nb), minutes, busy))


def offset_is_steady(tz: tzinfo, start_us: int, end_us: int) -> bool:
    """Whether ``tz`` keeps one UTC offset from ``start_us`` to ``end_us``, both ends included.

    Checked at both ends and on every UTC hour between (offsets never change twice within
    an hour), so a change at a half hour is seen too.
    """
    off = _offset_us(tz, start_us)
    t = (start_us // HOUR_US + 1) * HOUR_US
    while t < end_us:
        if _offset_us(tz, t) != off:
            return False
        t += HOUR_US
    return _offset_us(tz, end_us) == off


def _offset_us(tz: tzinfo, moment_us: int) -> int:
    """UTC offset of ``tz`` at an instant, in microseconds.

    Memoised per zone and UTC hour, but only for hours with one offset throughout
    (checked at both ends: offsets never change twice in an hour), so a clock change
    at a half hour (Australia/Lord_Howe) is still answered exactly.
    """
    hour = moment_us // HOUR_US
    key = (tz, hour)
    cached = _OFFSET_CACHE.get(key)
    if cached is not None:
        return cached
    here = _utcoffset_us(tz, moment_us)
    start, end = _utcoffset_us(tz, hour * HOUR_US), _utcoffset_us(tz, (hour + 1) * HOUR_US - 1)
    if start == end:
        if len(_OFFSET_CACHE) > 200_000:
            _OFFSET_CACHE.clear()
        _OFFSET_CACHE[key] = start
    return here


def _utcoffset_us(tz: tzinfo, moment_us: int) -> int:
    delta = from_us(moment_us).astimezone(tz).utcoffset() or timedelta(0)
    return delta // timedelta(microseconds=1)
