"""Half-open time intervals and normalised sets of them.

An :class:`IntervalSet` is immutable, sorted, disjoint and *non-adjacent*
(``[9, 10)`` and ``[10, 11)`` together is stored as ``[9, 11)``), so two sets covering the same
time are equal. Inputs may be in any time zone; everything that comes out is UTC.

Internally a set is two parallel lists of integer microseconds since the Unix
epoch. Integers compare an order of magnitude faster than aware datetimes, which
is what lets a ranking search over a thousand mentors stay in milliseconds
(see ``bench/availability.py``); every operation is a linear sweep (or a
bisection for point questions) over these lists.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_US = timedelta(microseconds=1)


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime (naive ones are a bug)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: attach a time zone")
    return (moment - EPOCH) // ONE_US


def from_us(value: int) -> datetime:
    """The aware UTC datetime ``value`` microseconds after the epoch."""
    return EPOCH + timedelta(microseconds=value)


def as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: attach a time zone")
    return moment.astimezone(UTC)


class HasSpan(Protocol):
    """Anything with aware ``start`` and ``end`` (Interval, Slot, calendars' BusyInterval)."""

    @property
    def start(self) -> datetime: ...

    @property
    def end(self) -> datetime: ...


def check_span(start: datetime, end: datetime, what: str) -> None:
    """Refuse naive datetimes and empty or reversed spans (shared by Interval and Slot)."""
    for moment in (start, end):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"naive datetime {moment!r}: attach a time zone")
    if not start < end:
        raise ValueError(f"{what} must have start < end, got {start} .. {end}")


@dataclass(frozen=True, order=True)
class Interval:
    """``[start, end)`` between two aware datetimes; empty or reversed intervals are refused."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        check_span(self.start, self.end, "interval")

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def overlaps(self, other: HasSpan) -> bool:
        return self.start < other.end and other.start < self.end

    def utc(self) -> Interval:
        return Interval(as_utc(self.start), as_utc(self.end))


SpanLike = HasSpan | tuple[datetime, datetime]


class IntervalSet:
    """An immutable normalised set of half-open intervals, in UTC."""

    __slots__ = ("_ends", "_starts")

    def __init__(self, intervals: Iterable[SpanLike] = ()) -> None:
        pairs: list[tuple[int, int]] = []
        for item in intervals:
            if isinstance(item, tuple):
                start, end = item
            else:
                start, end = item.start, item.end
            s, e = to_us(start), to_us(end)
            if s > e:
                raise ValueError(f"interval ends before it starts: {start} .. {end}")
            if s < e:  # zero-length busy blocks (some providers send them) cover nothing
                pairs.append((s, e))
        self._starts, self._ends = _normalise(pairs)

    # --- construction without re-validation (internal and for hot paths) -----------------------

    @classmethod
    def from_us_pairs(cls, pairs: Iterable[tuple[int, int]]) -> IntervalSet:
        """Build from ``(start_us, end_us)`` pairs in any order (empty pairs dropped)."""
        out = cls.__new__(cls)
        out._starts, out._ends = _normalise([p for p in pairs if p[0] < p[1]])
        return out

    @classmethod
    def from_sorted_runs(
        cls, runs: Iterable[Iterable[tuple[int, int]] | None], lo: int, hi: int
    ) -> IntervalSet:
        """Join runs of ``(start_us, end_us)`` pairs, clipped to ``[lo, hi)``, in one linear pass.

        Each run is sorted and disjoint, and every run lies wholly before the next (the
        busy cache's day buckets, read back in day order); touching pairs merge. No sort,
        which is most of what a cached busy lookup would otherwise cost.
        """
        starts: list[int] = []
        ends: list[int] = []
        for run in runs:
            if not run:
                continue
            for s, e in run:
                if s < lo:
                    s = lo
                if e > hi:
                    e = hi
                if s >= e:
                    continue
                if ends and s <= ends[-1]:
                    if s < starts[-1]:
                        raise ValueError("runs are not sorted")
                    if e > ends[-1]:
                        ends[-1] = e
                else:
                    starts.append(s)
                    ends.append(e)
        return cls._raw(starts, ends)

    @classmethod
    def from_normalised(cls, starts: list[int], ends: list[int]) -> IntervalSet:
        """Adopt starts and ends (epoch microseconds) that are already sorted, disjoint and
        non-adjacent, without checking (for callers that built them so, e.g. the busy cache)."""
        return cls._raw(starts, ends)

    @classmethod
    def _raw(cls, starts: list[int], ends: list[int]) -> IntervalSet:
        out = cls.__new__(cls)
        out._starts, out._ends = starts, ends
        return out

    @classmethod
    def span(cls, start: datetime, end: datetime) -> IntervalSet:
        """The single interval ``[start, end)`` (empty when ``end <= start``)."""
        s, e = to_us(start), to_us(end)
        return cls._raw([s], [e]) if s < e else cls._raw([], [])

    # --- the algebra: linear sweeps ------------------------------------------------------------

    def union(self, other: IntervalSet) -> IntervalSet:
        a_s, a_e, b_s, b_e = self._starts, self._ends, other._starts, other._ends
        if not b_s:
            return self
        if not a_s:
            return other
        starts: list[int] = []
        ends: list[int] = []
        i = j = 0
        na, nb = len(a_s), len(b_s)
        while i < na or j < nb:
            if j >= nb or (i < na and a_s[i] <= b_s[j]):
                s, e = a_s[i], a_e[i]
                i += 1
            else:
                s, e = b_s[j], b_e[j]
                j += 1
            if ends and s <= ends[-1]:
                if e > ends[-1]:
                    ends[-1] = e
            else:
                starts.append(s)
                ends.append(e)
        return IntervalSet._raw(starts, ends)

    def intersect(self, other: IntervalSet) -> IntervalSet:
        a_s, a_e, b_s, b_e = self._starts, self._ends, other._starts, other._ends
        starts: list[int] = []
        ends: list[int] = []
        i = j = 0
        na, nb = len(a_s), len(b_s)
        while i < na and j < nb:
            s = a_s[i] if a_s[i] > b_s[j] else b_s[j]
            if a_e[i] < b_e[j]:
                e = a_e[i]
                i += 1
            else:
                e = b_e[j]
                j += 1
            if s < e:
                starts.append(s)
                ends.append(e)
        # Each piece ends where one input interval ends, and the next piece starts at or
        # after that input's next start, which lies strictly later (inputs are normalised):
        # the result is already disjoint and non-adjacent.
        return IntervalSet._raw(starts, ends)

    def subtract(self, other: IntervalSet) -> IntervalSet:
        a_s, a_e, b_s, b_e = self._starts, self._ends, other._starts, other._ends
        if not a_s or not b_s:
            return self
        starts: list[int] = []
        ends: list[int] = []
        j = 0
        nb = len(b_s)
        for s, e in zip(a_s, a_e, strict=True):
            while j < nb and b_e[j] <= s:
                j += 1
            k = j
            cur = s
            while k < nb and b_s[k] < e:
                if b_s[k] > cur:
                    starts.append(cur)
                    ends.append(b_s[k])
                if b_e[k] > cur:
                    cur = b_e[k]
                if cur >= e:
                    break
                k += 1
            if cur < e:
                starts.append(cur)
                ends.append(e)
        return IntervalSet._raw(starts, ends)

    __or__ = union
    __and__ = intersect
    __sub__ = subtract

    def clip(self, start: datetime, end: datetime) -> IntervalSet:
        """The part inside ``[start, end)``."""
        return self.intersect(IntervalSet.span(start, end))

    def padded(self, before: timedelta, after: timedelta | None = None) -> IntervalSet:
        """Every interval widened by ``before`` and ``after`` (e.g. a buffer around meetings)."""
        b = before // ONE_US
        a = b if after is None else after // ONE_US
        if a == 0 and b == 0:
            return self
        return IntervalSet.from_us_pairs(
            (s - b, e + a) for s, e in zip(self._starts, self._ends, strict=True)
        )

    # --- questions -------------------------------------------------------------------------------

    def contains(self, interval: HasSpan) -> bool:
        """Whether all of ``interval`` lies inside one interval of the set."""
        s, e = to_us(interval.start), to_us(interval.end)
        return self.contains_us(s, e)

    def contains_us(self, s: int, e: int) -> bool:
        i = bisect_right(self._starts, s) - 1
        return i >= 0 and self._ends[i] >= e

    def overlaps(self, interval: HasSpan) -> bool:
        """Whether any instant of ``interval`` is in the set."""
        return self.overlaps_us(to_us(interval.start), to_us(interval.end))

    def overlaps_us(self, s: int, e: int) -> bool:
        i = bisect_right(self._ends, s)
        return i < len(self._starts) and self._starts[i] < e

    def first_overlap(self, interval: HasSpan) -> Interval | None:
        """The first interval of the set that ``interval`` overlaps, if any."""
        s, e = to_us(interval.start), to_us(interval.end)
        i = bisect_right(self._ends, s)
        if i < len(self._starts) and self._starts[i] < e:
            return Interval(from_us(self._starts[i]), from_us(self._ends[i]))
        return None

    def total(self) -> timedelta:
        return timedelta(microseconds=sum(e - s for s, e in zip(self._starts, self._ends, strict=True)))

    @property
    def bounds(self) -> Interval | None:
        """From the first start to the last end (None when empty)."""
        if not self._starts:
            return None
        return Interval(from_us(self._starts[0]), from_us(self._ends[-1]))

    def us_pairs(self) -> list[tuple[int, int]]:
        return list(zip(self._starts, self._ends, strict=True))

    @property
    def starts_us(self) -> Sequence[int]:
        return self._starts

    @property
    def ends_us(self) -> Sequence[int]:
        return self._ends

    # --- container protocol ----------------------------------------------------------------------

    def __iter__(self) -> Iterator[Interval]:
        for s, e in zip(self._starts, self._ends, strict=True):
            yield Interval(from_us(s), from_us(e))

    def __len__(self) -> int:
        return len(self._starts)

    def __bool__(self) -> bool:
        return bool(self._starts)

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, IntervalSet):
            return NotImplemented
        return self._starts == other._starts and self._ends == other._ends

    def __hash__(self) -> int:
        return hash((tuple(self._starts), tuple(self._ends)))

    def __repr__(self) -> str:
        inner = ", ".join(f"[{i.start.isoformat()}, {i.end.isoformat()})" for i in self)
        return f"IntervalSet({inner})"



def _normalise(pairs: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """Sort, then merge overlapping and touching intervals."""
    pairs.sort()
    starts: list[int] = []
    ends: list[int] = []
    for s, e in pairs:
        if ends and s <= ends[-1]:
            if e > ends[-1]:
                ends[-1] = e
        else:
            starts.append(s)
            ends.append(e)
    return starts, ends


EMPTY = IntervalSet()
