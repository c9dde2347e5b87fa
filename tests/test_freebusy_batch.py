"""Counting for many mentors at once gives what cutting slots one mentor at a time gives.

``freebusy.batch`` is only a faster way to the same answer: the memoised grids must equal
``candidate_starts_us(expand_weekly(...))`` (across clock changes too, or say they cannot),
and ``count_clear`` must keep exactly the starts ``filter_free_us`` keeps.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from typing import Any

import numpy as np
import pytest

from freebusy import batch
from freebusy.batch import Spans, count_clear, ints, weekly_grid, weekly_starts
from freebusy.intervals import IntervalSet, to_us
from freebusy.recurrence import UnknownZone, expand_weekly, rules_from_text, zone
from freebusy.slots import MINUTE_US, candidate_starts_us, filter_free_us

pytestmark = pytest.mark.no_database  # no SQL: the PostgreSQL pass leaves it out

ZONES = ("Europe/London", "America/New_York", "Australia/Sydney", "Australia/Lord_Howe", "Asia/Kathmandu",
         "Asia/Kolkata", "Australia/Adelaide", "Pacific/Chatham", "UTC")
# Ranges holding clock changes: US and EU spring, Australia and Chatham autumn, EU autumn.
STARTS = (datetime(2030, 3, 4, 7, 13, tzinfo=UTC), datetime(2030, 3, 25, 23, 0, tzinfo=UTC),
          datetime(2030, 4, 1, 0, 0, tzinfo=UTC), datetime(2030, 10, 21, 5, 30, tzinfo=UTC),
          datetime(2030, 10, 1, 12, 0, tzinfo=UTC))


def random_rules(rnd: random.Random, tz: str) -> str:
    """Weekly rules as text, some in the small hours (where clock changes happen), some touching."""
    items = []
    for weekday in rnd.sample(range(7), rnd.randint(1, 4)):
        s = rnd.randrange(0, 22 * 60, 15)
        e = min(s + rnd.choice((15, 45, 60, 90, 180, 300)), 24 * 60 - 1)
        zone_field = rnd.choice(("", tz, "Europe/Berlin"))
        items.append(f"{weekday} {s // 60:02d}:{s % 60:02d} {e // 60:02d}:{e % 60:02d} {zone_field}")
    w, _, e, z = items[0].split(" ")
    if rnd.random() < 0.3 and e < "23:30":  # a second window the same day, touching the first
        items.append(f"{w} {e} 23:30 {z}")
    return ";".join(items)


def reference_starts(rules: str, tz: str, minutes: int, start: datetime, end: datetime, nb: int) -> list[int]:
    """What cutting one mentor's availability gives (the path ``bookable_slots`` takes)."""
    return candidate_starts_us(expand_weekly(rules_from_text(rules, tz), start, end), minutes, zone(tz), nb)


@pytest.mark.parametrize("minutes", [15, 20, 30, 45, 60, 90])
def test_grid_starts_equal_cutting_one_mentor_at_a_time(minutes: int) -> None:
    rnd = random.Random(minutes)
    mentors = [(random_rules(rnd, tz), tz) for tz in ZONES for _ in range(25)]
    checked = by_hand = 0
    for start in STARTS:
        for lead_hours in (0, 5, 30):
            end = start + timedelta(days=rnd.choice((3, 14)))
            nb = to_us(start + timedelta(hours=lead_hours, minutes=rnd.randrange(60)))
            starts, owner, exact = weekly_starts(mentors, minutes, to_us(start), to_us(end), nb)
            by_hand += len(exact)
            for i, (rules, tz) in enumerate(mentors):
                if i in exact:
                    continue
                assert starts[owner == i].tolist() == reference_starts(rules, tz, minutes, start, end, nb), (
                    rules, tz, start)
                checked += 1
    assert checked > 2000
    assert by_hand < checked / 5  # the memo answers nearly everything itself


def random_dated(rnd: random.Random, rules: str, tz: str, start: datetime) -> tuple[tuple[int, int], ...]:
    """Dated slots near ``start``: some on their own, some touching or overlapping a weekly window
    (merged windows: a slot may span both), some straddling ``start``."""
    found = []
    weekly = expand_weekly(rules_from_text(rules, tz), start - timedelta(days=2), start + timedelta(days=9))
    for _ in range(rnd.randint(1, 4)):
        kind = rnd.random()
        if kind < 0.4 and weekly:  # touching (or overlapping) the end of a weekly window
            _, we = rnd.choice(list(zip(weekly.starts_us, weekly.ends_us, strict=True)))
            s = we - rnd.choice((0, 0, 15, 40)) * MINUTE_US
        elif kind < 0.55:  # already running at the range start
            s = to_us(start) - rnd.randrange(15, 180) * MINUTE_US
        else:
            s = to_us(start) + rnd.randrange(0, 8 * 24 * 60, 5) * MINUTE_US
        found.append((s, s + rnd.choice((20, 45, 60, 95, 240)) * MINUTE_US))
    return tuple(sorted(found))


@pytest.mark.parametrize("minutes", [15, 30, 45, 60, 90])
def test_grid_starts_with_dated_slots_equal_cutting_one_mentor_at_a_time(minutes: int) -> None:
    """Dated slots are united with the weekly windows (``availability_of``) before the grid is cut."""
    rnd = random.Random(100 + minutes)
    checked = 0
    for start in STARTS:
        end = start + timedelta(days=7)
        nb = to_us(start + timedelta(hours=rnd.choice((0, 5)), minutes=rnd.randrange(60)))
        mentors = []
        for tz in ZONES:
            for _ in range(8):
                rules = random_rules(rnd, tz) if rnd.random() < 0.85 else ""  # some have dated slots only
                mentors.append((rules, tz, random_dated(rnd, rules or f"0 09:00 10:00 {tz}", tz, start)))
        starts, owner, exact = weekly_starts(mentors, minutes, to_us(start), to_us(end), nb)
        for i, (rules, tz, dated) in enumerate(mentors):
            if i in exact:
                continue
            weekly = expand_weekly(rules_from_text(rules, tz), start, end) if rules else IntervalSet()
            availability = weekly.union(IntervalSet.from_us_pairs(dated).clip(start, end))
            assert starts[owner == i].tolist() == candidate_starts_us(availability, minutes, zone(tz), nb), (
                rules, tz, dated, start)
            checked += 1
    assert checked > 200


def test_a_window_holding_a_clock_change_is_left_to_the_caller() -> None:
    # Lord Howe moves from +10:30 to +11:00 at 02:00 local on Sunday 2030-10-06.
    start, end = datetime(2030, 10, 3, tzinfo=UTC), datetime(2030, 10, 10, tzinfo=UTC)
    mentors = [("6 00:00 05:00 ", "Australia/Lord_Howe"), ("6 09:00 12:00 ", "Australia/Lord_Howe")]
    starts, owner, exact = weekly_starts(mentors, 60, to_us(start), to_us(end), to_us(start))
    assert exact == [0]
    assert starts[owner == 1].tolist() == reference_starts(*mentors[1], 60, start, end, to_us(start))
    # What the caller then computes keeps the realigned hours of that night.
    got = reference_starts(*mentors[0], 60, start, end, to_us(start))
    lord_howe = zone("Australia/Lord_Howe")
    local = [datetime.fromtimestamp(t / 1e6, UTC).astimezone(lord_howe).strftime("%H:%M") for t in got]
    assert local == ["00:00", "01:00", "03:00", "04:00"]


def test_a_window_anchored_grid_cut_by_the_range_start_is_left_to_the_caller() -> None:
    # 45-minute slots start at the window start; a window already running at ``start``
    # would be anchored at ``start`` instead, which the memo cannot know.
    monday = datetime(2030, 1, 7, tzinfo=UTC)
    mentors = [("0 09:00 12:00 ", "UTC"), ("1 09:00 12:00 ", "UTC")]
    start = monday.replace(hour=10)
    _, owner, exact = weekly_starts(mentors, 45, to_us(start), to_us(start + timedelta(days=7)), 0)
    assert exact == [0] and set(owner.tolist()) == {1}


def test_grids_are_memoised_per_rules_and_local_dates() -> None:
    batch.forget_grids()
    mentors = [("0 09:00 17:00 ", "Europe/London")] * 3
    start = datetime(2030, 1, 7, 8, tzinfo=UTC)
    for minutes_later in (0, 1, 90):  # "now" moves on during the day: same local dates, same entry
        s = to_us(start + timedelta(minutes=minutes_later))
        weekly_starts(mentors, 30, s, s + 14 * 24 * 60 * MINUTE_US, s)
    info = weekly_grid.cache_info()
    assert info.currsize == 1 and info.hits == 2  # one grid for the three (same rules and zone)
    together = batch._clock_starts.cache_info()
    assert together.currsize == 1 and together.hits == 2  # the three mentors' starts: made once


def test_unknown_zones_and_bad_rules_are_refused() -> None:
    start = to_us(datetime(2030, 1, 7, tzinfo=UTC))
    with pytest.raises(UnknownZone):
        weekly_starts([("0 09:00 10:00 Mars/Olympus", "UTC")], 30, start, start + 10**11, start)
    with pytest.raises(ValueError):
        weekly_starts([("0 10:00 09:00 UTC", "UTC")], 30, start, start + 10**11, start)


# --- counting starts clear of busy time ----------------------------------------------------------------


def random_set(rnd: random.Random, lo: int, hi: int, n: int) -> IntervalSet:
    pairs = []
    for _ in range(n):
        s = rnd.randrange(lo, hi, 5 * MINUTE_US)
        pairs.append((s, s + rnd.choice((1, 15, 30, 45, 120)) * MINUTE_US))
    return IntervalSet.from_us_pairs(pairs)


@pytest.mark.parametrize("seed", range(6))
def test_counts_equal_filtering_one_owner_at_a_time(seed: int) -> None:
    rnd = random.Random(seed)
    length = rnd.choice((15, 30, 60)) * MINUTE_US
    lo, hi = to_us(datetime(2030, 3, 4, tzinfo=UTC)), to_us(datetime(2030, 3, 18, tzinfo=UTC))
    owners = 40
    per_owner = [sorted({rnd.randrange(lo, hi - length, 15 * MINUTE_US) for _ in range(rnd.randint(0, 60))})
                 for _ in range(owners)]
    shared = random_set(rnd, lo, hi, 30)
    # Each owner's busy time in two overlapping parts (calendar and meetings), far-off spans too.
    cal = [random_set(rnd, lo - 10**11, hi + 10**11, rnd.randint(0, 40)) for _ in range(owners)]
    booked = [random_set(rnd, lo, hi, rnd.randint(0, 5)) for _ in range(owners)]
    own = Spans.of_sets(enumerate(cal)) + Spans.of_sets(enumerate(booked))
    order = list(range(owners))
    rnd.shuffle(order)  # starts need not come owner by owner
    starts = ints(t for i in order for t in per_owner[i])
    owner = ints(i for i in order for _ in per_owner[i])
    got = count_clear(starts, owner, owners, length, shared, own)
    minutes = length // MINUTE_US
    expected = [len(filter_free_us(per_owner[i], minutes, [shared, cal[i], booked[i]]))
                for i in range(owners)]
    assert got.tolist() == expected


def test_touching_busy_blocks_block_like_one() -> None:
    t0 = to_us(datetime(2030, 3, 4, 9, tzinfo=UTC))
    half = 30 * MINUTE_US
    starts = ints([t0, t0 + half, t0 + 2 * half, t0 + 3 * half])
    # Busy 09:30-10:00 and 10:00-10:30 (split at a cache day boundary, say): two slots blocked.
    own = Spans(ints([0, 0]), ints([t0 + half, t0 + 2 * half]), ints([t0 + 2 * half, t0 + 3 * half]))
    got = count_clear(starts, ints([0] * 4), 1, half, IntervalSet(), own)
    assert got.tolist() == [2]


def test_owners_go_in_groups_when_their_bands_would_overflow(monkeypatch: Any) -> None:
    rnd = random.Random(9)
    lo = to_us(datetime(2030, 3, 4, tzinfo=UTC))
    hi = lo + 14 * 24 * 60 * MINUTE_US
    owners = 12
    per_owner = [sorted({rnd.randrange(lo, hi, 30 * MINUTE_US) for _ in range(30)}) for _ in range(owners)]
    busy = [random_set(rnd, lo, hi, 20) for _ in range(owners)]
    starts = ints(t for ts in per_owner for t in ts)
    owner = ints(i for i, ts in enumerate(per_owner) for _ in ts)
    spans = Spans.of_sets(enumerate(busy))
    whole = count_clear(starts, owner, owners, 30 * MINUTE_US, IntervalSet(), spans)
    monkeypatch.setattr(batch, "_KEY_LIMIT", 3 * (hi - lo + 30 * MINUTE_US))  # about three owners a pass
    grouped = count_clear(starts, owner, owners, 30 * MINUTE_US, IntervalSet(), spans)
    expected = [len(filter_free_us(per_owner[i], 30, [busy[i]])) for i in range(owners)]
    assert whole.tolist() == grouped.tolist() == expected


def test_spans_renumber_and_read_back_one_owner() -> None:
    spans = Spans(ints([0, 1, 1, 2]), ints([10, 20, 25, 40]), ints([15, 30, 35, 45]))
    moved = spans.renumbered(ints([5, -1, 7]))
    assert moved.owner.tolist() == [5, 7] and moved.start.tolist() == [10, 40]
    assert spans.of(1).us_pairs() == [(20, 35)]  # normalised: the two overlap
    assert len(Spans.empty() + spans) == 4 and np.array_equal((spans + Spans.empty()).end, spans.end)


def test_rules_text_round_trips_into_weekly_rules() -> None:
    rules = rules_from_text("1 09:00:00.000000 10:30:00 ;4 14:00 15:00 Asia/Kolkata", "Europe/London")
    assert [(r.weekday, r.start, r.end, r.time_zone) for r in rules] == [
        (1, time(9), time(10, 30), "Europe/London"), (4, time(14), time(15), "Asia/Kolkata"),
    ]
