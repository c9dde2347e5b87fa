"""A TTL cache of busy time per person and UTC day, so a repeat query makes no provider call.

Busy time is stored in fixed buckets of one UTC day per person: a query for any
range is answered from the buckets it touches, so a wider or shifted range only
fetches the days not seen yet (one provider call for all people missing anything,
over the smallest run of days covering what is missing). Every bucket expires
after ``ttl``; a change seen by change detection can drop buckets early with
:meth:`BusyCache.invalidate`.

Stores: :class:`MemoryStore` (in-process, the default) and :class:`RedisStore`
(shared by all web and worker processes), best wrapped in :class:`FailSoftStore` so a
store that is down is skipped. Provider errors are not cached.

A bucket is packed: the day's sorted, disjoint ``(start_us, end_us)`` pairs as native
int64s in one ``bytes``, so a lookup for thousands of people joins the buckets with one
``bytes.join`` and reads them as numpy arrays, without a Python object per interval
(``bench/matching.py``). Redis keeps its JSON list of numbers on the wire.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from array import array
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

import numpy as np

from calendars.base import BusyInterval
from freebusy.batch import Ints, Spans
from freebusy.busy import BusySource, key_of
from freebusy.intervals import IntervalSet, from_us, to_us

log = logging.getLogger(__name__)
DAY_US = 86_400 * 1_000_000
FEW_KEYS = 3  # up to this many people (a booking page asks for two) plain Python beats numpy's set-up
Bucket = bytes
"""Sorted, disjoint ``(start_us, end_us)`` pairs packed as native int64s: start, end, start, ..."""
PAIR_BYTES = 16


def pack(values: Iterable[int]) -> Bucket:
    """A bucket from a flat run of ints (start, end, start, end, ...)."""
    return array("q", values).tobytes()


def unpack(bucket: Bucket) -> list[int]:
    """The flat run of ints in a bucket."""
    out = array("q")
    out.frombytes(bucket)
    return out.tolist()


class CacheStore(Protocol):
    def get_many(self, names: Sequence[str]) -> list[Bucket | None]: ...

    def set_many(self, items: Mapping[str, Bucket], ttl_seconds: float) -> None: ...

    def delete(self, names: Sequence[str]) -> None: ...


class MemoryStore:
    """In-process store with per-entry expiry (thread-safe; trims itself past ``max_entries``)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_entries: int = 200_000) -> None:
        self._data: dict[str, tuple[float, Bucket]] = {}
        self._lock = threading.Lock()
        self._clock = clock
        self.max_entries = max_entries

    def get_many(self, names: Sequence[str]) -> list[Bucket | None]:
        now = self._clock()
        with self._lock:
            hits = list(map(self._data.get, names))
        return [hit[1] if hit is not None and hit[0] > now else None for hit in hits]

    def set_many(self, items: Mapping[str, Bucket], ttl_seconds: float) -> None:
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

    def get_many(self, names: Sequence[str]) -> list[Bucket | None]:
        if not names:
            return []
        raw = self.redis.mget([self.prefix + n for n in names])
        return [None if value is None else pack(json.loads(value)) for value in raw]

    def set_many(self, items: Mapping[str, Bucket], ttl_seconds: float) -> None:
        if not items:
            return
        pipe = self.redis.pipeline(transaction=False)
        ttl_ms = max(1, int(ttl_seconds * 1000))
        for name, bucket in items.items():
            pipe.set(self.prefix + name, json.dumps(unpack(bucket)), px=ttl_ms)
        pipe.execute()

    def delete(self, names: Sequence[str]) -> None:
        if names:
            self.redis.delete(*[self.prefix + n for n in names])


class FailSoftStore:
    """A store that may fail (a shared Redis that is down or hangs): the cache is skipped, not the page.

    A failing read is a miss (busy time is then read from the calendars), a failing write
    or delete is dropped, and after a failure the store is left alone for ``pause``
    seconds so that requests do not each wait out a dead server's timeouts. ``errors``:
    what counts as the store failing (``redis.RedisError`` and ``OSError`` for Redis).
    A dropped delete means a change seen meanwhile may show only when the entry expires.
    """

    def __init__(
        self,
        store: CacheStore,
        errors: tuple[type[BaseException], ...],
        *,
        pause: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.errors = errors
        self.pause = pause
        self._clock = clock
        self._resume_at = 0.0
        self.failures = 0  # calls that failed (each logged)

    @property
    def available(self) -> bool:
        """False while pausing after a failure."""
        return self._clock() >= self._resume_at

    def _failed(self, what: str, exc: BaseException) -> None:
        self.failures += 1
        self._resume_at = self._clock() + self.pause
        log.warning("busy cache store unavailable (%s: %s: %s); skipping it for %.0f s",
                    what, type(exc).__name__, exc, self.pause)

    def get_many(self, names: Sequence[str]) -> list[Bucket | None]:
        if self.available:
            try:
                return self.store.get_many(names)
            except self.errors as exc:
                self._failed("read", exc)
        return [None] * len(names)

    def set_many(self, items: Mapping[str, Bucket], ttl_seconds: float) -> None:
        if self.available:
            try:
                self.store.set_many(items, ttl_seconds)
            except self.errors as exc:
                self._failed("write", exc)

    def delete(self, names: Sequence[str]) -> None:
        if self.available:
            try:
                self.store.delete(names)
            except self.errors as exc:
                self._failed("delete", exc)


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

    def _prefix(self, key: Hashable, generation: int = 0) -> str:
        """Every bucket name of ``key`` is this plus the bucket (UTC day) number."""
        if generation:
            return f"{self.namespace}:{key}:g{generation}:"
        return f"{self.namespace}:{key}:"

    def _name(self, key: Hashable, bucket: int, generation: int = 0) -> str:
        return f"{self._prefix(key, generation)}{bucket}"

    def _generation_name(self, key: Hashable) -> str:
        return f"{self.namespace}:gen:{key}"

    def _generations(self, keys: Sequence[Hashable]) -> list[int]:
        """Each key's generation (0 until :meth:`forget`); part of its bucket names."""
        found = self.store.get_many([self._generation_name(k) for k in keys])
        return [unpack(v)[0] if v else 0 for v in found]

    def forget(self, keys: Iterable[Hashable]) -> None:
        """Forget everything cached for ``keys`` (all days) in O(1) per key.

        Moves each key to a new generation, so its old buckets are never read again and
        simply expire. The generation marker lives as long as a bucket (``ttl``): by the
        time it expires, every bucket written before it was set has expired too, so
        falling back to generation 0 cannot revive stale data.
        """
        generation = time.time_ns()
        self.store.set_many({self._generation_name(k): pack((generation, 0)) for k in keys},
                            self.ttl.total_seconds())

    def get_or_fetch(
        self, source: BusySource, items: Iterable[Any], start: datetime, end: datetime
    ) -> dict[Hashable, IntervalSet]:
        """Busy time in ``[start, end)`` per key of ``items``; cached days are not fetched again."""
        keys, buckets, days, s_us, e_us = self._lookup(source, items, start, end)
        if len(keys) <= FEW_KEYS:  # a pair of people (one booking page): plain Python is quicker
            return {k: _assemble(buckets[i * days:(i + 1) * days], s_us, e_us) for i, k in enumerate(keys)}
        return dict(zip(keys, _sets(_clipped(buckets, days, s_us, e_us), len(keys)), strict=True))

    def get_or_fetch_spans(
        self, source: BusySource, items: Iterable[Any], start: datetime, end: datetime
    ) -> tuple[list[Hashable], Spans]:
        """:meth:`get_or_fetch` as one :class:`~freebusy.batch.Spans` (owner ``i`` is ``keys[i]``).

        In key order, then time order; pieces split at midnight are not joined again.
        """
        keys, buckets, days, s_us, e_us = self._lookup(source, items, start, end)
        return keys, _clipped(buckets, days, s_us, e_us)

    def _lookup(
        self, source: BusySource, items: Iterable[Any], start: datetime, end: datetime
    ) -> tuple[list[Hashable], list[Bucket], int, int, int]:
        """The keys of ``items``, then every key's day buckets touching ``[start, end)``, key by
        key in day order (what was not cached is fetched in one call), buckets per key, the range."""
        s_us, e_us = to_us(start), to_us(end)
        by_key: dict[Hashable, Any] = {}
        for item in items:
            by_key.setdefault(self.key(item), item)
        keys = list(by_key)
        if s_us >= e_us or not keys:
            return keys, [], 0, s_us, e_us
        days = range(s_us // DAY_US, (e_us - 1) // DAY_US + 1)
        n = len(days)
        generations = dict(zip(keys, self._generations(keys), strict=True))
        suffixes = [str(d) for d in days]
        names = [p + d for p in (self._prefix(k, generations[k]) for k in keys) for d in suffixes]
        values = self.store.get_many(names)
        if None in values:
            holes = [i for i, v in enumerate(values) if v is None]
            missing = list(dict.fromkeys(keys[i // n] for i in holes))
            lo, hi = days[min(i % n for i in holes)], days[max(i % n for i in holes)]
            fetched = self._fetch(source, [by_key[k] for k in missing], lo, hi, generations)
            for i in holes:
                values[i] = fetched[keys[i // n]][days[i % n]]
        return keys, cast(list[Bucket], values), n, s_us, e_us

    def _fetch(
        self, source: BusySource, items: list[Any], lo: int, hi: int, generations: Mapping[Hashable, int]
    ) -> dict[Hashable, dict[int, Bucket]]:
        """One provider call for days ``lo..hi``; stores and returns the day buckets per key."""
        self.fetches += 1
        answer = source.busy(items, from_us(lo * DAY_US), from_us((hi + 1) * DAY_US))
        out: dict[Hashable, dict[int, Bucket]] = {}
        to_store: dict[str, Bucket] = {}
        for item in items:
            k = self.key(item)
            found = IntervalSet(answer.get(k, ()))
            days: dict[int, list[int]] = {b: [] for b in range(lo, hi + 1)}
            for s, e in found.us_pairs():
                for b in range(max(lo, s // DAY_US), min(hi, (e - 1) // DAY_US) + 1):
                    days[b] += (max(s, b * DAY_US), min(e, (b + 1) * DAY_US))
            out[k] = {b: pack(flat) for b, flat in days.items()}
            to_store.update({self._name(k, b, generations.get(k, 0)): v for b, v in out[k].items()})
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


def _assemble(buckets: Sequence[Bucket], s_us: int, e_us: int) -> IntervalSet:
    """One person's busy set from their day buckets (in day order), clipped to ``[s_us, e_us)``.

    Each bucket holds sorted, disjoint pairs inside its own day, so the buckets read in
    order are sorted already: one linear pass, no sort.
    """
    flat = unpack(b"".join(buckets))
    return IntervalSet.from_sorted_runs((zip(flat[0::2], flat[1::2], strict=True),), s_us, e_us)


def _clipped(buckets: Sequence[Bucket], per_key: int, s_us: int, e_us: int) -> Spans:
    """Spans from ``per_key`` consecutive buckets per key, clipped to ``[s_us, e_us)``.

    The same joining as :func:`_assemble`, for many people at once: one ``bytes.join``,
    no sort, no object per interval.
    """
    if not buckets:
        return Spans.empty()
    flat = np.frombuffer(b"".join(buckets), dtype=np.int64)
    sizes = np.fromiter(map(len, buckets), dtype=np.int64, count=len(buckets))
    pairs = sizes.reshape(-1, per_key).sum(axis=1) // PAIR_BYTES
    owner = np.repeat(np.arange(pairs.size, dtype=np.int64), pairs)
    start = np.maximum(flat[0::2], s_us)
    end = np.minimum(flat[1::2], e_us)
    live = start < end
    if live.all():
        return Spans(owner, start, end)
    return Spans(owner[live], start[live], end[live])


def _sets(spans: Spans, owners: int) -> list[IntervalSet]:
    """One normalised :class:`IntervalSet` per owner from :func:`_clipped`'s sorted spans.

    Sorted and disjoint per owner already; only pieces touching at midnight are joined.
    """
    if not len(spans):
        return [IntervalSet() for _ in range(owners)]
    o, s, e = spans.owner, spans.start, spans.end
    heads = np.flatnonzero(np.concatenate(([True], (o[1:] != o[:-1]) | (s[1:] > e[:-1]))))
    tails = np.concatenate((heads[1:] - 1, [s.size - 1]))
    starts: list[int] = s[heads].tolist()
    ends: list[int] = e[tails].tolist()
    bounds: Ints = np.searchsorted(o[heads], np.arange(owners + 1), "left")
    cut = bounds.tolist()
    return [IntervalSet.from_normalised(starts[cut[i]:cut[i + 1]], ends[cut[i]:cut[i + 1]])
            for i in range(owners)]


class CachedBusySource:
    """A :class:`BusySource` that answers through a :class:`BusyCache` (same shape as the source)."""

    def __init__(self, source: BusySource, cache: BusyCache) -> None:
        self.source = source
        self.cache = cache

    def busy_sets(self, keys: Sequence[Any], start: datetime, end: datetime) -> dict[Hashable, IntervalSet]:
        """The same answer as :meth:`busy` as ``IntervalSet``s (no per-interval objects: the fast path)."""
        return self.cache.get_or_fetch(self.source, keys, start, end)

    def busy_spans(
        self, keys: Sequence[Any], start: datetime, end: datetime
    ) -> tuple[list[Hashable], Spans]:
        """The same answer for many people as one :class:`~freebusy.batch.Spans` (owner ``i`` is ``keys[i]``).

        No object per interval: what a ranking over thousands of people reads.
        """
        return self.cache.get_or_fetch_spans(self.source, keys, start, end)

    def busy(self, keys: Sequence[Any], start: datetime, end: datetime) -> dict[Any, list[BusyInterval]]:
        found = self.cache.get_or_fetch(self.source, keys, start, end)
        return {k: [BusyInterval(i.start, i.end) for i in v] for k, v in found.items() if v}
