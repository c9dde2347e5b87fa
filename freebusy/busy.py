"""Where busy time comes from: anything shaped like ``CalendarConnector.busy``.

A :class:`BusySource` answers ``busy(keys, start, end) -> {key: [BusyInterval]}``
for a batch of people at once (providers batch: 50 calendars per Google call).
What a key is belongs to the source: connectors take ``CalendarIdentity`` objects
and answer by ``person_key``; ``scheduling.tenants.TenantBusySource`` takes
``Person`` rows and answers by person id. A person missing from the answer has no
known busy time.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from calendars.base import BusyInterval
from freebusy.intervals import IntervalSet


@runtime_checkable
class BusySource(Protocol):
    def busy(
        self, keys: Sequence[Any], start: datetime, end: datetime
    ) -> Mapping[Any, Sequence[BusyInterval]]:
        """Busy intervals per key in ``[start, end)``."""
        ...


def key_of(item: Any) -> Hashable:
    """The answer key for a requested item: ``person_key`` for a ``CalendarIdentity``,
    ``id`` for a ``Person`` row, else the item itself (a plain string or int key)."""
    person_key = getattr(item, "person_key", None)
    if person_key is not None:
        return str(person_key)
    ident = getattr(item, "id", None)
    if ident is not None:
        return int(ident)
    return item


def as_set(intervals: Iterable[BusyInterval]) -> IntervalSet:
    return IntervalSet(intervals)


class StaticBusySource:
    """Busy time held in memory ``{key: [BusyInterval]}``; counts the calls it answers.

    Real behaviour, not a stand-in: used for people whose busy time is known up front
    (imports, the benchmark), and to show that a cache hit makes no call.
    """

    def __init__(self, data: Mapping[Hashable, Iterable[BusyInterval]] | None = None) -> None:
        self.data: dict[Hashable, list[BusyInterval]] = {k: list(v) for k, v in (data or {}).items()}
        self.calls = 0

    def busy(self, keys: Sequence[Any], start: datetime, end: datetime) -> dict[Any, list[BusyInterval]]:
        self.calls += 1
        out: dict[Any, list[BusyInterval]] = {}
        for item in keys:
            key = key_of(item)
            found = [b for b in self.data.get(key, ()) if b.start < end and b.end > start]
            if found:
                out[key] = found
        return out
