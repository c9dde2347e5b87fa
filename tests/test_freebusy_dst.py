"""Weekly availability across clock changes, and the grid slots are cut on, in real zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from freebusy.intervals import Interval, IntervalSet
from freebusy.recurrence import UnknownZone, WeeklyRule, expand_weekly, wall_to_utc
from freebusy.slots import Slot, cut_slots

pytestmark = pytest.mark.no_database  # no SQL: the PostgreSQL pass leaves it out

MON, TUE, WED, SUN = 0, 1, 2, 6


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def rule(weekday: int, start: str, end: str, tz: str) -> WeeklyRule:
    return WeeklyRule(weekday, time.fromisoformat(start), time.fromisoformat(end), tz)


def windows(r: WeeklyRule, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    return [(i.start, i.end) for i in expand_weekly([r], start, end)]


# --- the same wall time on both sides of a clock change ---------------------------------------------


@pytest.mark.parametrize(
    ("zone", "weekday", "before_day", "before_utc", "after_utc"),
    [
        # London: BST from 2030-03-31; Tuesday 09:00 is 09:00Z before, 08:00Z after.
        ("Europe/London", TUE, date(2030, 3, 26), utc(2030, 3, 26, 9), utc(2030, 4, 2, 8)),
        # New York: EDT from 2030-03-10; Monday 09:00 is 14:00Z, then 13:00Z.
        ("America/New_York", MON, date(2030, 3, 4), utc(2030, 3, 4, 14), utc(2030, 3, 11, 13)),
        # Sydney: AEDT ends 2030-04-07; Wednesday 09:00 is 22:00Z the day before, then 23:00Z.
        ("Australia/Sydney", WED, date(2030, 4, 3), utc(2030, 4, 2, 22), utc(2030, 4, 9, 23)),
        # Adelaide (+09:30/+10:30): ACDT from 2030-10-06; Monday 09:00 is 23:30Z, then 22:30Z.
        ("Australia/Adelaide", MON, date(2030, 9, 30), utc(2030, 9, 29, 23, 30), utc(2030, 10, 6, 22, 30)),
    ],
)
def test_weekly_slot_keeps_its_wall_time_across_dst(
    zone: str, weekday: int, before_day: date, before_utc: datetime, after_utc: datetime
) -> None:
    r = rule(weekday, "09:00", "11:00", zone)
    got = windows(r, utc(before_day.year, before_day.month, before_day.day) - timedelta(days=1),
                  after_utc + timedelta(days=1))
    assert got == [(before_utc, before_utc + timedelta(hours=2)), (after_utc, after_utc + timedelta(hours=2))]
    tz = ZoneInfo(zone)
    assert {s.astimezone(tz).time() for s, _ in got} == {time(9)}


def test_kolkata_has_no_dst_and_a_half_hour_offset() -> None:
    r = rule(MON, "10:00", "12:00", "Asia/Kolkata")
    got = windows(r, utc(2030, 3, 1), utc(2030, 4, 15))
    assert len(got) == 6
    assert all((s.hour, s.minute, e.hour, e.minute) == (4, 30, 6, 30) for s, e in got)


# --- nonexistent wall times (spring gap): shifted forward by the gap ---------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "wall", "expected"),
    [
        ("Europe/London", date(2030, 3, 31), "01:30", utc(2030, 3, 31, 1, 30)),  # = 02:30 BST
        ("America/New_York", date(2030, 3, 10), "02:30", utc(2030, 3, 10, 7, 30)),  # = 03:30 EDT
        ("Australia/Sydney", date(2030, 10, 6), "02:30", utc(2030, 10, 5, 16, 30)),  # = 03:30 AEDT
        ("Australia/Adelaide", date(2030, 10, 6), "02:30", utc(2030, 10, 5, 17)),  # = 03:30 ACDT
    ],
)
def test_nonexistent_time_moves_forward_by_the_gap(
    zone: str, day: date, wall: str, expected: datetime
) -> None:
    got = wall_to_utc(day, time.fromisoformat(wall), ZoneInfo(zone))
    assert got == expected
    local = got.astimezone(ZoneInfo(zone))
    assert (local.hour, local.minute) == (int(wall[:2]) + 1, int(wall[3:]))


def test_windows_touching_the_london_gap() -> None:
    start, end = utc(2030, 3, 30), utc(2030, 4, 1)
    # 01:00-03:00 that night: 01:00 is shifted to 02:00 BST, so one real hour remains.
    assert windows(rule(SUN, "01:00", "03:00", "Europe/London"), start, end) == [
        (utc(2030, 3, 31, 1), utc(2030, 3, 31, 2))
    ]
    # 01:30-04:00: from 02:30 BST to 04:00 BST.
    assert windows(rule(SUN, "01:30", "04:00", "Europe/London"), start, end) == [
        (utc(2030, 3, 31, 1, 30), utc(2030, 3, 31, 3))
    ]
    # 01:30-02:00 lies wholly in the gap: it does not happen that night (but does the week after).
    got = windows(rule(SUN, "01:30", "02:00", "Europe/London"), start, utc(2030, 4, 8))
    assert got == [(utc(2030, 4, 7, 0, 30), utc(2030, 4, 7, 1))]


# --- ambiguous wall times (autumn fold): the first occurrence ----------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "wall", "expected"),
    [
        ("Europe/London", date(2030, 10, 27), "01:30", utc(2030, 10, 27, 0, 30)),  # BST, not GMT
        ("America/New_York", date(2030, 11, 3), "01:30", utc(2030, 11, 3, 5, 30)),  # EDT, not EST
        ("Australia/Sydney", date(2030, 4, 7), "02:30", utc(2030, 4, 6, 15, 30)),  # AEDT, not AEST
        ("Australia/Adelaide", date(2030, 4, 7), "02:30", utc(2030, 4, 6, 16)),  # ACDT, not ACST
    ],
)
def test_ambiguous_time_is_the_first_occurrence(zone: str, day: date, wall: str, expected: datetime) -> None:
    got = wall_to_utc(day, time.fromisoformat(wall), ZoneInfo(zone))
    assert got == expected
    later = got + timedelta(hours=1)  # the second time the clock shows the same wall time
    assert later.astimezone(ZoneInfo(zone)).replace(tzinfo=None) == got.astimezone(ZoneInfo(zone)).replace(
        tzinfo=None
    )


def test_window_over_the_london_fold_lasts_as_long_as_it_really_does() -> None:
    got = windows(rule(SUN, "01:00", "02:00", "Europe/London"), utc(2030, 10, 26), utc(2030, 10, 28))
    assert got == [(utc(2030, 10, 27, 0), utc(2030, 10, 27, 2))]  # 01:00 BST .. 02:00 GMT: two hours


# --- expansion basics -------------------------------------------------------------------------------


def test_expansion_clips_to_the_range_and_merges_adjacent_rules() -> None:
    rules = [rule(TUE, "09:00", "11:00", "UTC"), rule(TUE, "11:00", "12:00", "UTC")]
    got = expand_weekly(rules, utc(2030, 1, 1, 10), utc(2030, 1, 8, 10, 30))
    assert list(got) == [
        Interval(utc(2030, 1, 1, 10), utc(2030, 1, 1, 12)),
        Interval(utc(2030, 1, 8, 9), utc(2030, 1, 8, 10, 30)),
    ]
    assert expand_weekly(rules, utc(2030, 1, 2), utc(2030, 1, 2)) == IntervalSet()


def test_bad_rules_are_refused() -> None:
    with pytest.raises(UnknownZone):
        rule(MON, "09:00", "10:00", "Mars/Olympus")
    with pytest.raises(ValueError):
        rule(MON, "10:00", "09:00", "UTC")
    with pytest.raises(ValueError):
        rule(7, "09:00", "10:00", "UTC")


# --- the grid is the mentor's wall clock ------------------------------------------------------------


def starts(slots: list[Slot], tz: str) -> list[str]:
    return [s.start.astimezone(ZoneInfo(tz)).strftime("%H:%M") for s in slots]


def test_hour_slots_in_kolkata_start_on_local_hours() -> None:
    avail = expand_weekly([rule(MON, "09:30", "12:00", "Asia/Kolkata")], utc(2030, 1, 7), utc(2030, 1, 8))
    got = cut_slots(avail, minutes=60, time_zone=ZoneInfo("Asia/Kolkata"))
    assert starts(got, "Asia/Kolkata") == ["10:00", "11:00"]
    assert [s.start for s in got] == [utc(2030, 1, 7, 4, 30), utc(2030, 1, 7, 5, 30)]


def test_half_hour_grid_in_kathmandu_is_quarter_past_in_utc() -> None:
    avail = IntervalSet.span(utc(2030, 1, 7, 3, 0), utc(2030, 1, 7, 4, 30))  # 08:45-10:15 local
    got = cut_slots(avail, minutes=30, time_zone=ZoneInfo("Asia/Kathmandu"))
    assert starts(got, "Asia/Kathmandu") == ["09:00", "09:30"]  # :00/:30 local ...
    assert starts(got, "UTC") == ["03:15", "03:45"]  # ... is :15/:45 UTC at +05:45
    got15 = cut_slots(avail, minutes=15, time_zone=ZoneInfo("Asia/Kathmandu"))
    assert len(got15) == 6


def test_grid_across_the_london_spring_change() -> None:
    # Sunday 00:00-04:00 London on the change night is three real hours.
    avail = expand_weekly([rule(SUN, "00:00", "04:00", "Europe/London")], utc(2030, 3, 30), utc(2030, 4, 1))
    got = cut_slots(avail, minutes=30, time_zone=ZoneInfo("Europe/London"))
    assert starts(got, "Europe/London") == ["00:00", "00:30", "02:00", "02:30", "03:00", "03:30"]


def test_grid_across_a_half_hour_clock_change_on_lord_howe() -> None:
    # Lord Howe moves from +10:30 to +11:00 at 02:00 local on 2030-10-06: hour slots realign.
    lord_howe = rule(SUN, "00:00", "05:00", "Australia/Lord_Howe")
    avail = expand_weekly([lord_howe], utc(2030, 10, 4), utc(2030, 10, 7))
    got = cut_slots(avail, minutes=60, time_zone=ZoneInfo("Australia/Lord_Howe"))
    assert starts(got, "Australia/Lord_Howe") == ["00:00", "01:00", "03:00", "04:00"]
