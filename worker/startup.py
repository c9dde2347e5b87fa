"""Wiring the worker side at start-up, in the web app and in the worker alike.

:func:`install` gives :mod:`worker.runtime` its settings and Redis, routes provider push
notifications to a planned tenant sync, and (``nudge``) relays the rows a transaction
just committed as soon as it commits, so work due now does not wait for the worker's
next relay pass. A failed nudge is only logged: the rows are committed and any
worker's relay sends them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from redis import Redis

from scheduling.events import DomainEvent, WorkPlanned, subscribe, unsubscribe
from worker import calendar_jobs, runtime
from worker.jobs.calendars import sync_tenant_soon

log = logging.getLogger(__name__)


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
