"""A web request's calendar reads: one time budget for all of them, and whether any went unread.

The app opens a :func:`scope` per request (``app/resilience.py``); inside it each
provider call of :class:`scheduling.tenants.TenantBusySource` runs through
:func:`within_budget`, on a pool thread, and the request stops waiting for it when
the budget is spent (the thread ends at the provider's own socket timeout). Calendars
that could not be read - the provider down, too slow, the busy cache's Redis down -
are noted with :func:`note_unread`, so a page can say its free times come from booked
meetings only. Outside a scope (the worker, the CLI) there is no budget and nothing
is noted: calls run inline, bounded by the providers' own timeouts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TypeVar

from calendars.base import ProviderUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")
UNREAD_NOTE = ("Some calendars could not be read just now, so these times only leave out booked "
               "meetings; the other person's calendar may still be busy.")
POOL_THREADS = 16
BROKEN_NOTE = ("{names}'s {whose} broken, so their calendar was not read: these times only leave out "
               "their booked meetings, and they may still be busy.")
BROKEN_NAMES_SHOWN = 3


@dataclass
class Reads:
    """One request's budget (a ``time.monotonic`` deadline), what went unread, and whose
    calendar connection is broken (person id -> name; ``scheduling.calendar_health``)."""

    deadline: float | None
    unread: list[str] = field(default_factory=list)
    broken: dict[int, str] = field(default_factory=dict)


_reads: ContextVar[Reads | None] = ContextVar("calendar_reads", default=None)
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def begin(budget_seconds: float | None) -> Reads:
    """Start a fresh budget for the current context (a web request); returns it."""
    reads = Reads(None if budget_seconds is None else time.monotonic() + budget_seconds)
    _reads.set(reads)
    return reads


def end() -> None:
    _reads.set(None)


@contextmanager
def scope(budget_seconds: float | None) -> Iterator[Reads]:
    """:func:`begin` for the duration of a ``with`` block."""
    token = _reads.set(None)
    try:
        yield begin(budget_seconds)
    finally:
        _reads.reset(token)


def note_unread(reason: str) -> None:
    """Record that some calendar could not be read (a no-op outside a scope)."""
    reads = _reads.get()
    if reads is not None:
        reads.unread.append(reason)


def unread() -> bool:
    """Whether any calendar read of the current scope failed or ran out of time."""
    reads = _reads.get()
    return bool(reads is not None and reads.unread)


def in_scope() -> bool:
    """Whether a web request is counting its calendar reads (else notes are not kept)."""
    return _reads.get() is not None


def note_broken(people: Iterable[tuple[int, str]]) -> None:
    """These people's calendar connections are broken: their calendars were not read."""
    reads = _reads.get()
    if reads is not None:
        reads.broken.update(people)


def broken() -> list[dict[str, object]]:
    """``{"person_id", "name"}`` of each person whose broken connection left their calendar unread."""
    reads = _reads.get()
    if reads is None:
        return []
    return [{"person_id": pid, "name": name} for pid, name in reads.broken.items()]


def _names(names: list[str]) -> str:
    if len(names) > BROKEN_NAMES_SHOWN:
        rest = len(names) - BROKEN_NAMES_SHOWN + 1
        names = [*names[: BROKEN_NAMES_SHOWN - 1], f"{rest} others"]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def note() -> str | None:
    """The sentences a page or payload shows when calendars went unread or connections are
    broken, else None."""
    reads = _reads.get()
    if reads is None:
        return None
    parts = []
    if reads.broken:
        names = list(reads.broken.values())
        whose = "calendar connection is" if len(names) == 1 else "calendar connections are"
        parts.append(BROKEN_NOTE.format(names=_names(names), whose=whose))
    if reads.unread:
        parts.append(UNREAD_NOTE)
    return " ".join(parts) or None


def remaining() -> float | None:
    """Seconds left in the current budget (never below 0), or None without one."""
    reads = _reads.get()
    if reads is None or reads.deadline is None:
        return None
    return max(0.0, reads.deadline - time.monotonic())


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(POOL_THREADS, thread_name_prefix="calendar-read")
        return _pool


def within_budget(call: Callable[[], T], what: str) -> T:
    """``call()``, but given up with :class:`ProviderUnavailable` once the budget is spent.

    Without a budget it runs inline. With one it runs on a pool thread, so a provider
    that accepts the connection and never answers holds this request no longer than
    the budget; the abandoned call ends on its own socket timeout.
    """
    left = remaining()
    if left is None:
        return call()
    if left <= 0:
        raise ProviderUnavailable(f"{what}: no time left to read calendars in this request")
    future: Future[T] = _executor().submit(call)
    try:
        return future.result(timeout=left)
    except FutureTimeout:
        future.cancel()
        log.warning("%s did not answer within the request's calendar budget; going on without it", what)
        raise ProviderUnavailable(f"{what} did not answer in time") from None
