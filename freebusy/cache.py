"""A TTL cache of busy time per person and UTC day, so a repeat query makes no provider call.

Busy time is stored in fixed buckets of one UTC day per person: a query for any
range is answered from the buckets it touches, so a wider or shifted range only
fetches the days not seen yet (one provider call for all people missing anything,
over the smallest run of days covering what is missing). Every bucket expires
after ``ttl``; a change seen by change detection can drop buckets early with
:meth:`BusyCache.invalidate`.

Stores: :class:`MemoryStore` (in-process, the default) and :class:`RedisStore`
(shared by all web and worker processes). Provider errors are not cached.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from calendars.base import BusyInterval
from freebusy.busy import BusySource, key_of
from freebusy.intervals import IntervalSet, from_us, to_us

DAY_US = 86_400 * 1_000_000
Pairs = list[tuple[int, int]]


class CacheStore(Protocol):
    def get_many(self, names: Sequence[str]) -> list[Pairs | None]: ...

    def set_many(self, items: Mapping[str, Pairs], ttl_seconds: float) -> None: ...

    def delete(self, names: Sequence[str]) -> None: ...


class MemoryStore:
    """In-process store with per-entry expiry (thread-safe; trims itself past ``max_entries``)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_entries: int = 200_000) -> None:
        self._data: dict[str, tuple[float, Pairs]] = {}
        self._lock = threading.Lock()
        self._clock = clock
        self.max_entries = max_entries

    def get_many(self, names: Sequence[str]) -> list[Pairs | None]:
        now = self._clock()
        out: list[Pairs | None] = []
        with self._lock:
            for name in names:
                hit = self._data.get(name)
                out.append(hit[1] if hit is not None and hit[0] > now else None)
        return out

    def set_many(self, items: Mapping[str, Pairs], ttl_seconds: float) -> None:
        expires = self._clock() + ttl_seconds
        with self._lock:
            for name, pairs in items.items():
                self._data.pop(name, None)  # re-insert: dict order is then oldest-written first
                self._data[name] = (expires, pairs)
            if len(self._data) > self.max_entries:
                now = self._clock()
                self._data = {k: v for k, v in self._data.items() if v[0] > now}
                while len(self._data) > self.max_entries:
                    del self._data[next(iter(self._data))]

    def delete(self, names: Sequence[str]) -> None:
        with self._lock:
            for name in names:
                self._data.pop(name, None)


class RedisStore:
    """Buckets as JSON lists of microsecond pairs under ``prefix``, expiring by Redis TTL."""

    def __init__(
        self,
        redis: Any = None,
        prefix: str = "flashmentor:busy:",
        *,
        connect: Callable[[], Any] | None = None,
    ) -> None:
        if redis is None and connect is None:
            raise ValueError("give a Redis client or a way to connect")
        self._redis = redis
        self._connect = connect
        self.prefix = prefix

    @property
    def redis(self) -> Any:
        """The client; with ``connect``, made on first use (an embedded Redis starts only when needed)."""
        if self._redis is None:
            assert self._connect is not None
            self._redis = self._connect()
        return self._redis

    def get_many(self, names: Sequence[str]) -> list[Pairs | None]:
        if not names:
            return []
        raw = self.redis.mget([self.prefix + n for n in names])
        out: list[Pairs | None] = []
        for value in raw:
            if value is None:
                out.append(None)
            else:
                flat = json.loads(value)
                out.append(list(zip(flat[::2], flat[1::2], strict=True)))
        return out

    def set_many(self, items: Mapping[str, Pairs], ttl_seconds: float) -> None:
        if not items:
            return
        pipe = self.redis.pipeline(transaction=False)
        ttl_ms = max(1, int(ttl_seconds * 1000))
        for name, pairs in items.items():
            flat = [x for pair in pairs for x in pair]
            pipe.set(self.prefix + name, json.dumps(flat), px=ttl_ms)
        pipe.execute()

    def delete(self, names: Sequence[str]) -> None:
        if names:
            self.redis.delete(*[self.prefix + n for n in names])


class BusyCache:
    """Busy time per person, fetched from a :class:`BusySource` at most once per day bucket and TTL.

    ``key`` turns a requested item into its answer key (see ``freebusy.busy.key_of``);
    ``namespace`` keeps different sources apart in one store.
    """

    def __init__(
        self,
        store: CacheStore | None = None,
        *,
        ttl: timedelta = timedelta(minutes=5),
        key: Callable[[Any], Hashable] = key_of,
        namespace: str = "busy",
    ) -> None:
        self.store: CacheStore = store if store is not None else MemoryStore()
        self.ttl = ttl
        self.key = key
        self.namespace = namespace
        self.fetches = 0  # provider calls made through this cache

    def _name(self, key: Hashable, bucket: int, generation: int = 0) -> str:
        if generation:
            return f"{self.namespace}:{key}:g{generation}:{bucket}"
        return f"{self.namespace}:{key}:{bucket}"

    def _generation_name(self, key: Hashable) -> str:
        return f"{self.namespace}:gen:{key}"

    def _generations(self, keys: Sequence[Hashable]) -> list[int]:
        """Each key's generation (0 until :meth:`forget`); part of its bucket names."""
        found = self.store.get_many([self._generation_name(k) for k in keys])
        return [int(v[0][0]) if v else 0 for v in found]

    def forget(self, keys: Iterable[Hashable]) -> None:
        """Forget everything cached for ``keys`` (all days) in O(1) per key.

        Moves each key to a new generation, so its old buckets are never read again and
        simply expire. The generation marker lives as long as a bucket (``ttl``): by the
        time it expires, every bucket written before it was set has expired too, so
        falling back to generation 0 cannot revive stale data.
        """
        generation = time.time_ns()
        self.store.set_many({self._generation_name(k): [(generation, 0)] for k in keys},
                            self.ttl.total_seconds())

    def get_or_fetch(
        self, source: BusySource, items: Iterable[Any], start: datetime, end: datetime
    ) -> dict[Hashable, IntervalSet]:
        """Busy time in ``[start, end)`` per key of ``items``; cached days are not fetched again."""
        s_us, e_us = to_us(start), to_us(end)
        by_key: dict[Hashable, Any] = {}
        for item in items:
            by_key.setdefault(self.key(item), item)
        if s_us >= e_us or not by_key:
            return {k: IntervalSet() for k in by_key}
        buckets = range(s_us // DAY_US, (e_us - 1) // DAY_US + 1)
        keys = list(by_key)
        generations = dict(zip(keys, self._generations(keys), strict=True))
        names = [self._name(k, b, generations[k]) for k in keys for b in buckets]
        values = self.store.get_many(names)
        per_key: dict[Hashable, list[Pairs | None]] = {
            k: values[i * len(buckets):(i + 1) * len(buckets)] for i, k in enumerate(keys)
        }
        missing = [k for k in keys if any(v is None for v in per_key[k])]
        if missing:
            lo = min(buckets[i] for k in missing for i, v in enumerate(per_key[k]) if v is None)
            hi = max(buckets[i] for k in missing for i, v in enumerate(per_key[k]) if v is None)
            fetched = self._fetch(source, [by_key[k] for k in missing], lo, hi, generations)
            for k in missing:
                got = fetched.get(k, {})
                per_key[k] = [got.get(b, v) for b, v in zip(buckets, per_key[k], strict=True)]
        return {k: _assemble(per_key[k], s_us, e_us) for k in keys}

    def _fetch(
        self, source: BusySource, items: list[Any], lo: int, hi: int, generations: Mapping[Hashable, int]
    ) -> dict[Hashable, dict[int, Pairs]]:
        """One provider call for days ``lo..hi``; stores and returns the day buckets per key."""
        self.fetches += 1
        answer = source.busy(items, from_us(lo * DAY_US), from_us((hi + 1) * DAY_US))
        out: dict[Hashable, dict[int, Pairs]] = {}
        to_store: dict[str, Pairs] = {}
        for item in items:
            k = self.key(item)
            found = IntervalSet(answer.get(k, ()))
            days: dict[int, Pairs] = {b: [] for b in range(lo, hi + 1)}
            for s, e in found.us_pairs():
                for b in range(max(lo, s // DAY_US), min(hi, (e - 1) // DAY_US) + 1):
                    days[b].append((max(s, b * DAY_US), min(e, (b + 1) * DAY_US)))
            out[k] = days
            to_store.update({self._name(k, b, generations.get(k, 0)): pairs for b, pairs in days.items()})
        self.store.set_many(to_store, self.ttl.total_seconds())
        return out

    def invalidate(self, keys: Iterable[Hashable], start: datetime, end: datetime) -> None:
        """Forget cached busy time of ``keys`` on the days touching ``[start, end)``."""
        s_us, e_us = to_us(start), to_us(end)
        buckets = range(s_us // DAY_US, max(s_us, e_us - 1) // DAY_US + 1)
        keys = list(keys)
        generations = self._generations(keys)
        self.store.delete(
            [self._name(k, b, g) for k, g in zip(keys, generations, strict=True) for b in buckets]
        )


def _assemble(buckets: Sequence[Pairs | None], s_us: int, e_us: int) -> IntervalSet:
    """One person's busy set from their day buckets (in day order), clipped to ``[s_us, e_us)``.

    Each bucket holds sorted, disjoint pairs inside its own day, so the buckets read in
    order are sorted already: one linear pass, no sort.
    """
    return IntervalSet.from_sorted_runs(buckets, s_us, e_us)


class CachedBusySource:
    """A :class:`BusySource` that answers through a :class:`BusyCache` (same shape as the source)."""

    def __init__(self, source: BusySource, cache: BusyCache) -> None:
        self.source = source
        self.cache = cache

    def busy_sets(self, keys: Sequence[Any], start: datetime, end: datetime) -> dict[Hashable, IntervalSet]:
        """The same answer as :meth:`busy` as ``IntervalSet``s (no per-interval objects: the fast path)."""
        return self.cache.get_or_fetch(self.source, keys, start, end)

    def busy(self, keys: Sequence[Any], start: datetime, end: datetime) -> dict[Any, list[BusyInterval]]:
        found = self.cache.get_or_fetch(self.source, keys, start, end)
        return {k: [BusyInterval(i.start, i.end) for i in v] for k, v in found.items() if v}
