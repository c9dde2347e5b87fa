"""The busy cache: a repeat query makes no provider call; TTL, widening ranges, Redis store."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from calendars.base import BusyInterval, CalendarIdentity
from freebusy.busy import StaticBusySource
from freebusy.cache import (
    BLOCK_DAYS,
    BLOCK_US,
    FEW_KEYS,
    FORMAT,
    BusyCache,
    CachedBusySource,
    MemoryStore,
    RedisStore,
    pack,
)
from freebusy.intervals import Interval, IntervalSet, to_us

D0 = datetime(2030, 1, 7, tzinfo=UTC)


def at(day: int, hour: float) -> datetime:
    return D0 + timedelta(days=day, hours=hour)


def source() -> StaticBusySource:
    return StaticBusySource({
        "ann@example.com": [BusyInterval(at(0, 9), at(0, 10)), BusyInterval(at(1, 22), at(2, 2))],
        "bob@example.com": [BusyInterval(at(3, 12), at(3, 13))],
    })


PEOPLE = [CalendarIdentity("ann@example.com", "ann@example.com"), CalendarIdentity("bob@example.com", "bob")]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_repeat_query_makes_no_provider_call() -> None:
    src, cache = source(), BusyCache()
    first = cache.get_or_fetch(src, PEOPLE, D0, at(14, 0))
    second = cache.get_or_fetch(src, PEOPLE, D0, at(14, 0))
    assert src.calls == 1 and first == second
    assert list(first["ann@example.com"]) == [Interval(at(0, 9), at(0, 10)), Interval(at(1, 22), at(2, 2))]
    assert list(first["bob@example.com"]) == [Interval(at(3, 12), at(3, 13))]
    # A narrower range inside the cached days is also a hit, clipped to the range.
    inner = cache.get_or_fetch(src, PEOPLE[:1], at(1, 23), at(2, 1))
    assert src.calls == 1 and list(inner["ann@example.com"]) == [Interval(at(1, 23), at(2, 1))]


def block_start(moment: datetime) -> datetime:
    """The start of the cache block (``BLOCK_DAYS`` UTC days from the epoch) holding ``moment``."""
    return datetime.fromtimestamp(to_us(moment) // BLOCK_US * BLOCK_US / 1e6, UTC)


def test_widening_fetches_only_the_missing_blocks_once() -> None:
    src, cache = source(), BusyCache()
    first: list[tuple[datetime, datetime]] = []
    original = src.busy

    def spy_first(keys: Any, start: datetime, end: datetime) -> Any:
        first.append((start, end))
        return original(keys, start, end)

    src.busy = spy_first  # type: ignore[method-assign]
    cache.get_or_fetch(src, PEOPLE, D0, at(2, 0))
    block = timedelta(days=BLOCK_DAYS)
    assert first == [(block_start(D0), block_start(D0) + block)]  # the whole block, once
    src.busy = original  # type: ignore[method-assign]
    calls: list[tuple[datetime, datetime]] = []
    original = src.busy

    def spy(keys: Any, start: datetime, end: datetime) -> Any:
        calls.append((start, end))
        return original(keys, start, end)

    src.busy = spy  # type: ignore[method-assign]
    got = cache.get_or_fetch(src, PEOPLE, at(1, 0), at(4, 0))
    assert block_start(at(4, 0)) > block_start(D0)  # the range reaches into the next block
    assert calls == [(block_start(at(4, 0)), block_start(at(4, 0)) + block)]  # the first was cached
    assert list(got["bob@example.com"]) == [Interval(at(3, 12), at(3, 13))]
    cache.get_or_fetch(src, PEOPLE, D0, at(4, 0))
    assert len(calls) == 1


def test_entries_expire_after_the_ttl_and_can_be_invalidated() -> None:
    clock = Clock()
    src, cache = source(), BusyCache(MemoryStore(clock=clock), ttl=timedelta(minutes=5))
    cache.get_or_fetch(src, PEOPLE, D0, at(1, 0))
    clock.now += 299
    cache.get_or_fetch(src, PEOPLE, D0, at(1, 0))
    assert src.calls == 1
    clock.now += 2
    cache.get_or_fetch(src, PEOPLE, D0, at(1, 0))
    assert src.calls == 2
    cache.invalidate(["ann@example.com"], at(0, 9), at(0, 10))
    cache.get_or_fetch(src, PEOPLE[1:], D0, at(1, 0))
    assert src.calls == 2  # bob untouched
    cache.get_or_fetch(src, PEOPLE, D0, at(1, 0))
    assert src.calls == 3


def test_redis_store_is_shared_between_caches(redis: Any) -> None:
    src = source()
    one = BusyCache(RedisStore(redis), ttl=timedelta(minutes=5))
    two = BusyCache(RedisStore(redis), ttl=timedelta(minutes=5))
    a = one.get_or_fetch(src, PEOPLE, D0, at(14, 0))
    b = two.get_or_fetch(src, PEOPLE, D0, at(14, 0))
    assert src.calls == 1 and a == b
    name = f"flashmentor:busy:busy:ann@example.com:{FORMAT}:{to_us(D0) // BLOCK_US}"
    assert 0 < redis.pttl(name) <= 300_000
    # Packed on the wire: the generation (none yet), then ann's first interval as int64 pairs.
    assert redis.get(name)[:24] == pack((0, to_us(at(0, 9)), to_us(at(0, 10))))


def test_cached_source_has_the_source_shape_and_errors_are_not_cached() -> None:
    class Flaky(StaticBusySource):
        fail = True

        def busy(self, keys: Any, start: datetime, end: datetime) -> Any:
            if self.fail:
                self.fail = False
                raise RuntimeError("provider down")
            return super().busy(keys, start, end)

    src = Flaky(source().data)
    cached = CachedBusySource(src, BusyCache())
    with pytest.raises(RuntimeError):
        cached.busy(PEOPLE, D0, at(1, 0))
    got = cached.busy(PEOPLE, D0, at(1, 0))
    assert got == {"ann@example.com": [BusyInterval(at(0, 9), at(0, 10))]}
    assert cached.busy(PEOPLE, D0, at(1, 0)) == got and src.calls == 1


@pytest.mark.parametrize("shared", [False, True])
def test_forget_drops_every_day_of_a_person_and_only_theirs(shared: bool, request: Any) -> None:
    clock = Clock()
    if shared:
        redis = request.getfixturevalue("redis")
        one, two = (BusyCache(RedisStore(redis), ttl=timedelta(minutes=5)) for _ in range(2))
    else:
        one = two = BusyCache(MemoryStore(clock=clock), ttl=timedelta(minutes=5))
    src = source()
    far = D0 + timedelta(days=900)  # any date, not just near "now"
    one.get_or_fetch(src, PEOPLE, D0, at(4, 0))
    one.get_or_fetch(src, PEOPLE, far, far + timedelta(days=2))
    assert src.calls == 2

    two.forget(["ann@example.com"])  # e.g. another process saw ann's calendar change
    src.data["ann@example.com"] = [BusyInterval(at(0, 12), at(0, 13))]

    assert one.get_or_fetch(src, PEOPLE[1:], D0, at(4, 0))["bob@example.com"]  # bob: still cached
    assert src.calls == 2
    got = one.get_or_fetch(src, PEOPLE, D0, at(4, 0))
    assert list(got["ann@example.com"]) == [Interval(at(0, 12), at(0, 13))] and src.calls == 3
    one.get_or_fetch(src, PEOPLE[:1], far, far + timedelta(days=2))
    assert src.calls == 4  # the far days were dropped too
    one.get_or_fetch(src, PEOPLE, D0, at(4, 0))
    assert src.calls == 4  # and what was fetched after forgetting is cached again


@pytest.mark.parametrize("shared", [False, True])
def test_spans_for_many_people_are_the_same_busy_time(shared: bool, request: Any) -> None:
    store = RedisStore(request.getfixturevalue("redis")) if shared else MemoryStore()
    src, cache = source(), BusyCache(store)
    cache.get_or_fetch(src, PEOPLE[:1], D0, at(2, 0))  # ann's first days cached, the rest is not
    keys, spans = cache.get_or_fetch_spans(src, PEOPLE, at(0, 9.5), at(4, 0))
    assert src.calls == 2  # one call for what was missing
    assert keys == ["ann@example.com", "bob@example.com"]
    sets = cache.get_or_fetch(src, PEOPLE, at(0, 9.5), at(4, 0))
    assert src.calls == 2
    assert [spans.of(i) for i in range(len(keys))] == [sets[k] for k in keys]
    # Clipped to the range.
    ann = list(zip(spans.start[spans.owner == 0].tolist(), spans.end[spans.owner == 0].tolist(), strict=True))
    assert ann == [(to_us(at(0, 9.5)), to_us(at(0, 10))), (to_us(at(1, 22)), to_us(at(2, 2)))]
    assert list(sets["ann@example.com"]) == [Interval(at(0, 9.5), at(0, 10)), Interval(at(1, 22), at(2, 2))]
    # Across a block boundary: split in the spans, joined again in the sets.
    edge = block_start(at(7, 0))
    crossing = [BusyInterval(edge - timedelta(hours=2), edge + timedelta(hours=3))]
    across = StaticBusySource({"ann@example.com": crossing, "bob@example.com": crossing})
    keys, spans = BusyCache(store, namespace="edge").get_or_fetch_spans(across, PEOPLE, D0, at(14, 0))
    mine = spans.owner == 0
    assert list(zip(spans.start[mine].tolist(), spans.end[mine].tolist(), strict=True)) == [
        (to_us(edge - timedelta(hours=2)), to_us(edge)), (to_us(edge), to_us(edge + timedelta(hours=3)))]
    joined = BusyCache(store, namespace="edge").get_or_fetch(across, PEOPLE, D0, at(14, 0))
    assert list(joined["ann@example.com"]) == [Interval(edge - timedelta(hours=2), edge + timedelta(hours=3))]
    assert across.calls == 1


def test_busy_sets_are_the_same_for_a_pair_and_for_many_people() -> None:
    # A booking page asks for two people (assembled in plain Python), a ranking for thousands
    # (assembled with numpy); both read the same buckets and must give the same sets.
    rnd = random.Random(5)
    data = {}
    for n in range(12):
        spans = []
        for _ in range(rnd.randint(0, 30)):
            s = D0 + timedelta(minutes=15 * rnd.randrange(10 * 96))
            spans.append(BusyInterval(s, s + timedelta(minutes=rnd.choice((15, 60, 300, 2000)))))
        data[f"p{n}@example.com"] = spans
    src, cache = StaticBusySource(data), BusyCache()
    people = [CalendarIdentity(k, k) for k in data]
    start, end = at(0, 7.25), at(9, 13)
    many = cache.get_or_fetch(src, people, start, end)
    assert len(many) == 12 > FEW_KEYS and src.calls == 1
    for a, b in zip(people[::2], people[1::2], strict=True):
        pair = cache.get_or_fetch(src, [a, b], start, end)
        assert pair == {k: many[k] for k in pair}
    assert many == {k: IntervalSet(v).clip(start, end) for k, v in data.items()}
