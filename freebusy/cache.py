"""A TTL cache of busy time per person and UTC day, so a repeat query makes no provider call.

Busy time is stored in fixed buckets of one block of ``BLOCK_DAYS`` UTC days per person:
a query for any range is answered from the blocks it touches, so a wider or shifted
range only fetches the blocks not seen yet (one provider call for all people missing
anything, over the smallest run of blocks covering what is missing). Every bucket
expires after ``ttl``; a change seen by change detection can drop buckets early with
:meth:`BusyCache.invalidate`, or all of a person's with :meth:`BusyCache.forget`.

Stores: :class:`MemoryStore` (in-process, the default) and :class:`RedisStore`
(shared by all web and worker processes), best wrapped in :class:`FailSoftStore` so a
store that is down is skipped. Provider errors are not cached.

A bucket is packed: the person's generation (see :meth:`BusyCache.forget`), then the block's
sorted, disjoint ``(start_us, end_us)`` pairs, as native int64s in one ``bytes``; stores keep
and ship those bytes as they are (Redis too: no JSON). A lookup for thousands of people
is one ``get_many`` (one Redis MGET: the generation markers and the blocks together),
joins the buckets with one ``bytes.join`` and reads them as numpy arrays, without a
Python object per interval (``bench/matching.py``, ``bench/free_mentors.py``).
"""

from __future__ import annotations

import logging
import threading
import time
from array import array
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

import numpy as np
from prometheus_client import Counter

from calendars.base import BusyInterval
from freebusy.batch import Ints, Spans
from freebusy.busy import BusySource, key_of
from freebusy.intervals import IntervalSet, from_us, to_us

log = logging.getLogger(__name__)
DAY_US = 86_400 * 1_000_000
BLOCK_DAYS = 7
"""Days per bucket: a two-week query reads 2-3 buckets per person (not 15), a miss fetches whole blocks."""
BLOCK_US = BLOCK_DAYS * DAY_US
FORMAT = "b7"
"""In every bucket name: a change of the bucket layout gets new names, so processes of the
previous version (during a deploy) never read buckets of the new one or the other way round."""
HEADER_BYTES = 8
FEW_KEYS = 3  # up to this many people (a booking page asks for two) plain Python beats numpy's set-up
Bucket = bytes
"""Native int64s: the generation it was fetched under, then sorted, disjoint ``(start_us, end_us)``
pairs: start, end, start, ... (generation markers hold ``(generation, 0)``)."""
PAIR_BYTES = 16
LOOKUPS = Counter(
    "flashmentor_busy_cache_lookups", "Busy-cache buckets read (person x week), found or missing",
    ["result"])
"""Hit ratio: ``rate(..{result="hit"}) / rate(..)``; a miss is a bucket fetched from the calendars."""


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


JOINED_MGET = r"""
local prefix, sizes, values, names = ARGV[1], {}, {}, {}
for name in string.gmatch(ARGV[2], "[^\n]+") do names[#names + 1] = prefix .. name end
for first = 1, #names, 1000 do
  local found = redis.call("MGET", unpack(names, first, math.min(first + 999, #names)))
  for i = 1, #found do
    local v = found[i]
    if v then values[#values + 1] = v; sizes[#sizes + 1] = #v else sizes[#sizes + 1] = -1 end
  end
end
return {table.concat(sizes, ","), table.concat(values)}
"""
"""MGET of ``prefix`` + each newline-separated name, answered as two strings: the sizes
(-1: no such key) and the values joined. The names are built on the server, so this suits one
Redis server (or a cluster only if all the names hash to one slot: they do not)."""


class RedisStore:
    """Buckets as they are (packed bytes) under ``prefix``, expiring by Redis TTL."""

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
        self._joined: Any = None

    @property
    def redis(self) -> Any:
        """The client; with ``connect``, made on first use (an embedded Redis starts only when needed)."""
        if self._redis is None:
            assert self._connect is not None
            self._redis = self._connect()
        return self._redis

    def get_many(self, names: Sequence[str]) -> list[Bucket | None]:
        """One round trip and two replies for any number of names (see :data:`JOINED_MGET`):
        redis-py would otherwise encode every name and parse every value one by one in Python,
        ~40 us each, which is most of a thousand-mentor query's time."""
        if not names:
            return []
        if self._joined is None:
            self._joined = self.redis.register_script(JOINED_MGET)
        sizes, blob = self._joined(args=[self.prefix, "\n".join(names)])
        out: list[Bucket | None] = []
        at = 0
        for size in map(int, sizes.split(b",")):
            if size < 0:
                out.append(None)
            else:
                out.append(blob[at:at + size])
                at += size
        return out

    def set_many(self, items: Mapping[str, Bucket], ttl_seconds: float) -> None:
        if not items:
            return
        pipe = self.redis.pipeline(transaction=False)
        ttl_ms = max(1, int(ttl_seconds * 1000))
        for name, bucket in items.items():
            pipe.set(self.prefix + name, bucket, px=ttl_ms)
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

    def _prefix(self, key: Hashable) -> str:
        """Every bucket name of ``key`` is this plus the block number (UTC day // ``BLOCK_DAYS``)."""
        return f"{self.namespace}:{key}:{FORMAT}:"

    def _name(self, key: Hashable, block: int) -> str:
        return f"{self._prefix(key)}{block}"

    def _generation_name(self, key: Hashable) -> str:
        return f"{self.namespace}:gen:{FORMAT}:{key}"

    def forget(self, keys: Iterable[Hashable]) -> None:
        """Forget everything cached for ``keys`` (all days) in O(1) per key.

        Moves each key to a new generation: every bucket carries the generation it was
        fetched under, and one of another generation is a miss, so the old buckets are
        never read again and simply expire (a fetch that was under way when the key was
        forgotten stores its answer under the old generation: a miss too). The marker lives
        as long as a bucket (``ttl``): by the time it expires, every bucket written before
        it was set has expired too, so falling back to generation 0 cannot revive stale data.
        """
        generation = time.time_ns()
        self.store.set_many({self._generation_name(k): pack((generation, 0)) for k in keys},
                            self.ttl.total_seconds())

    def get_or_fetch(
        self, source: BusySource, items: Iterable[Any], start: datetime, end: datetime
    ) -> dict[Hashable, IntervalSet]:
        """Busy time in ``[start, end)`` per key of ``items``; cached blocks are not fetched again."""
        keys, buckets, blocks, s_us, e_us = self._lookup(source, items, start, end)
        if len(keys) <= FEW_KEYS:  # a pair of people (one booking page): plain Python is quicker
            return {k: _assemble(buckets[i * blocks:(i + 1) * blocks], s_us, e_us)
                    for i, k in enumerate(keys)}
        return dict(zip(keys, _sets(_clipped(buckets, blocks, s_us, e_us), len(keys)), strict=True))

    def get_or_fetch_spans(
        self, source: BusySource, items: Iterable[Any], start: datetime, end: datetime
    ) -> tuple[list[Hashable], Spans]:
        """:meth:`get_or_fetch` as one :class:`~freebusy.batch.Spans` (owner ``i`` is ``keys[i]``).

        In key order, then time order; pieces split at block boundaries are not joined again.
        """
        keys, buckets, blocks, s_us, e_us = self._lookup(source, items, start, end)
        return keys, _clipped(buckets, blocks, s_us, e_us)

    def _lookup(
        self, source: BusySource, items: Iterable[Any], start: datetime, end: datetime
    ) -> tuple[list[Hashable], list[Bucket], int, int, int]:
        """The keys of ``items``, then every key's blocks touching ``[start, end)`` without their
        generation header, key by key in time order (what was not cached, or was cached under
        an older generation, is fetched in one call), blocks per key, the range.

        One ``get_many`` (one round trip to Redis) reads the generation markers and the blocks.
        """
        s_us, e_us = to_us(start), to_us(end)
        by_key: dict[Hashable, Any] = {}
        for item in items:
            by_key.setdefault(self.key(item), item)
        keys = list(by_key)
        if s_us >= e_us or not keys:
            return keys, [], 0, s_us, e_us
        blocks = range(s_us // BLOCK_US, (e_us - 1) // BLOCK_US + 1)
        n, k = len(blocks), len(keys)
        suffixes = [str(b) for b in blocks]
        names = [self._generation_name(key) for key in keys]
        names += [p + b for p in map(self._prefix, keys) for b in suffixes]
        found = self.store.get_many(names)
        heads = [_NO_GENERATION if g is None else g[:HEADER_BYTES] for g in found[:k]]
        values = found[k:]
        holes = [i for i, v in enumerate(values) if v is None or v[:HEADER_BYTES] != heads[i // n]]
        LOOKUPS.labels("hit").inc(len(values) - len(holes))
        LOOKUPS.labels("miss").inc(len(holes))
        if holes:
            missing = list(dict.fromkeys(keys[i // n] for i in holes))
            lo, hi = blocks[min(i % n for i in holes)], blocks[max(i % n for i in holes)]
            generations = {keys[i]: heads[i] for i in range(k)}
            fetched = self._fetch(source, [by_key[key] for key in missing], lo, hi, generations)
            for i in holes:
                values[i] = fetched[keys[i // n]][blocks[i % n]]
        return keys, [v[HEADER_BYTES:] for v in cast(list[Bucket], values)], n, s_us, e_us

    def _fetch(
        self, source: BusySource, items: list[Any], lo: int, hi: int, generations: Mapping[Hashable, bytes]
    ) -> dict[Hashable, dict[int, Bucket]]:
        """One provider call for blocks ``lo..hi``; stores and returns the blocks per key (with header)."""
        self.fetches += 1
        answer = source.busy(items, from_us(lo * BLOCK_US), from_us((hi + 1) * BLOCK_US))
        out: dict[Hashable, dict[int, Bucket]] = {}
        to_store: dict[str, Bucket] = {}
        for item in items:
            k = self.key(item)
            found = IntervalSet(answer.get(k, ()))
            blocks: dict[int, list[int]] = {b: [] for b in range(lo, hi + 1)}
            for s, e in found.us_pairs():
                for b in range(max(lo, s // BLOCK_US), min(hi, (e - 1) // BLOCK_US) + 1):
                    blocks[b] += (max(s, b * BLOCK_US), min(e, (b + 1) * BLOCK_US))
            head = generations.get(k, _NO_GENERATION)
            out[k] = {b: head + pack(flat) for b, flat in blocks.items()}
            to_store.update({self._name(k, b): v for b, v in out[k].items()})
        self.store.set_many(to_store, self.ttl.total_seconds())
        return out

    def invalidate(self, keys: Iterable[Hashable], start: datetime, end: datetime) -> None:
        """Forget cached busy time of ``keys`` on the blocks touching ``[start, end)``."""
        s_us, e_us = to_us(start), to_us(end)
        blocks = range(s_us // BLOCK_US, max(s_us, e_us - 1) // BLOCK_US + 1)
        self.store.delete([self._name(k, b) for k in keys for b in blocks])


_NO_GENERATION = pack((0,))


def _assemble(buckets: Sequence[Bucket], s_us: int, e_us: int) -> IntervalSet:
    """One person's busy set from their blocks (in time order, headers cut), clipped to ``[s_us, e_us)``.

    Each block holds sorted, disjoint pairs inside its own days, so the blocks read in
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

    Sorted and disjoint per owner already; only pieces touching at a block boundary are joined.
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
