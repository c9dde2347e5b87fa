"""Cutting availability into slots: grid, whole slots only, lead time, busy filtering."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from freebusy.intervals import Interval, IntervalSet
from freebusy.slots import Slot, count_slots, cut_slots, uses_clock_grid

pytestmark = pytest.mark.no_database  # no SQL: the PostgreSQL pass leaves it out

LONDON = ZoneInfo("Europe/London")
DAY = datetime(2030, 1, 8, tzinfo=UTC)  # a Tuesday in winter: London = UTC


def hm(hhmm: str, tz: ZoneInfo | None = None) -> datetime:
    h, m = map(int, hhmm.split(":"))
    return DAY.replace(hour=h, minute=m) if tz is None else datetime(2030, 1, 8, h, m, tzinfo=tz)


def labels(slots: list[Slot]) -> list[str]:
    return [s.start.strftime("%H:%M") for s in slots]


def test_thirty_minute_slots_sit_on_the_half_hour() -> None:
    got = cut_slots(IntervalSet.span(hm("09:10"), hm("11:00")), minutes=30, time_zone=LONDON)
    assert labels(got) == ["09:30", "10:00", "10:30"]
    assert all(s.duration == timedelta(minutes=30) and s.start.tzinfo is not None for s in got)


def test_no_slot_is_shorter_than_the_length() -> None:
    got = cut_slots(IntervalSet.span(hm("09:00"), hm("10:20")), minutes=30, time_zone=LONDON)
    assert labels(got) == ["09:00", "09:30"]
    assert cut_slots(IntervalSet.span(hm("09:00"), hm("09:29")), minutes=30, time_zone=LONDON) == []


def test_lengths_off_the_clock_grid_start_at_the_window() -> None:
    assert not uses_clock_grid(45) and not uses_clock_grid(90) and uses_clock_grid(20)
    avail = IntervalSet.span(hm("09:15"), hm("12:00"))
    assert labels(cut_slots(avail, minutes=45, time_zone=LONDON)) == ["09:15", "10:00", "10:45"]
    assert labels(cut_slots(avail, minutes=90, time_zone=LONDON)) == ["09:15"]
    # The lead time skips whole steps; it never moves the grid.
    got = cut_slots(avail, minutes=45, time_zone=LONDON, not_before=hm("09:20"))
    assert labels(got) == ["10:00", "10:45"]


def test_lead_time_drops_early_slots_without_moving_the_grid() -> None:
    got = cut_slots(IntervalSet.span(hm("09:00"), hm("12:00")), minutes=30, time_zone=LONDON,
                    not_before=hm("10:10"))
    assert labels(got) == ["10:30", "11:00", "11:30"]
    assert cut_slots(IntervalSet.span(hm("09:00"), hm("12:00")), minutes=30, time_zone=LONDON,
                     not_before=hm("11:31")) == []


def test_busy_time_removes_only_the_slots_it_touches() -> None:
    avail = IntervalSet.span(hm("09:00"), hm("12:00"))
    mentor_busy = IntervalSet.span(hm("10:00"), hm("10:10"))
    mentee_busy = IntervalSet([Interval(hm("11:29"), hm("11:31"))])
    got = cut_slots(avail, minutes=30, time_zone=LONDON, busy=[mentor_busy, mentee_busy])
    assert labels(got) == ["09:00", "09:30", "10:30"]
    # Busy time ending exactly at a slot's start (half-open) does not block it.
    edge = IntervalSet.span(hm("08:00"), hm("09:00"))
    assert labels(cut_slots(avail, minutes=30, time_zone=LONDON, busy=[edge]))[0] == "09:00"
    assert count_slots(avail, minutes=30, time_zone=LONDON, busy=[mentor_busy, mentee_busy]) == 3


def test_grid_is_the_mentors_wall_clock_not_utc() -> None:
    ny = ZoneInfo("America/Los_Angeles")
    avail = IntervalSet.span(hm("09:00", ny), hm("11:00", ny))
    got = cut_slots(avail, minutes=60, time_zone=ny)
    assert [s.start.astimezone(ny).hour for s in got] == [9, 10]
    assert all(s.start.tzinfo == UTC for s in got)


def test_bad_length_is_refused() -> None:
    with pytest.raises(ValueError):
        cut_slots(IntervalSet.span(hm("09:00"), hm("10:00")), minutes=0, time_zone=LONDON)


@given(
    st.lists(st.tuples(st.integers(0, 1400), st.integers(1, 300)), max_size=6),
    st.lists(st.tuples(st.integers(0, 1400), st.integers(1, 120)), max_size=6),
    st.sampled_from([15, 30, 45, 60, 90]),
    st.integers(0, 1440),
)
def test_every_slot_is_whole_free_on_grid_and_after_the_lead_time(
    windows: list[tuple[int, int]], busy: list[tuple[int, int]], minutes: int, lead: int
) -> None:
    def m(x: int) -> datetime:
        return DAY + timedelta(minutes=x)

    avail = IntervalSet((m(s), m(s + n)) for s, n in windows)
    busy_set = IntervalSet((m(s), m(s + n)) for s, n in busy)
    got = cut_slots(avail, minutes=minutes, time_zone=LONDON, not_before=m(lead), busy=[busy_set])
    assert got == sorted(got)
    for a, b in itertools.pairwise(got):
        assert a.end <= b.start
    for s in got:
        assert s.duration == timedelta(minutes=minutes)
        assert avail.contains(s) and not busy_set.overlaps(s) and s.start >= m(lead)
        if uses_clock_grid(minutes):
            assert (s.start.hour * 60 + s.start.minute) % minutes == 0
        else:  # a whole number of steps from the start of its window
            window = next(i for i in avail if i.start <= s.start < i.end)
            assert (s.start - window.start) % timedelta(minutes=minutes) == timedelta(0)
    if uses_clock_grid(minutes):  # nothing on the grid that would fit was left out
        expected = 0
        for t in range(0, 3000, minutes):
            span = Interval(m(t), m(t + minutes))
            if m(t) >= m(lead) and avail.contains(span) and not busy_set.overlaps(span):
                expected += 1
        assert len(got) == expected
