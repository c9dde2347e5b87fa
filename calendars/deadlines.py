"""How long any outbound call may take: calendar providers, Redis, SMTP, the database's connect, and a
page's calendar reads.

One frozen value, read from the environment once (``app.config`` puts it in the app's
settings as ``DEADLINES``) and installed with :func:`configure` at start-up, so the
layers that may not import ``app`` (providers, the Redis helpers) read the same
numbers through :func:`current`. It lives in ``calendars`` only because that is the
lowest package every other one may import.

Every call has a connect timeout and a bound on its total time: a per-read timeout
plus a bounded number of attempts (providers: also ``calendar_call_seconds`` over all
retries). A web request reads calendars within ``calendar_read_budget`` seconds in
total, whatever the providers do; what is not answered by then is treated as "could
not be read" (the page shows a note, booked meetings still count).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Deadlines:
    """Seconds (and attempt counts) for outbound calls; the environment variable of each is in
    :data:`ENV` and the README."""

    calendar_connect: float = 5.0  # TCP/TLS connect to a calendar provider
    calendar_read: float = 20.0  # one read on a provider socket (a tenant's ``timeout`` overrides it)
    calendar_call_seconds: float = 60.0  # one provider call, all retries included
    calendar_read_budget: float = 4.0  # all busy-time reads of one web request
    redis_connect: float = 2.0
    redis_read: float = 5.0  # one Redis command (RQ raises it for its blocking dequeue)
    redis_retries: int = 1  # extra attempts after a connection error or timeout
    smtp: float = 30.0  # SMTP connect and each command
    database_connect: float = 5.0  # PostgreSQL connect (unless DATABASE_URL sets connect_timeout)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Deadlines:
        """Defaults, overridden by whichever ``FLASHMENTOR_*`` variables are set (bad values refused)."""
        env = os.environ if env is None else env
        values: dict[str, float | int] = {}
        for f in fields(cls):
            raw = env.get(ENV[f.name])
            if raw is None or not raw.strip():
                continue
            kind = int if f.type in ("int", int) else float
            try:
                value = kind(raw)
            except ValueError:
                raise ValueError(f"{ENV[f.name]} must be a number, not {raw!r}") from None
            if value < 0 or (value == 0 and kind is float):
                raise ValueError(f"{ENV[f.name]} must be positive, not {raw!r}")
            values[f.name] = value
        return cls(**values)  # type: ignore[arg-type]


ENV = {
    "calendar_connect": "FLASHMENTOR_CALENDAR_CONNECT_TIMEOUT",
    "calendar_read": "FLASHMENTOR_CALENDAR_READ_TIMEOUT",
    "calendar_call_seconds": "FLASHMENTOR_CALENDAR_CALL_SECONDS",
    "calendar_read_budget": "FLASHMENTOR_CALENDAR_READ_BUDGET",
    "redis_connect": "FLASHMENTOR_REDIS_CONNECT_TIMEOUT",
    "redis_read": "FLASHMENTOR_REDIS_READ_TIMEOUT",
    "redis_retries": "FLASHMENTOR_REDIS_RETRIES",
    "smtp": "SMTP_TIMEOUT",
    "database_connect": "FLASHMENTOR_DATABASE_CONNECT_TIMEOUT",
}

_current: Deadlines | None = None


def configure(deadlines: Deadlines) -> None:
    """Use these deadlines in this process from now on (``create_app`` calls it)."""
    global _current
    _current = deadlines


def current() -> Deadlines:
    """The installed deadlines, else the environment's."""
    global _current
    if _current is None:
        _current = Deadlines.from_env()
    return _current


def redis_options(deadlines: Deadlines | None = None) -> dict[str, object]:
    """Keyword arguments for a ``redis.Redis`` client: connect and read timeouts, bounded retry."""
    from redis.backoff import ExponentialBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from redis.retry import Retry

    d = deadlines or current()
    return {
        "socket_connect_timeout": d.redis_connect,
        "socket_timeout": d.redis_read,
        "retry": Retry(ExponentialBackoff(cap=0.25, base=0.05), d.redis_retries,
                       supported_errors=(RedisConnectionError, RedisTimeoutError)),
    }
