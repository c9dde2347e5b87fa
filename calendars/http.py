"""The one retry/backoff policy every provider uses, and the HTTP-status -> error mapping.

Providers turn whatever their SDK raises into a :class:`~calendars.base.CalendarError`
(usually through :func:`error_for_status`) and run each provider call through
:meth:`RetryPolicy.run`. Retryable errors (throttling, 5xx, network) are retried
here with exponential backoff and jitter, honouring ``Retry-After``; when the
attempts run out (or the server asks for a longer pause than we are willing to
wait inline) the error goes up to the worker, which retries the job later.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from prometheus_client import Counter, Histogram

from calendars.base import (
    AlreadyExists,
    AuthError,
    CalendarError,
    Gone,
    NotFound,
    ProviderUnavailable,
    RateLimited,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

PROVIDER_CALLS = Counter(
    "flashmentor_provider_calls", "Calls to a calendar provider (each attempt), by outcome",
    ["provider", "outcome"])
PROVIDER_ERRORS = Counter(
    "flashmentor_provider_errors", "Failed calendar provider calls (each attempt), by error type",
    ["provider", "error"])
PROVIDER_SECONDS = Histogram(
    "flashmentor_provider_call_duration_seconds", "Seconds one calendar provider call (attempt) took",
    ["provider"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
PROVIDER_OF_WORD = {"caldav": "caldav", "google": "google", "graph": "microsoft", "microsoft": "microsoft"}
"""The provider named by the first word of ``RetryPolicy.run``'s ``what`` (every provider starts it so)."""


def provider_of(what: str) -> str:
    word = what.split(" ", 1)[0].lower()
    return PROVIDER_OF_WORD.get(word, "other")


# Google's reasons for a 403 that means "slow down" rather than "forbidden".
RATE_LIMIT_REASONS = frozenset(
    {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded", "dailyLimitExceeded"}
)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date form)."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def error_for_status(
    status: int,
    message: str = "",
    *,
    reasons: Iterable[str] = (),
    retry_after: str | None = None,
) -> CalendarError | None:
    """Map an HTTP status (plus provider error reasons) to our error type; ``None`` for success.

    401 -> AuthError; 403 -> AuthError unless a reason says rate limit; 404 -> NotFound; 409 -> AlreadyExists;
    410 -> Gone (a NotFound: expired sync token or deleted resource); 429/503 and
    rate-limit reasons -> RateLimited(retry_after); other 5xx and 408 -> ProviderUnavailable.
    """
    if status < 400:
        return None
    reasons = set(reasons)
    text = message or f"HTTP {status}"
    if status == 429 or status == 503 or (status == 403 and reasons & RATE_LIMIT_REASONS):
        return RateLimited(text, parse_retry_after(retry_after))
    if status == 401:
        return AuthError(text)
    if status == 403:
        return AuthError(text)
    if status == 404:
        return NotFound(text)
    if status == 409:
        return AlreadyExists(text)
    if status == 410:
        return Gone(text)
    if status == 408 or status >= 500:
        return ProviderUnavailable(text)
    return CalendarError(text)


def header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    """A header value looked up case-insensitively (httplib2 lower-cases, requests does not care)."""
    if not headers:
        return None
    wanted = name.lower()
    for key, value in headers.items():
        if str(key).lower() == wanted:
            return str(value)
    return None


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter; ``Retry-After`` wins when the server sends one.

    ``max_retry_after`` caps how long we are willing to wait inline: a server asking
    for more gets the :class:`RateLimited` straight back to the worker, which
    re-enqueues the job with that delay instead of holding a worker process.
    ``max_elapsed`` bounds one call, every attempt and wait included: no retry starts
    that would wait past it (``calendars.deadlines``: ``calendar_call_seconds``).
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 120.0
    max_elapsed: float | None = None
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)
    random: Callable[[], float] = field(default=random.random, compare=False, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, compare=False, repr=False)

    def delay(self, attempt: int, error: CalendarError) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (attempts count from 1)."""
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return float(retry_after)
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return ceiling * self.random()

    def run(self, call: Callable[[], T], *, what: str = "provider call") -> T:
        """Run ``call``, retrying retryable :class:`CalendarError` s; re-raise the last one."""
        attempt = 1
        started = self.clock()
        provider = provider_of(what)
        while True:
            began = time.perf_counter()
            try:
                result = call()
            except Exception as exc:
                _observe(provider, began, exc)
                if not isinstance(exc, CalendarError) or not exc.retryable or attempt >= self.max_attempts:
                    raise
                wait = self.delay(attempt, exc)
                if wait > self.max_retry_after:
                    raise
                if self.max_elapsed is not None and self.clock() - started + wait > self.max_elapsed:
                    raise
                log.info(
                    "%s failed (%s: %s); retry %d in %.2fs", what, type(exc).__name__, exc, attempt, wait
                )
                self.sleep(wait)
                attempt += 1
            else:
                _observe(provider, began, None)
                return result


def _observe(provider: str, began: float, error: BaseException | None) -> None:
    """Count and time one attempt (Prometheus: ``flashmentor_provider_*``)."""
    PROVIDER_SECONDS.labels(provider).observe(time.perf_counter() - began)
    PROVIDER_CALLS.labels(provider, "ok" if error is None else "error").inc()
    if error is not None:
        PROVIDER_ERRORS.labels(provider, type(error).__name__).inc()


DEFAULT_POLICY = RetryPolicy()


def policy_from_config(config: Mapping[str, Any] | None) -> RetryPolicy:
    """A policy from a tenant's optional ``retry`` settings (max_attempts, base_delay, ...)."""
    raw = dict((config or {}).get("retry") or {})
    allowed = {"max_attempts", "base_delay", "max_delay", "max_retry_after", "max_elapsed"}
    values = {k: raw[k] for k in allowed if k in raw}
    return RetryPolicy(**values) if values else DEFAULT_POLICY
