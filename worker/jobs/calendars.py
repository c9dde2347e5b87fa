"""Jobs that follow people's calendars: the periodic sync round (one sync per tenant),
push-notified syncs, and the round that opens and renews push channels.

Rounds are timed work rows like any other, keyed by their number (``calendar-sync-<n>``
runs at the n-th multiple of ``CALENDAR_SYNC_SECONDS``), so whoever books a round (a
relay starting, the round before) books the same row once; the relay keeps the next
round booked, so a lost round is replaced rather than ending the chain.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling import timed_work
from scheduling.db import utcnow
from scheduling.models import CalendarTenant, Person, WorkKind
from scheduling.models.calendars import PushSubscription
from worker import calendar_jobs, runtime

log = logging.getLogger(__name__)

DEFAULT_SYNC_SECONDS = 300
DEFAULT_PUSH_SECONDS = 3600


def sync_interval() -> int:
    return runtime.seconds("CALENDAR_SYNC_SECONDS", DEFAULT_SYNC_SECONDS)


def push_interval() -> int:
    return runtime.seconds("CALENDAR_PUSH_SECONDS", DEFAULT_PUSH_SECONDS)


def _book_round(
    db: Session, prefix: str, kind: WorkKind, interval: int, after: datetime | None
) -> str | None:
    """Book round ``<prefix>-<n>`` at the next multiple of ``interval`` unless booked; its job id."""
    if interval <= 0:
        return None
    n = int((after or utcnow()).timestamp()) // interval + 1
    key = f"{prefix}-{n}"
    timed_work.plan_once(db, kind, key, due_at=datetime.fromtimestamp(n * interval, UTC), args=[n])
    return f"fm-{key}"


def book_rounds(db: Session, *, after: datetime | None = None) -> list[str]:
    """Keep the next sync and push rounds booked (the relay calls this each pass)."""
    booked = [
        _book_round(db, "calendar-sync", WorkKind.SYNC_ROUND, sync_interval(), after),
        _book_round(db, "calendar-push", WorkKind.PUSH_ROUND, push_interval(), after),
    ]
    return [b for b in booked if b is not None]


def ensure_calendar_sync(*, after: datetime | None = None) -> str | None:
    """Book the next calendar-sync round unless it is booked (or sync is off)."""
    with runtime.session_scope() as db:
        job_id = _book_round(db, "calendar-sync", WorkKind.SYNC_ROUND, sync_interval(), after)
        db.commit()
    return job_id


def ensure_push_renewal(*, after: datetime | None = None) -> str | None:
    """Book the next push-subscription round unless it is booked (or push renewal is off)."""
    with runtime.session_scope() as db:
        job_id = _book_round(db, "calendar-push", WorkKind.PUSH_ROUND, push_interval(), after)
        db.commit()
    return job_id


def sync_round(round_: int | str = "manual") -> list[int]:
    """One round: a sync per tenant (a failing tenant fails alone), then the next round."""
    with runtime.session_scope() as db:
        _book_round(db, "calendar-sync", WorkKind.SYNC_ROUND, sync_interval(), None)
        tenant_ids = list(db.scalars(select(CalendarTenant.id).order_by(CalendarTenant.id)))
        now = utcnow()
        for tid in tenant_ids:
            timed_work.plan(db, WorkKind.TENANT_SYNC, f"tenant-{tid}-sync-{round_}", due_at=now, args=[tid])
        db.commit()
    return tenant_ids


def sync_calendars(tenant_id: int) -> dict[str, Any]:
    """Follow what changed in one tenant's calendars."""
    with runtime.session_scope() as db:
        if db.get(CalendarTenant, tenant_id) is None:
            return {"applied": [], "errors": ["tenant is gone"]}
        result = calendar_jobs.sync_tenant(tenant_id, session=db)
    return {"applied": result.applied, "errors": result.errors}


def sync_tenant_soon(tenant_id: int, *, session: Session | None = None) -> str:
    """A provider pushed a change notification: sync that tenant on the worker, once for a
    burst (providers send several notifications for one change; a waiting sync covers them)."""
    key = f"tenant-{tenant_id}-push-sync"
    if session is not None:
        row = timed_work.plan_unless_waiting(session, WorkKind.TENANT_SYNC, key, due_at=utcnow(),
                                             args=[tenant_id])
        session.commit()
        return row.job_id
    with runtime.session_scope() as db:
        return sync_tenant_soon(tenant_id, session=db)


def push_round(round_: int | str = "manual") -> dict[int, list[int]]:
    """One round: an ``ensure_push`` per person with work (tenant id -> person ids), then the
    next round. Cheap when nothing is due: one query per tenant, no provider call."""
    base_url = runtime.base_url()
    with runtime.session_scope() as db:
        _book_round(db, "calendar-push", WorkKind.PUSH_ROUND, push_interval(), None)
        db.commit()
        if not calendar_jobs.push_reachable(base_url):
            log.warning("no push subscriptions: providers cannot call %s "
                        "(FLASHMENTOR_BASE_URL must be https)", base_url)
            return {}
        tenant_ids = list(db.scalars(select(CalendarTenant.id).order_by(CalendarTenant.id)))
        due = {tid: calendar_jobs.push_due(db, tid, base_url=base_url) for tid in tenant_ids}
        now = utcnow()
        for tid, person_ids in due.items():
            for pid in person_ids:
                timed_work.plan(db, WorkKind.ENSURE_PUSH, f"tenant-{tid}-push-{pid}-{round_}", due_at=now,
                                args=[tid, pid])
        db.commit()
    return {tid: pids for tid, pids in due.items() if pids}


def ensure_push(tenant_id: int, person_id: int) -> str:
    """Open, renew, move or remove one person's push subscription (see ``calendar_jobs.ensure_push``)."""
    base_url = runtime.base_url()
    if push_interval() <= 0 or not calendar_jobs.push_reachable(base_url):
        return "off"  # push is switched off, or providers could not call us back
    with runtime.session_scope() as db:
        return calendar_jobs.ensure_push(db, tenant_id, person_id, base_url=base_url)


def stop_push(person_id: int) -> dict[int, str]:
    """A deactivated person's push channels: stopped at the provider and forgotten, whether or
    not push renewal is on (tenant id -> what ``calendar_jobs.ensure_push`` did). Someone let
    back in before this ran keeps theirs."""
    base_url = runtime.base_url()
    with runtime.session_scope() as db:
        person = db.get(Person, person_id)
        if person is None or person.active:
            return {}
        tenant_ids = list(db.scalars(select(PushSubscription.tenant_id).where(
            PushSubscription.person_id == person_id).order_by(PushSubscription.tenant_id)))
        return {tid: calendar_jobs.ensure_push(db, tid, person_id, base_url=base_url) for tid in tenant_ids}
