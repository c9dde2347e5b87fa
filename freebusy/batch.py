"""Bookable-slot counts for many mentors at once, as whole-array (numpy) operations.

Ranking thousands of mentors for a mentee asks, per mentor, how many slots of
``freebusy.slots`` survive both people's busy time. Done mentor by mentor in Python
that is ~100 us each (expansion, grid, a bisection per busy interval); here the
same rules run over everybody at once:

* **grid starts** (:func:`weekly_starts`): what ``candidate_starts_us`` gives for a
  mentor's weekly windows over a range of *local dates* (united with their dated slots),
  memoised per rules, dated slots, zone and slot length (an availability edit changes
  the key: nothing to invalidate), then only cut to the query's instants. Cutting equals computing on the
  clipped windows whenever no window holds a clock change (clock grids) and no window
  straddles the range start (window-anchored grids); otherwise :func:`weekly_starts`
  lists the mentor and the caller runs ``expand_weekly`` + ``candidate_starts_us`` itself.
* **busy** (:class:`Spans`): everyone's busy intervals as three int64 arrays (owner,
  start, end), merged per owner in one sort; each slot start is then checked with one
  binary search (:func:`count_clear`).

The busy rule is ``freebusy.slots.filter_free_us``'s: a slot ``[t, t + L)`` is blocked
by ``[bs, be)`` when ``bs < t + L`` and ``t < be``. Tests check both paths agree.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from freebusy.intervals import IntervalSet
from freebusy.recurrence import local_dates, rules_from_text, weekly_windows, zone
from freebusy.slots import MINUTE_US, candidate_starts_us, offset_is_steady, uses_clock_grid

Ints = NDArray[np.int64]
_NO_INTS: Ints = np.zeros(0, dtype=np.int64)
_KEY_LIMIT = 2**62


def ints(values: Iterable[int] | Ints) -> Ints:
    """An int64 array of ``values`` (a list, a tuple or an array)."""
    if isinstance(values, np.ndarray):
        return values.astype(np.int64, copy=False)
    return np.fromiter(values, dtype=np.int64)


# --- grid starts from weekly rules, memoised ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WeeklyGrid:
    """The slot starts of some weekly rules over local dates ``first..last`` (unclipped)."""

    starts: Ints  # sorted epoch microseconds
    window_starts: tuple[int, ...]  # the windows they were cut from, normalised
    window_ends: tuple[int, ...]
    steady: bool  # no window holds a change of the grid zone's UTC offset


# A mentor's dated slots as sorted epoch-microsecond pairs (part of a grid's memo key).
Dated = tuple[tuple[int, int], ...]
# What a mentor's grid starts are made of: weekly rules as text ("" for none), zone, dated slots.
GridKey = tuple[str, str, Dated]


@lru_cache(maxsize=16_384)
def weekly_grid(
    rules: str, time_zone: str, minutes: int, first: date, last: date, dated: Dated = ()
) -> WeeklyGrid:
    """:class:`WeeklyGrid` of ``rules`` (see ``rules_from_text``; rules without a zone are
    in ``time_zone``; ``""``: none) united with the ``dated`` slots, on the ``time_zone``
    clock. Raises ``ValueError``/``UnknownZone``.

    Memoised (pure: zone rules are fixed for the process). Keyed by local dates, so
    every query of a day shares one entry per mentor; well under 1 KB each. Dated slots
    are part of the key: adding, moving or removing one makes a new entry.
    """
    windows = weekly_windows(rules_from_text(rules, time_zone), first, last) if rules else IntervalSet()
    if dated:
        windows = windows.union(IntervalSet.from_us_pairs(dated))
    tz = zone(time_zone)
    starts = candidate_starts_us(windows, minutes, tz)
    steady = all(offset_is_steady(tz, s, e) for s, e in windows.us_pairs())
    return WeeklyGrid(ints(starts), tuple(windows.starts_us), tuple(windows.ends_us), steady)


def weekly_starts(
    mentors: Sequence[tuple[str, str] | GridKey],
    minutes: int,
    start_us: int,
    end_us: int,
    not_before_us: int,
) -> tuple[Ints, Ints, list[int]]:
    """For mentors given as ``(weekly rules as text, time zone[, dated slots])``: every slot
    start of each, at once.

    Mentor ``i``'s starts are ``candidate_starts_us(expand_weekly(rules, start, end) |
    dated clipped to [start, end), minutes, zone, not_before)`` (what ``bookable_slots``
    cuts), cut from the memoised :func:`weekly_grid`. Returns the
    starts, their owner ``i``, and the mentors for whom cutting is not provably the same
    (a clock change inside a window on a clock grid; on a window-anchored grid, a window
    straddling ``start_us``): the caller computes those directly. Raises like
    :func:`weekly_grid`.
    """
    first, last = local_dates(start_us, end_us)
    exact: list[int]
    if uses_clock_grid(minutes):  # which grids cut exactly does not depend on the instants: memoised
        starts, owner, left = _clock_starts(tuple(mentors), minutes, first, last)
        exact = list(left)
    else:
        starts, owner, exact = _anchored_starts(mentors, minutes, first, last, start_us)
    # The last start whose slot still ends inside the range is end - L.
    inside = (starts >= max(start_us, not_before_us)) & (starts <= end_us - minutes * MINUTE_US)
    return starts[inside], owner[inside], exact


@lru_cache(maxsize=4)  # an entry holds two int64 arrays of every start: ~3 MB for 5,000 mentors
def _clock_starts(
    mentors: tuple[tuple[str, str] | GridKey, ...], minutes: int, first: date, last: date
) -> tuple[Ints, Ints, tuple[int, ...]]:
    """Every steady grid's starts of ``mentors`` on a clock grid, uncut, with their owner, and
    the mentors left to the caller; memoised for the same mentors on the same local dates
    (a ranking of everyone asks again and again all day: one lookup instead of one per mentor
    and a concatenation of thousands of arrays)."""
    found: list[Ints] = []
    owners: list[int] = []
    exact: list[int] = []
    for i, key in enumerate(mentors):
        grid = weekly_grid(key[0], key[1], minutes, first, last, *key[2:])
        if grid.steady:
            found.append(grid.starts)
            owners.append(i)
        else:
            exact.append(i)
    starts, owner = _joined(found, owners)
    starts.flags.writeable = owner.flags.writeable = False  # shared by every caller
    return starts, owner, tuple(exact)


def _anchored_starts(
    mentors: Sequence[tuple[str, str] | GridKey], minutes: int, first: date, last: date, start_us: int
) -> tuple[Ints, Ints, list[int]]:
    """As :func:`_clock_starts` for window-anchored grids, where a window straddling
    ``start_us`` is left to the caller (so not memoised as a whole)."""
    found: list[Ints] = []
    owners: list[int] = []
    exact: list[int] = []
    for i, key in enumerate(mentors):
        grid = weekly_grid(key[0], key[1], minutes, first, last, *key[2:])
        w = bisect_right(grid.window_starts, start_us) - 1
        if w >= 0 and grid.window_starts[w] < start_us < grid.window_ends[w]:
            exact.append(i)
        else:
            found.append(grid.starts)
            owners.append(i)
    starts, owner = _joined(found, owners)
    return starts, owner, exact


def _joined(found: list[Ints], owners: list[int]) -> tuple[Ints, Ints]:
    """The starts of several grids as one array, and the owner of each."""
    if not found:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    sizes = np.fromiter((a.size for a in found), dtype=np.int64, count=len(found))
    return np.concatenate(found), np.repeat(ints(owners), sizes)


def forget_grids() -> None:
    """Drop the memoised grids (the benchmarks time a cold start with it)."""
    weekly_grid.cache_clear()
    _clock_starts.cache_clear()


# --- busy time of many people ---------------------------------------------------------------------


@dataclass(frozen=True)
class Spans:
    """Half-open busy intervals of many owners (small ints) as parallel int64 arrays.

    Any order; intervals may overlap or touch (they are merged per owner when counting).
    """

    owner: Ints
    start: Ints
    end: Ints

    @classmethod
    def empty(cls) -> Spans:
        return cls(_NO_INTS, _NO_INTS, _NO_INTS)

    @classmethod
    def of_sets(cls, sets: Iterable[tuple[int, IntervalSet]]) -> Spans:
        """From ``(owner, IntervalSet)`` pairs."""
        owners: list[Ints] = []
        starts: list[int] = []
        ends: list[int] = []
        for owner, found in sets:
            if found:
                owners.append(np.full(len(found), owner, dtype=np.int64))
                starts.extend(found.starts_us)
                ends.extend(found.ends_us)
        if not owners:
            return cls.empty()
        return cls(np.concatenate(owners), ints(starts), ints(ends))

    def __len__(self) -> int:
        return int(self.owner.size)

    def __add__(self, other: Spans) -> Spans:
        if not len(other):
            return self
        if not len(self):
            return other
        return Spans(np.concatenate((self.owner, other.owner)), np.concatenate((self.start, other.start)),
                     np.concatenate((self.end, other.end)))

    def renumbered(self, new_owner: Ints) -> Spans:
        """Owner ``i`` becomes ``new_owner[i]``; owners mapped to -1 are dropped."""
        owner = new_owner[self.owner]
        keep = owner >= 0
        if keep.all():
            return Spans(owner, self.start, self.end)
        return Spans(owner[keep], self.start[keep], self.end[keep])

    def of(self, owner: int) -> IntervalSet:
        """One owner's intervals as an :class:`IntervalSet` (normalised)."""
        mine = self.owner == owner
        return IntervalSet.from_us_pairs(zip(self.start[mine].tolist(), self.end[mine].tolist(), strict=True))


def count_clear(
    starts: Ints,
    owner: Ints,
    owners: int,
    length_us: int,
    shared: IntervalSet,
    own: Spans,
) -> Ints:
    """Per owner ``0..owners-1``: how many of its slot starts give a slot clear of all busy time.

    ``starts[i]`` is a start of owner ``owner[i]`` (any order, each start once per owner);
    a slot ``[t, t + length_us)`` must overlap neither ``shared`` (busy for everyone:
    the mentee) nor any of its owner's ``own`` spans.
    """
    keep = _clear_of_set(starts, length_us, shared)
    if len(own) and keep.any():
        starts, owner = starts[keep], owner[keep]
        keep = _clear_of_spans(starts, owner, length_us, own)
    return np.bincount(owner[keep], minlength=owners).astype(np.int64)


def _clear_of_set(starts: Ints, length_us: int, busy: IntervalSet) -> NDArray[np.bool_]:
    """Which starts give a slot overlapping no interval of ``busy`` (normalised: sorted, disjoint)."""
    if not busy or not starts.size:
        return np.ones(starts.size, dtype=bool)
    b_s, b_e = ints(busy.starts_us), ints(busy.ends_us)
    # The first interval ending after t is the only one that can start before t + L.
    i = np.searchsorted(b_e, starts, "right")
    return ~((i < b_s.size) & (b_s[np.minimum(i, b_s.size - 1)] < starts + length_us))


def _clear_of_spans(starts: Ints, owner: Ints, length_us: int, busy: Spans) -> NDArray[np.bool_]:
    """Which starts give a slot overlapping no span of the same owner.

    Each owner gets its own band of a single int64 axis (``owner * width + time``), so
    one sort merges everybody's spans and one binary search per start finds the only
    merged span that can block it. Owners go in groups small enough not to overflow.
    """
    if not starts.size:
        return np.ones(0, dtype=bool)
    lo = int(starts.min())
    hi = int(starts.max()) + length_us
    b_o, b_s, b_e = busy.owner, busy.start, busy.end
    first_busy, last_busy = int(b_s.min()), int(b_e.max())
    if first_busy >= lo - (hi - lo) and last_busy <= hi + (hi - lo):
        lo, hi = min(lo, first_busy), max(hi, last_busy)  # busy near the starts (usual): widen the bands
    else:  # spans far outside [lo, hi] block nothing; clipping them keeps the bands narrow
        b_s, b_e = np.maximum(b_s, lo), np.minimum(b_e, hi)
        live = b_s < b_e
        b_o, b_s, b_e = b_o[live], b_s[live], b_e[live]
    b_s, b_e = b_s - lo, b_e - lo
    width = hi - lo + 1
    group = max(1, _KEY_LIMIT // width)  # owners per pass: keys stay below 2**62
    clear = np.ones(starts.size, dtype=bool)
    for first in range(0, int(owner.max()) + 1, group):
        mine = (owner >= first) & (owner < first + group)
        theirs = (b_o >= first) & (b_o < first + group)
        if mine.all() and theirs.all():  # the usual single pass: no copies
            return _clear_keyed(starts - lo, owner, length_us, b_o, b_s, b_e, width)
        clear[mine] = _clear_keyed(starts[mine] - lo, owner[mine] - first, length_us,
                                   b_o[theirs] - first, b_s[theirs], b_e[theirs], width)
    return clear


def _clear_keyed(
    t: Ints, owner: Ints, length_us: int, b_o: Ints, b_s: Ints, b_e: Ints, width: int
) -> NDArray[np.bool_]:
    if not b_o.size:
        return np.ones(t.size, dtype=bool)
    base = b_o * width
    ks = base + b_s
    ke = base + b_e
    if not ((ks[1:] >= ks[:-1]).all() and (ke[1:] >= ke[:-1]).all()):
        # Merge: sorted by start, each run of overlapping spans becomes one (a cached
        # calendar alone is sorted and disjoint per owner already, and skips this).
        order = np.argsort(ks, kind="stable")
        ks, ke = ks[order], np.maximum.accumulate(ke[order])
        heads = np.flatnonzero(np.concatenate(([True], ks[1:] > ke[:-1])))
        ks, ke = ks[heads], ke[np.concatenate((heads[1:] - 1, [ks.size - 1]))]
    # With starts and ends both sorted, the first span ending after t is the only one
    # that can start before t + L.
    kt = owner * width + t
    i = np.searchsorted(ke, kt, "right")
    return ~((i < ks.size) & (ks[np.minimum(i, ks.size - 1)] < kt + length_us))
