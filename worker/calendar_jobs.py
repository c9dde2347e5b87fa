"""Worker jobs that keep meetings and calendar events in step.

- :func:`write_meeting_events`: the meeting's event goes into the mentor's calendar
  (mentee invited) and, when the mentee's calendar lives in another tenant, into the
  mentee's too. Each write is recorded in a :class:`CalendarEventLink` right away, and
  providers de-duplicate creates by the meeting UID, so a retried job never makes a
  second event. A link behind ``meeting.sequence`` is updated; a canceled meeting's
  events are cancelled.
- :func:`cancel_meeting_events`: cancel every linked event.
- :func:`sync_tenant`: read what changed in a tenant's calendars since the stored cursors
  and hand moves/deletes/declines of meeting events to
  :func:`scheduling.services.meetings.apply_calendar_change`.
- :func:`ensure_push`: keep one person's push subscription (Google watch channel, Graph
  subscription) open, pointed at the current address and renewed before it expires;
  :func:`push_due` says who needs it (the scheduler runs it per person, periodically).

Jobs take ids, never ORM objects. Provider errors propagate from the write jobs so RQ
retries them (enqueue with :data:`RETRY`): an outage delays a meeting's event, it
never loses it.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer

from calendars.base import (
    CalendarConnector,
    CalendarError,
    CalendarIdentity,
    ChangeKind,
    EventChange,
    EventRef,
    NotFound,
    ProviderUnavailable,
    PushCapable,
    PushChannel,
    push_support,
)
from scheduling import calendar_health, video
from scheduling.availability import forget_busy
from scheduling.calendar_event import meeting_event
from scheduling.db import utcnow
from scheduling.errors import DomainError
from scheduling.models import (
    ACTIVE_MEETING_STATES,
    CalendarAccount,
    CalendarEventLink,
    CalendarTenant,
    Meeting,
    MeetingState,
    Person,
)
from scheduling.models.calendars import PushSubscription
from scheduling.tenants import account_of, connector_for, identity_for
from worker import runtime
from worker.request_holds import apply_change as apply_hold_change

log = logging.getLogger(__name__)

# --- writing events -------------------------------------------------------------------------------


@dataclass
class Side:
    """One calendar the meeting goes into."""

    person: Person
    account: CalendarAccount
    attendees: tuple[Person, ...]
    organizer: Person | None = None  # the attendee's copy names the mentor; else ``person``


def _server_delivers(account: CalendarAccount) -> bool:
    """Whether the server puts the organizer's invitation into the attendee's calendar itself:
    Google and Exchange do. CalDAV servers are not trusted to (Xandikos advertises RFC 6638
    ``calendar-auto-schedule`` yet delivers nothing; Radicale has none): the worker writes the
    attendee's copy, and where a server did deliver one, the write adopts it (same UID)."""
    return account.tenant.provider.value in INVITING_PROVIDERS


def sides_of(session: Session, meeting: Meeting) -> list[Side]:
    """Mentor's calendar (mentee invited); the mentee's when it is in another tenant, or in the
    same one when that server does not deliver invitations (CalDAV, see :func:`_server_delivers`): then
    the worker writes the attendee's copy (the mentor organizing, the mentee invited)."""
    mentor_account = account_of(session, meeting.mentor)
    mentee_account = account_of(session, meeting.mentee)
    sides = []
    if mentor_account is not None:
        sides.append(Side(meeting.mentor, mentor_account, (meeting.mentee,)))
    if (
        mentor_account is not None
        and mentee_account is not None
        and mentee_account.tenant_id == mentor_account.tenant_id
        and not _server_delivers(mentee_account)
    ):
        sides.append(Side(meeting.mentee, mentee_account, (meeting.mentee,), organizer=meeting.mentor))
    elif mentee_account is not None and (
        mentor_account is None or mentee_account.tenant_id != mentor_account.tenant_id
    ):
        # Without a mentor calendar the mentee's event invites the mentor; else it is a plain block.
        invite = (meeting.mentor,) if mentor_account is None else ()
        sides.append(Side(meeting.mentee, mentee_account, invite))
    return sides


# Providers that mail the invitation themselves when an event with attendees is written
# (Google with ``sendUpdates=all``, Exchange always): the app mails no iTIP to those attendees.
INVITING_PROVIDERS = frozenset({"google", "microsoft"})


def itip_methods(session: Session, meeting: Meeting) -> dict[int, str]:
    """Who gets the app's iTIP part with the meeting's mail, and with which METHOD.

    One invitation per person: nobody whose calendar the worker writes the event into (their
    own side), nobody a provider already invited (an attendee of a Google/Microsoft side).
    Everyone else: the mentee gets REQUEST (CANCEL once canceled); the mentor, who
    organizes, never gets a REQUEST for their own meeting: PUBLISH puts it in a calendar
    the app cannot write (CANCEL takes it out)."""
    reached: set[int] = set()
    for side in sides_of(session, meeting):
        reached.add(side.person.id)
        if side.account.tenant.provider.value in INVITING_PROVIDERS:
            reached.update(p.id for p in side.attendees)
    canceled = meeting.state == MeetingState.CANCELED
    methods: dict[int, str] = {}
    if meeting.mentee_id not in reached:
        methods[meeting.mentee_id] = "CANCEL" if canceled else "REQUEST"
    if meeting.mentor_id not in reached:
        methods[meeting.mentor_id] = "CANCEL" if canceled else "PUBLISH"
    return methods


@dataclass
class WriteResult:
    created: list[int] = field(default_factory=list)  # person ids
    updated: list[int] = field(default_factory=list)
    canceled: list[int] = field(default_factory=list)
    link_changed: bool = False  # the organizer's calendar made (or changed) the video link
    link_pending: bool = False  # ... and is still making it


class VideoLinkPending(ProviderUnavailable):
    """The event is written, but its provider is still making the conference (Google makes a
    Meet asynchronously): the job fails so that its retry reads the link again."""


def write_meeting_events(
    meeting_id: int, *, session: Session | None = None, answers: bool = False
) -> WriteResult:
    """Create (once) or update the meeting's events; cancel them if the meeting was canceled.
    ``answers``: rewrite the CalDAV copies at the current version too, for the mentee's answer the
    app learned by mail (Google and Exchange record answers themselves, and a write would mail)."""
    with runtime.session_scope(session) as db:
        meeting = db.get(Meeting, meeting_id)
        if meeting is None:
            return WriteResult()
        if meeting.state == MeetingState.CANCELED:
            return _cancel(db, meeting)
        if meeting.state not in ACTIVE_MEETING_STATES:
            return WriteResult()  # finished meetings keep their events as they are
        result = WriteResult()
        make_link = video.calendar_makes_link(db, meeting)
        uid = ""
        for index, side in enumerate(sides_of(db, meeting)):
            # The organizer's calendar (written first) makes the Meet / Teams link; the copies
            # written after it carry the link it made, and the UID it gave the meeting when it
            # took not ours (Exchange's iCalUId, which its invitation to her carries too).
            _write_side(db, meeting, side, result, make_link=make_link and index == 0, uid=uid,
                        answers=answers)
            if index == 0:
                first = _link(db, meeting, side.person)
                uid = first.ical_uid if first is not None and first.ical_uid else ""
        if result.created or result.updated:
            forget_busy([meeting.mentor_id, meeting.mentee_id])
        if result.link_pending:
            raise VideoLinkPending(
                f"the calendar is still making the video link of meeting {meeting.id}; reading it again"
            )
        return result


def _link(db: Session, meeting: Meeting, person: Person) -> CalendarEventLink | None:
    return db.scalar(
        select(CalendarEventLink).where(
            CalendarEventLink.meeting_id == meeting.id, CalendarEventLink.person_id == person.id
        )
    )


def _keep_video_link(meeting: Meeting, ref: EventRef, result: WriteResult) -> bool:
    """Store the join link the organizer's calendar made; when it made none (its calendar offers
    no Meet / Teams), the program's template link instead. A link people were told stays.
    Returns whether the event must be written again to carry the fallback link."""
    result.link_pending = ref.video_pending and not ref.video_url
    if meeting.video_url or result.link_pending:
        return False
    link = ref.video_url or video.template_link(meeting)
    if not link:
        return False
    meeting.video_url = link
    result.link_changed = True
    return not ref.video_url


def _write_side(
    db: Session, meeting: Meeting, side: Side, result: WriteResult, *, make_link: bool = False, uid: str = "",
    answers: bool = False,
) -> None:
    """``uid``: the meeting's identity on the organizer's provider, when not ours (empty: ours)."""
    tenant = side.account.tenant
    connector = connector_for(tenant)
    owner = identity_for(side.account, side.person)
    organizer = side.organizer or side.person
    spec = meeting_event(meeting, owner=organizer, attendees=side.attendees, make_link=make_link)
    if uid:
        spec = replace(spec, uid=uid)
    link = _link(db, meeting, side.person)
    if link is not None and link.tenant_id != tenant.id:
        link = None  # the person moved to another calendar: write it there (the old event stays)
    rewrite = False
    if link is None:
        ref = connector.create_event(owner, spec)
        rewrite = make_link and _keep_video_link(meeting, ref, result)
        try:
            existing = _link(db, meeting, side.person)
            if existing is not None:
                db.delete(existing)
                db.flush()
            link = CalendarEventLink(
                meeting_id=meeting.id,
                person_id=side.person.id,
                tenant_id=tenant.id,
                provider=tenant.provider.value,
                calendar_id=ref.calendar_id,
                event_id=ref.event_id,
                etag=ref.etag,
                ical_uid=ref.ical_uid,
                synced_sequence=meeting.sequence,
            )
            db.add(link)
            db.commit()
        except IntegrityError:
            db.rollback()  # a concurrent run stored the same event first: nothing more to do
            return
        result.created.append(side.person.id)
        if not rewrite:
            return
    # Also rewritten: the organizer's event whose link is still being made (read it again) or that
    # gets the fallback link, and the copies written before the link was known.
    awaiting_link = make_link and not meeting.video_url
    if not (
        rewrite or meeting.sequence > link.synced_sequence or awaiting_link
        or (result.link_changed and not make_link) or (answers and tenant.provider.value == "caldav")
    ):
        return
    for _ in range(2):  # a second time only to carry a fallback link the first write learned
        if rewrite:
            make_link = False
            spec = replace(meeting_event(meeting, owner=organizer, attendees=side.attendees), uid=spec.uid)
        ref = EventRef(link.calendar_id, link.event_id, link.etag)
        try:
            new_ref = connector.update_event(owner, ref, spec)
        except NotFound:
            # The event was deleted in the calendar; the sync job cancels the meeting. Do not resurrect it.
            log.info("event of meeting %s is gone from %s's calendar", meeting.id, side.person.id)
            return
        rewrite = make_link and _keep_video_link(meeting, new_ref, result)
        link.etag = new_ref.etag
        link.synced_sequence = meeting.sequence
        db.commit()
        if side.person.id not in result.updated:
            result.updated.append(side.person.id)
        if not rewrite:
            return


def cancel_meeting_events(meeting_id: int, *, session: Session | None = None) -> WriteResult:
    """Cancel every event the meeting has in a calendar (organizer cancel: attendees are told)."""
    with runtime.session_scope(session) as db:
        meeting = db.get(Meeting, meeting_id)
        if meeting is None:
            return WriteResult()
        return _cancel(db, meeting)


def _cancel(db: Session, meeting: Meeting) -> WriteResult:
    result = WriteResult()
    # The copies carry the UID the mentor's provider gave the meeting when it took not ours.
    theirs = next((e.ical_uid for e in meeting.events if e.person_id == meeting.mentor_id and e.ical_uid), "")
    for link in list(meeting.events):
        if link.synced_sequence >= meeting.sequence and link.etag == "canceled":
            continue  # done on an earlier run
        tenant = db.get(CalendarTenant, link.tenant_id) if link.tenant_id else None
        person = db.get(Person, link.person_id)
        account = account_of(db, person) if person is not None else None
        if tenant is None or person is None or account is None:
            continue  # the calendar connection is gone; nothing we can reach
        connector = connector_for(tenant)
        side = next((sd for sd in sides_of(db, meeting) if sd.person.id == person.id), None)
        if side is not None:
            spec = meeting_event(meeting, owner=side.organizer or person, attendees=side.attendees)
        else:
            attendees = (meeting.mentee,) if person.id == meeting.mentor_id else ()
            spec = meeting_event(meeting, owner=person, attendees=attendees)
        if theirs and person.id != meeting.mentor_id:
            spec = replace(spec, uid=theirs)
        connector.cancel_event(
            identity_for(account, person), EventRef(link.calendar_id, link.event_id, link.etag), spec
        )
        link.etag = "canceled"
        link.synced_sequence = meeting.sequence
        db.commit()
        result.canceled.append(person.id)
    if result.canceled:
        forget_busy([meeting.mentor_id, meeting.mentee_id])
    return result


# --- following changes ----------------------------------------------------------------------------


@dataclass
class SyncResult:
    applied: list[tuple[int, str]] = field(default_factory=list)  # (meeting id, kind)
    errors: list[str] = field(default_factory=list)
    broken: list[int] = field(default_factory=list)  # person ids whose connection broke in this run
    mended: list[int] = field(default_factory=list)  # person ids whose connection works again


def sync_tenant(tenant_id: int, *, session: Session | None = None) -> SyncResult:
    """Apply what people did to meeting events in their calendars since the last run.

    Cursors are stored per calendar in ``tenant.sync_state`` after each calendar's
    changes are applied; replaying a change is a no-op in the domain, so a run that
    dies halfway is safely repeated.
    """
    from scheduling.services.meetings import apply_calendar_change

    result = SyncResult()
    with runtime.session_scope(session) as db:
        tenant = db.get(CalendarTenant, tenant_id)
        if tenant is None:
            return result
        connector = connector_for(tenant)
        accounts = db.scalars(
            select(CalendarAccount).where(CalendarAccount.tenant_id == tenant.id).order_by(CalendarAccount.id)
        ).all()
        for account in accounts:
            person = db.get(Person, account.person_id)
            if person is None:
                continue
            key = f"account:{account.id}:{account.external_id}"
            since = (tenant.sync_state or {}).get(key)
            since_known = since is not None  # a first run lists everything: a baseline, not a change
            try:
                batch = connector.changes(identity_for(account, person), since)
            except CalendarError as exc:
                log.warning("sync of %s in tenant %s failed: %s", person.id, tenant.id, exc)
                result.errors.append(f"{person.email}: {type(exc).__name__}: {exc}")
                if calendar_health.record_failure(db, account, exc):
                    result.broken.append(person.id)
                db.commit()
                continue
            for change in batch.changes:
                applied = _apply(db, tenant, person, change, connector, apply_calendar_change)
                if applied is not None:
                    result.applied.append(applied)
            mended = calendar_health.record_ok(account)
            tenant.sync_state = {**(tenant.sync_state or {}), key: batch.cursor}
            db.commit()
            if mended:
                result.mended.append(person.id)
            if (batch.changes and since_known) or mended:
                forget_busy([person.id])  # their calendar changed, or reads again: re-read it
        tenant.last_sync_at = utcnow()
        tenant.last_sync_status = (
            f"ok: {len(result.applied)} change(s) applied"
            if not result.errors
            else f"{len(result.errors)} calendar(s) failed: " + "; ".join(result.errors)[:1500]
        )
        db.commit()
    return result


def _find_meeting(
    db: Session, tenant: CalendarTenant, person: Person, change: EventChange
) -> tuple[Meeting, CalendarEventLink] | None:
    link = db.scalar(
        select(CalendarEventLink).where(
            CalendarEventLink.tenant_id == tenant.id,
            CalendarEventLink.person_id == person.id,
            CalendarEventLink.event_id == change.event_id,
        )
    )
    if link is None and change.uid:
        meeting = db.scalar(select(Meeting).where(Meeting.uid == change.uid))
        if meeting is not None:
            link = _link(db, meeting, person)
    if link is None:
        return None
    meeting = db.get(Meeting, link.meeting_id)
    return (meeting, link) if meeting is not None else None


def _apply(
    db: Session,
    tenant: CalendarTenant,
    person: Person,
    change: EventChange,
    connector: CalendarConnector,
    apply: Any,
) -> tuple[int, str] | None:
    found = _find_meeting(db, tenant, person, change)
    if found is None:
        return apply_hold_change(db, tenant, person, change)  # a request's hold, or not one of ours
    meeting, link = found
    if not meeting.is_active:
        return None
    kind = change.kind
    note = change.note
    who = _decliner(db, meeting, person, change.by) if kind == ChangeKind.DECLINED else None
    if kind == ChangeKind.DECLINED and who is None:
        # someone else on the event said no: not the meeting's business, but it may have moved
        kind = ChangeKind.MOVED if change.start is not None and change.end is not None else ChangeKind.UPDATED
    if kind == ChangeKind.MOVED:
        if link.synced_sequence < meeting.sequence:
            return None  # our newer version has not reached the calendar yet; it will overwrite this
        if (change.start, change.end) == (meeting.start_at, meeting.end_at):
            return None
    elif kind == ChangeKind.DECLINED and who is not None:
        note = f"{who.name} declined the meeting in their calendar." + (f" Note: {note}" if note else "")
    elif kind == ChangeKind.CANCELED:
        note = f"{person.name} removed the meeting in their calendar." + (f" Note: {note}" if note else "")
    else:
        return None
    try:
        changed = apply(db, meeting, kind=kind.value, start=change.start, end=change.end, note=note)
    except DomainError as exc:
        db.rollback()
        log.warning("calendar change for meeting %s not applied: %s", meeting.id, exc.message)
        return None
    if changed and kind == ChangeKind.MOVED:
        link.synced_sequence = meeting.sequence  # the calendar already shows the new time
        db.commit()
    return (meeting.id, kind.value) if changed else None


def _decliner(db: Session, meeting: Meeting, owner: Person, by: str) -> Person | None:
    """Which of the meeting's two people a DECLINED is from: the calendar's owner (no or their own
    address), or the other participant whose answer shows on the owner's copy; None for anyone else."""
    if not by or by.lower() == owner.email.lower():
        return owner
    for person_id in (meeting.mentor_id, meeting.mentee_id):
        person = db.get(Person, person_id)
        if person is not None and person.email.lower() == by.lower():
            return person
    return None


def identity(session: Session, person: Person) -> CalendarIdentity | None:
    """The calendar identity of ``person`` (None without a connected calendar)."""
    account = account_of(session, person)
    return identity_for(account, person) if account is not None else None


# --- push notifications -----------------------------------------------------------------------------

PushHandler = Callable[[int], Any]
_push_handler: list[PushHandler] = []


def set_push_handler(handler: PushHandler | None) -> None:
    """Route provider push notifications: ``handler(tenant_id)`` (e.g. enqueue :func:`sync_tenant`
    on RQ with a per-tenant job id, so a burst of notifications makes one sync). None: sync inline."""
    _push_handler[:] = [handler] if handler is not None else []


def on_push(tenant_id: int, *, session: Session | None = None) -> Any:
    """A provider said something changed in ``tenant``'s calendars: sync it (now, or via the hook)."""
    if _push_handler:
        return _push_handler[0](tenant_id)
    return sync_tenant(tenant_id, session=session)


# --- push subscriptions -----------------------------------------------------------------------------

PUSH_RENEW_MARGIN = timedelta(hours=24)  # renew what expires sooner than this
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def push_address(base_url: str, tenant: CalendarTenant) -> str:
    """Where the tenant's provider posts notifications (``app.api.calendar_push``)."""
    return f"{base_url.rstrip('/')}/api/v1/calendar-push/{tenant.provider.value}/{tenant.id}"


def _push_capability(tenant: CalendarTenant) -> PushCapable | None:
    try:
        return push_support(connector_for(tenant))
    except DomainError:  # settings that cannot work: nothing to subscribe (or stop) with
        return None


def push_reachable(base_url: str) -> bool:
    """Providers only call public https addresses; plain http is let through for loopback
    hosts, where nothing but a local test double can be listening."""
    parts = urlsplit(base_url)
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK)


def push_wanted(tenant: CalendarTenant) -> bool:
    """Push is on unless the tenant's config says ``"push": false``."""
    return tenant.config.get("push", True) is not False


def find_push_subscription(db: Session, tenant_id: int, channel_id: str) -> PushSubscription | None:
    """The subscription a notification names (Google channel id / Graph subscription id)."""
    if not channel_id:
        return None
    return db.scalar(
        select(PushSubscription).where(
            PushSubscription.tenant_id == tenant_id, PushSubscription.channel_id == channel_id
        )
    )


def push_due(
    db: Session, tenant_id: int, *, base_url: str, now: datetime | None = None,
    margin: timedelta = PUSH_RENEW_MARGIN,
) -> list[int]:
    """People of the tenant :func:`ensure_push` has work for: no subscription yet, one expiring
    within ``margin``, one for an old calendar or address, or one that should go."""
    tenant = db.get(CalendarTenant, tenant_id)
    if tenant is None:
        return []
    now = now or utcnow()
    wanted = push_wanted(tenant) and _push_capability(tenant) is not None
    address = push_address(base_url, tenant)
    accounts = {
        a.person_id: a
        for a in db.scalars(select(CalendarAccount).where(CalendarAccount.tenant_id == tenant_id))
    }
    subs = {
        s.person_id: s
        for s in db.scalars(
            select(PushSubscription)
            .where(PushSubscription.tenant_id == tenant_id)
            .options(defer(PushSubscription.secret))  # no need to decrypt to see what is due
        )
    }
    due = []
    for person_id in sorted(set(accounts) | set(subs) if wanted else set(subs)):
        account, sub = accounts.get(person_id), subs.get(person_id)
        if (
            not wanted
            or account is None
            or sub is None
            or (sub.calendar_id, sub.address) != (account.external_id, address)
            or sub.expires_at - now <= margin
        ):
            due.append(person_id)
    return due


def _channel(sub: PushSubscription) -> PushChannel:
    return PushChannel(sub.channel_id, sub.resource_id, sub.expires_at, sub.secret)


def _stop_quietly(capable: PushCapable, owner: CalendarIdentity, channel: PushChannel) -> None:
    """Best effort: a channel we could not stop expires on its own, and its notifications
    are refused (they name a channel we no longer know, with a token that is not the tenant's)."""
    try:
        capable.unsubscribe(owner, channel)
    except CalendarError as exc:
        log.warning("could not stop push channel %s: %s", channel.channel_id, exc)


def ensure_push(
    db: Session, tenant_id: int, person_id: int, *, base_url: str, now: datetime | None = None,
    margin: timedelta = PUSH_RENEW_MARGIN,
) -> str:
    """Bring one person's push subscription in line; returns ``subscribed``, ``renewed``,
    ``removed`` or ``unchanged``. A provider refusal raises (the job fails visibly and the next
    round tries again); what was done before it is saved."""
    now = now or utcnow()
    tenant = db.get(CalendarTenant, tenant_id)
    if tenant is None:
        return "unchanged"  # gone, and its subscriptions with it
    person = db.get(Person, person_id)
    sub = db.scalar(
        select(PushSubscription).where(
            PushSubscription.tenant_id == tenant_id, PushSubscription.person_id == person_id
        )
    )
    account = db.scalar(
        select(CalendarAccount).where(
            CalendarAccount.tenant_id == tenant_id, CalendarAccount.person_id == person_id
        )
    )
    capable = _push_capability(tenant)
    address = push_address(base_url, tenant)
    if capable is None or person is None or not person.active or account is None or not push_wanted(tenant):
        if sub is None:
            return "unchanged"
        _drop(db, sub, capable, account, person)
        return "removed"
    owner = identity_for(account, person)
    if sub is not None and (sub.calendar_id, sub.address) != (account.external_id, address):
        _drop(db, sub, capable, account, person)  # another calendar, or our address moved
        sub = None
    if sub is None:
        return _subscribe(db, tenant, person, account, capable, owner, address)
    if sub.expires_at - now > margin:
        return "unchanged"
    return _renew(db, sub, capable, owner, address, now)


def _renew(
    db: Session, sub: PushSubscription, capable: PushCapable, owner: CalendarIdentity, address: str,
    now: datetime,
) -> str:
    old = _channel(sub)
    try:
        fresh = capable.renew(owner, old, address)
    except NotFound:  # the provider dropped it (Graph removes subscriptions it cannot deliver to)
        fresh = capable.subscribe(owner, address, secrets.token_urlsafe(32))
    stored = db.execute(
        update(PushSubscription)
        .where(PushSubscription.id == sub.id, PushSubscription.channel_id == old.channel_id)
        .values(  # the secret is written (so re-encrypted under the newest key) on every renewal
            channel_id=fresh.channel_id, resource_id=fresh.resource_id, expires_at=fresh.expires_at,
            secret=fresh.secret, renewed_at=now,
        )
    )
    db.commit()
    db.expire(sub)
    if getattr(stored, "rowcount", 1) == 0:  # a concurrent run renewed it first: keep theirs
        if fresh.channel_id != old.channel_id:
            _stop_quietly(capable, owner, fresh)
        return "unchanged"
    if fresh.channel_id != old.channel_id:
        _stop_quietly(capable, owner, old)  # Google: the new channel is stored, the old one can go
    return "renewed"


def _subscribe(
    db: Session, tenant: CalendarTenant, person: Person, account: CalendarAccount,
    capable: PushCapable, owner: CalendarIdentity, address: str,
) -> str:
    secret = secrets.token_urlsafe(32)
    channel = capable.subscribe(owner, address, secret)
    db.add(
        PushSubscription(
            tenant_id=tenant.id,
            person_id=person.id,
            channel_id=channel.channel_id,
            resource_id=channel.resource_id,
            calendar_id=account.external_id,
            address=address,
            secret=secret,
            expires_at=channel.expires_at,
        )
    )
    try:
        db.commit()
    except IntegrityError:
        db.rollback()  # a concurrent run subscribed first: keep theirs, stop ours
        _stop_quietly(capable, owner, channel)
        return "unchanged"
    return "subscribed"


def _drop(
    db: Session, sub: PushSubscription, capable: PushCapable | None,
    account: CalendarAccount | None, person: Person | None,
) -> None:
    channel = _channel(sub)
    if person is not None and account is not None:
        owner = replace(identity_for(account, person), external_id=sub.calendar_id)
    else:
        owner = CalendarIdentity(str(sub.person_id), sub.calendar_id, email=person.email if person else "")
    db.delete(sub)
    db.commit()
    if capable is not None:
        _stop_quietly(capable, owner, channel)


def push_lifecycle(db: Session, sub: PushSubscription, event: str) -> None:
    """Graph removed the subscription or wants it reauthorized: due at the next round (a
    renewal reauthorizes; a removed one is recreated when the renewal finds it gone)."""
    if event in ("subscriptionRemoved", "reauthorizationRequired"):
        sub.expires_at = min(sub.expires_at, utcnow())
        db.commit()
