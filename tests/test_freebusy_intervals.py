"""The interval algebra obeys its laws and agrees with a minute-by-minute reference."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calendars.base import BusyInterval
from freebusy.intervals import Interval, IntervalSet

pytestmark = pytest.mark.no_database  # no SQL: the PostgreSQL pass leaves it out

BASE = datetime(2030, 3, 1, tzinfo=UTC)
ZONES = [UTC, ZoneInfo("America/New_York"), ZoneInfo("Asia/Kolkata"), timezone(timedelta(hours=-3))]


def minute(m: int) -> datetime:
    return BASE + timedelta(minutes=m)


@st.composite
def interval_lists(draw: st.DrawFn) -> list[Interval]:
    """Up to 12 intervals on a 600-minute range, overlapping and touching freely, in mixed zones."""
    out = []
    for _ in range(draw(st.integers(0, 12))):
        s = draw(st.integers(0, 580))
        length = draw(st.integers(1, 60))
        tz = draw(st.sampled_from(ZONES))
        out.append(Interval(minute(s).astimezone(tz), minute(s + length).astimezone(tz)))
    return out


sets = interval_lists().map(IntervalSet)


def minutes_of(items: IntervalSet | list[Interval]) -> set[int]:
    """The naive reference: the set of minutes covered."""
    covered: set[int] = set()
    for i in items:
        a = int((i.start - BASE) / timedelta(minutes=1))
        b = int((i.end - BASE) / timedelta(minutes=1))
        covered.update(range(a, b))
    return covered


def assert_normalised(s: IntervalSet) -> None:
    items = list(s)
    for i in items:
        assert i.start.tzinfo is UTC and i.end.tzinfo is UTC
        assert i.start < i.end
    for a, b in itertools.pairwise(items):
        assert a.end < b.start, "sorted, disjoint and not touching"


@settings(max_examples=300)
@given(interval_lists(), interval_lists())
def test_operations_agree_with_minute_grid_reference(a: list[Interval], b: list[Interval]) -> None:
    sa, sb = IntervalSet(a), IntervalSet(b)
    ma, mb = minutes_of(a), minutes_of(b)
    assert minutes_of(sa) == ma
    assert minutes_of(sa.union(sb)) == ma | mb
    assert minutes_of(sa.intersect(sb)) == ma & mb
    assert minutes_of(sa.subtract(sb)) == ma - mb
    for result in (sa, sa.union(sb), sa.intersect(sb), sa.subtract(sb)):
        assert_normalised(result)


@given(sets, sets)
def test_intersection_and_union_commute(a: IntervalSet, b: IntervalSet) -> None:
    assert a.intersect(b) == b.intersect(a)
    assert a.union(b) == b.union(a)


@given(sets, sets, sets)
def test_associativity_and_distribution(a: IntervalSet, b: IntervalSet, c: IntervalSet) -> None:
    assert a.intersect(b).intersect(c) == a.intersect(b.intersect(c))
    assert a.union(b).union(c) == a.union(b.union(c))
    assert a.intersect(b.union(c)) == a.intersect(b).union(a.intersect(c))
    assert a.subtract(b.union(c)) == a.subtract(b).subtract(c)


@given(sets, sets)
def test_subtract_then_union_with_intersection_restores(a: IntervalSet, b: IntervalSet) -> None:
    assert a.subtract(b).union(a.intersect(b)) == a
    assert not a.subtract(b).intersect(b)


@given(sets, st.integers(0, 600), st.integers(1, 90))
def test_contains_and_overlaps_agree_with_reference(a: IntervalSet, s: int, length: int) -> None:
    probe = Interval(minute(s), minute(s + length))
    wanted = set(range(s, s + length))
    assert a.contains(probe) == (wanted <= minutes_of(a))
    assert a.overlaps(probe) == bool(wanted & minutes_of(a))
    first = a.first_overlap(probe)
    assert (first is not None) == a.overlaps(probe)


@given(sets, st.integers(0, 45))
def test_padding_widens_every_interval(a: IntervalSet, pad: int) -> None:
    padded = a.padded(timedelta(minutes=pad))
    expected = {m + d for m in minutes_of(a) for d in range(-pad, pad + 1)}
    assert minutes_of(padded) == expected if pad else minutes_of(padded) == minutes_of(a)


def test_adjacent_intervals_merge_and_results_are_utc() -> None:
    london = ZoneInfo("Europe/London")
    s = IntervalSet([
        Interval(datetime(2030, 7, 1, 10, tzinfo=london), datetime(2030, 7, 1, 11, tzinfo=london)),
        (datetime(2030, 7, 1, 10, tzinfo=UTC), datetime(2030, 7, 1, 11, tzinfo=UTC)),  # 11:00-12:00 BST
    ])
    assert list(s) == [Interval(datetime(2030, 7, 1, 9, tzinfo=UTC), datetime(2030, 7, 1, 11, tzinfo=UTC))]
    assert s.total() == timedelta(hours=2)
    assert len(s) == 1 and bool(s) and not IntervalSet()


def test_inputs_from_calendars_and_bad_inputs() -> None:
    busy = [BusyInterval(minute(0), minute(30)), BusyInterval(minute(30), minute(30))]  # zero-length dropped
    assert list(IntervalSet(busy)) == [Interval(minute(0), minute(30))]
    with pytest.raises(ValueError):
        Interval(minute(10), minute(10))
    with pytest.raises(ValueError):
        Interval(datetime(2030, 1, 1), datetime(2030, 1, 2))  # naive
    with pytest.raises(ValueError):
        IntervalSet([(minute(10), minute(5))])


def test_clip_and_bounds() -> None:
    s = IntervalSet([Interval(minute(0), minute(60)), Interval(minute(90), minute(120))])
    clipped = [Interval(minute(30), minute(60)), Interval(minute(90), minute(100))]
    assert list(s.clip(minute(30), minute(100))) == clipped
    assert s.bounds == Interval(minute(0), minute(120))
    assert IntervalSet().bounds is None
    assert (s | IntervalSet()) == s and (s & IntervalSet()) == IntervalSet() and (s - IntervalSet()) == s
