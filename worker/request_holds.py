"""A request's holds in the mentor's calendar, kept in line with the request (``scheduling.request_holds``).

- :func:`write_holds` (the ``request.calendar_holds`` job): writes a hold for every time the request
  should hold and removes every other one, through the mentor's calendar connector. Each write is
  stored at once (:class:`RequestHold`), and providers de-duplicate by the hold's UID, so a retried
  job makes no second event; a removal deletes the row only after the calendar let the event go.
- :func:`apply_change`: called by the calendar sync for a changed event that is no meeting's: when
  it is a hold, the mentor's answer on it answers the request (``scheduling.services.hold_answers``).

Holds go into the mentor's calendar on every provider: on CalDAV as the organizer's copy with the
mentor NEEDS-ACTION, on Google as an invitation (``events.import``). Microsoft Graph has no way to
put another organizer's invitation into a mailbox, so there the hold is an appointment of the
mentor's own, shown as tentative (``calendars.microsoft``): "Show as" Busy accepts it. On every
provider, the mentor deleting a hold from their calendar declines that time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from calendars.base import ChangeKind, EventChange, EventRef
from scheduling.availability import forget_busy
from scheduling.db import utcnow
from scheduling.errors import DomainError
from scheduling.models import CalendarTenant, MeetingRequest, Person, RequestHold
from scheduling.request_holds import hold_event, hold_uid, holds_of, wanted_times
from scheduling.services.hold_answers import answer_hold
from scheduling.tenants import account_of, connector_for, identity_for
from worker import runtime

log = logging.getLogger(__name__)

# Providers the holds are written to (all the app connects).
HOLD_PROVIDERS = frozenset({"caldav", "google", "microsoft"})


@dataclass
class HoldResult:
    written: list[int] = field(default_factory=list)  # proposed time ids
    removed: list[int] = field(default_factory=list)


def write_holds(request_id: int, *, session: Session | None = None, base_url: str = "") -> HoldResult:
    """Write the holds the request should have in the mentor's calendar and remove the others
    (``base_url``: the app's, for the request's link in the hold)."""
    result = HoldResult()
    with runtime.session_scope(session) as db:
        request = db.get(MeetingRequest, request_id)
        if request is None:
            return result
        mentor = request.mentor
        account = account_of(db, mentor)
        reachable = account is not None and account.tenant.provider.value in HOLD_PROVIDERS
        now = utcnow()
        # A time already over is held no longer (an unanswered request may outlive its times).
        wanted = {p.id: p for p in wanted_times(request) if p.end_at > now} if reachable else {}
        for hold in holds_of(db, request_id):
            in_place = account is not None and hold.tenant_id == account.tenant_id
            if hold.proposed_time_id in wanted and in_place:
                del wanted[hold.proposed_time_id]  # written already
                continue
            _remove(db, request, hold, mentor)
            result.removed.append(hold.proposed_time_id)
        if wanted and account is not None:
            tenant = account.tenant
            connector = connector_for(tenant)
            owner = identity_for(account, mentor)
            link = f"{base_url.rstrip('/')}/requests/{request_id}" if base_url else ""
            for time in wanted.values():
                uid = hold_uid(request, time.id)
                spec = hold_event(request, uid, time.start_at, time.end_at, link=link)
                ref = connector.create_event(owner, spec)
                db.add(RequestHold(
                    request_id=request_id, proposed_time_id=time.id, person_id=mentor.id, tenant_id=tenant.id,
                    uid=uid, calendar_id=ref.calendar_id, event_id=ref.event_id, etag=ref.etag,
                    start_at=time.start_at, end_at=time.end_at,
                ))
                try:
                    db.commit()
                except IntegrityError:
                    db.rollback()  # a concurrent run stored it first
                    continue
                result.written.append(time.id)
        if result.written or result.removed:
            forget_busy([mentor.id])  # the mentor's calendar changed: read it again
    return result


def _remove(db: Session, request: MeetingRequest, hold: RequestHold, mentor: Person) -> None:
    """Take the hold's event out of the calendar it was written to, then forget the hold."""
    tenant = db.get(CalendarTenant, hold.tenant_id)
    account = account_of(db, mentor)
    if tenant is not None and account is not None and account.tenant_id == tenant.id:
        spec = hold_event(request, hold.uid, hold.start_at, hold.end_at)
        ref = EventRef(hold.calendar_id, hold.event_id, hold.etag)  # names the calendar it is in
        connector_for(tenant).cancel_event(identity_for(account, mentor), ref, spec)
    # else: the calendar connection is gone or moved; nothing we can reach any more
    db.delete(hold)
    db.commit()


def _find_hold(
    db: Session, tenant: CalendarTenant, person: Person, change: EventChange
) -> RequestHold | None:
    same = RequestHold.event_id == change.event_id
    return db.scalar(
        select(RequestHold).where(
            RequestHold.tenant_id == tenant.id,
            RequestHold.person_id == person.id,
            or_(same, RequestHold.uid == change.uid) if change.uid else same,
        )
    )


def apply_change(
    db: Session, tenant: CalendarTenant, person: Person, change: EventChange
) -> tuple[int, str] | None:
    """The mentor's answer on a hold, applied to its request: ``(request id, "request-accepted")``
    or ``"request-declined"``; None for anything else (not a hold, no new answer). A hold the
    mentor deleted while its time is still ahead is that time declined (the app forgets a hold
    only after its own removal, so that one is no hold any more when the sync reads it)."""
    hold = _find_hold(db, tenant, person, change)
    if hold is None:
        return None
    answer = change.answer
    if change.kind == ChangeKind.CANCELED:
        answer = "declined" if hold.end_at > utcnow() else ""
    if not answer:
        return None
    request_id = hold.request_id
    try:
        done = answer_hold(db, hold, answer, start=change.start, end=change.end, note=change.note)
    except DomainError as exc:
        db.rollback()
        log.warning("the answer to the hold of request %s could not apply: %s", request_id, exc.message)
        return None
    return (request_id, f"request-{done}") if done else None
