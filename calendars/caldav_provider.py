"""CalDAV (RFC 4791) through the ``caldav`` library.

- busy: a calendar-query REPORT over the range, recurring events expanded here
  (servers differ in how well they expand), or the free-busy REPORT when the
  tenant enables ``freebusy_report`` (falls back to the query if refused).
- writes: one resource per meeting named from its UID, PUT with ``If-None-Match: *``
  so a retried create finds the first one instead of making a second; updates
  raise SEQUENCE; a cancel keeps the event with STATUS:CANCELLED so attendees see it.
- changes: the sync-collection REPORT (RFC 6578); servers without it are compared
  by ETag (the cursor then holds the ETags seen).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import unquote, urljoin, urlsplit

import icalendar
from caldav.collection import Calendar
from caldav.davclient import DAVClient
from caldav.lib import error as dav_error
from lxml import etree

from calendars.base import (
    AlreadyExists,
    AuthError,
    BusyInterval,
    CalendarError,
    CalendarIdentity,
    ChangeBatch,
    ChangeKind,
    EventChange,
    EventRef,
    EventSpec,
    Gone,
    NotFound,
    ProviderUnavailable,
    RateLimited,
)
from calendars.http import DEFAULT_POLICY, RetryPolicy, error_for_status
from calendars.ical import (
    build_event,
    busy_from_calendars,
    declined_by,
    event_times,
    keep_personal,
    master_event,
    merge,
    partstat_of,
    zone,
)

T = TypeVar("T")
_DAV = "DAV:"
_CALDAV = "urn:ietf:params:xml:ns:caldav"
_SYNC_TOKEN_EXPIRED = "{DAV:}valid-sync-token"
_RESOURCETYPE = (
    '<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:">'
    "<d:prop><d:resourcetype/></d:prop></d:propfind>"
)


def resource_name(uid: str) -> str:
    """A safe, stable file name for the event resource of ``uid``."""
    readable = re.sub(r"[^A-Za-z0-9_.-]", "_", uid)[:60]
    digest = hashlib.sha256(uid.encode()).hexdigest()[:16]
    return f"{readable}-{digest}.ics"


class OutsideServer(CalendarError):
    """A calendar address that is not inside the tenant's CalDAV base URL (another host, an
    absolute URL, ``..``): refused before any request, so no credential ever travels there."""


def _live_status(spec: EventSpec) -> str:
    """STATUS of a live event: a hold is TENTATIVE (RFC 5545: busy, not yet confirmed)."""
    return "TENTATIVE" if spec.hold else "CONFIRMED"


def calendar_path(external_id: str) -> str:
    """A person's calendar as typed: a path on the tenant's server, relative to its base URL
    (``alice/work/``) or absolute (``/dav/alice/work/``). Raises :class:`OutsideServer` for
    anything else: a URL with a scheme or a host, ``..`` segments (also percent-encoded),
    backslashes, query, fragment or control characters."""
    text = external_id.strip()
    parts = urlsplit(text)
    if parts.scheme or parts.netloc or text.startswith("//"):
        raise OutsideServer("give the calendar's path on the server, not a full URL")
    if parts.query or parts.fragment or "?" in text or "#" in text:
        raise OutsideServer("a calendar path has no query or fragment")
    decoded = unquote(text)
    if "\\" in decoded or any(ord(c) < 32 or ord(c) == 127 for c in decoded):
        raise OutsideServer("the calendar path has characters no path has")
    if any(segment in (".", "..") for segment in decoded.split("/")):
        raise OutsideServer("the calendar path may not contain . or .. segments")
    return text


def url_inside(base: str, external_id: str) -> str:
    """The collection URL of ``external_id`` under ``base``, or :class:`OutsideServer` when it
    would leave it (other scheme, host, port or a path outside the base path). Stored
    addresses from before this rule may be absolute URLs; they pass only when inside."""
    base = base if base.endswith("/") else base + "/"
    text = external_id.strip()
    candidate = text if text.startswith(("http://", "https://")) else calendar_path(text)
    url = urljoin(base, candidate)
    url = url if url.endswith("/") else url + "/"
    b, u = urlsplit(base), urlsplit(url)
    decoded = unquote(u.path)
    if (
        (u.scheme, u.netloc.lower()) != (b.scheme, b.netloc.lower())
        or not u.path.startswith(b.path)
        or any(segment in (".", "..") for segment in decoded.split("/"))
        or u.query
        or u.fragment
        or "@" in u.netloc
    ):
        raise OutsideServer(f"the calendar must be inside the server's address {base}")
    return url


def _translate(exc: Exception) -> CalendarError:
    """Map what the caldav library (or its HTTP stack) raised to our error types."""
    if isinstance(exc, CalendarError):
        return exc
    if isinstance(exc, dav_error.RateLimitError):
        return RateLimited(str(exc), exc.retry_after_seconds)
    if isinstance(exc, dav_error.AuthorizationError):
        return AuthError(f"the CalDAV server refused the credentials ({exc.reason})")
    if isinstance(exc, dav_error.NotFoundError):
        return NotFound(f"not found on the CalDAV server: {exc.url}")
    if isinstance(exc, dav_error.DAVError):
        status = getattr(exc, "status", None)
        if status:
            mapped = error_for_status(int(status), str(exc))
            if mapped is not None:
                return mapped
        return CalendarError(str(exc))
    if type(exc).__name__ == "TooManyRedirects":
        return CalendarError(
            "the CalDAV server answered with a redirect; give the calendar's own address "
            "(redirects are not followed, so credentials never leave the server)"
        )
    if isinstance(exc, OSError) or type(exc).__module__.split(".")[0] in {
        "niquests",
        "requests",
        "urllib3",
        "urllib3_future",
    }:
        return ProviderUnavailable(f"CalDAV server unreachable: {exc}")
    raise exc


def _check(response: Any, what: str) -> Any:
    status = int(response.status)
    if status >= 400:
        mapped = error_for_status(
            status, f"{what}: HTTP {status}", retry_after=response.headers.get("Retry-After")
        )
        assert mapped is not None
        raise mapped
    return response


class CalDAVConnector:
    """A CalDAV server; each person's calendar is a collection URL (``external_id``)."""

    provider = "caldav"

    def __init__(
        self,
        url: str,
        *,
        username: str = "",
        password: str | None = None,
        policy: RetryPolicy = DEFAULT_POLICY,
        timeout: float = 30,
        connect_timeout: float | None = None,
        verify: bool | str = True,
        use_sync_token: bool = True,
        freebusy_report: bool = False,
        max_workers: int = 8,
    ) -> None:
        self.url = url if url.endswith("/") else url + "/"
        self.username = username
        self._password = password
        self.policy = policy
        self.timeout = timeout
        self.connect_timeout = connect_timeout or timeout
        self.verify = verify
        self.use_sync_token = use_sync_token
        self.freebusy_report = freebusy_report
        self.max_workers = max_workers
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str], DAVClient] = {}

    # --- plumbing -------------------------------------------------------------------------------

    def _client(self, owner: CalendarIdentity) -> DAVClient:
        username = owner.username or self.username
        password = owner.secret if owner.secret is not None else self._password
        key = (username, hashlib.sha256((password or "").encode()).hexdigest())
        with self._lock:
            return self._clients.get(key) or self._new_client(key, username, password)

    def _new_client(self, key: tuple[str, str], username: str, password: str | None) -> DAVClient:
        client = DAVClient(
            url=self.url,
            username=username or None,
            password=password or None,
            timeout=(self.connect_timeout, self.timeout),  # type: ignore[arg-type]  # given to requests
            ssl_verify_cert=self.verify,
            enable_rfc6764=False,
            require_tls=False,
            rate_limit_handle=False,
        )
        # No redirects: a 3xx could send the request (and, on the same host, its credentials)
        # anywhere; the server's own addresses are all we talk to.
        client.session.max_redirects = 0
        self._clients[key] = client
        return client

    def calendar_url(self, owner: CalendarIdentity) -> str:
        """The person's collection URL, always inside the tenant's base URL (:func:`url_inside`)."""
        return url_inside(self.url, owner.external_id)

    def _calendar(self, owner: CalendarIdentity) -> Calendar:
        return self._client(owner).calendar(url=self.calendar_url(owner))

    def _call(self, fn: Callable[[], T], what: str) -> T:
        def attempt() -> T:
            try:
                return fn()
            except Exception as exc:
                raise _translate(exc) from exc

        return self.policy.run(attempt, what=f"CalDAV {what}")

    # --- busy -----------------------------------------------------------------------------------

    def busy(
        self, people: Sequence[CalendarIdentity], start: datetime, end: datetime
    ) -> Mapping[str, list[BusyInterval]]:
        if len(people) <= 1 or self.max_workers <= 1:
            return {p.person_key: self._busy_one(p, start, end) for p in people}
        # CalDAV has no multi-calendar query: one REPORT per calendar, a few at a time. The first
        # one runs alone so the client negotiates authentication once, not in every thread.
        first = self._busy_one(people[0], start, end)
        with ThreadPoolExecutor(max_workers=min(self.max_workers, len(people) - 1)) as pool:
            rest = list(pool.map(lambda p: self._busy_one(p, start, end), people[1:]))
        return {p.person_key: r for p, r in zip(people, [first, *rest], strict=True)}

    def _busy_one(self, owner: CalendarIdentity, start: datetime, end: datetime) -> list[BusyInterval]:
        calendar = self._calendar(owner)
        if self.freebusy_report:
            try:
                return self._call(lambda: self._freebusy(calendar, start, end), "free-busy report")
            except (AuthError, NotFound, RateLimited, ProviderUnavailable):
                raise
            except CalendarError:
                pass  # the server does not do free-busy reports: read the events instead
        objects: list[Any] = self._call(
            lambda: calendar.search(start=start, end=end, event=True, expand=False),  # type: ignore[arg-type,return-value]
            "calendar-query",
        )
        cals = [obj.icalendar_instance for obj in objects if obj.data]
        return busy_from_calendars(cals, start, end, owner_email=owner.address, time_zone=owner.time_zone)

    @staticmethod
    def _freebusy(calendar: Calendar, start: datetime, end: datetime) -> list[BusyInterval]:
        result: Any = calendar.freebusy_request(start.astimezone(UTC), end.astimezone(UTC))
        found: list[tuple[datetime, datetime]] = []
        for component in icalendar.Calendar.from_ical(result.data).walk("VFREEBUSY"):
            periods = component.get("FREEBUSY") or []
            if not isinstance(periods, list):
                periods = [periods]
            for prop in periods:
                if str(prop.params.get("FBTYPE", "BUSY")).upper() == "FREE":
                    continue
                for period in prop.dt if isinstance(prop.dt, list) else [prop.dt]:
                    s, e = period
                    e = s + e if not isinstance(e, datetime) else e
                    s, e = max(s, start), min(e, end)
                    if s < e:
                        found.append((s.astimezone(UTC), e.astimezone(UTC)))
        return merge(found)

    # --- writes ---------------------------------------------------------------------------------

    def create_event(self, owner: CalendarIdentity, spec: EventSpec) -> EventRef:
        client = self._client(owner)
        cal_url = self.calendar_url(owner)
        href = urljoin(cal_url, resource_name(spec.uid))
        body = build_event(spec, status=_live_status(spec)).to_ical().decode()

        def put() -> EventRef:
            response = client.put(
                href, body, {"Content-Type": "text/calendar; charset=utf-8", "If-None-Match": "*"}
            )
            status = int(response.status)
            if status == 412:  # already there: an earlier attempt made it (or, below, someone else)
                try:
                    return self._fetch_ref(client, cal_url, href)
                except NotFound:
                    status = 409  # Xandikos: the UID lives under another name
            if status == 409:  # Radicale: a mail client imported the invitation first
                return self._adopt(owner, client, cal_url, spec)
            _check(response, "create event")
            etag = response.headers.get("ETag") or ""
            return EventRef(cal_url, href, etag) if etag else self._fetch_ref(client, cal_url, href)

        return self._call(put, "create event")

    def _adopt(self, owner: CalendarIdentity, client: DAVClient, cal_url: str, spec: EventSpec) -> EventRef:
        """The resource that already holds ``spec.uid`` (under a name we did not choose), brought
        up to date: one event per UID per calendar, as RFC 4791 wants."""
        try:
            found: Any = self._calendar(owner).object_by_uid(spec.uid)
        except dav_error.NotFoundError:
            raise AlreadyExists(f"the calendar refused {spec.uid} but holds no event with it") from None
        ref = self._fetch_ref(client, cal_url, urljoin(cal_url, str(found.url)))
        return self._rewrite(owner, ref, spec, _live_status(spec))

    def _fetch_ref(self, client: DAVClient, cal_url: str, href: str) -> EventRef:
        response = _check(client.request(href, "GET"), "read event")
        return EventRef(cal_url, href, response.headers.get("ETag") or "")

    def _read(self, client: DAVClient, href: str) -> tuple[icalendar.Calendar, str]:
        response = _check(client.request(href, "GET"), "read event")
        return icalendar.Calendar.from_ical(response.raw), response.headers.get("ETag") or ""

    def _rewrite(self, owner: CalendarIdentity, ref: EventRef, spec: EventSpec, status: str) -> EventRef:
        client = self._client(owner)

        def write() -> EventRef:
            current, etag = self._read(client, ref.event_id)
            event = master_event(current)
            old_sequence = int(event.get("SEQUENCE", 0)) if event is not None else 0
            # The meeting's own sequence: a retried update writes the same version again, it
            # does not announce another one.
            body = build_event(spec, sequence=max(spec.sequence, old_sequence), status=status)
            known = frozenset(a.email.lower() for a in spec.attendees if a.partstat)
            keep_personal(event, body, known)  # the owner's alarms, and answers while the time holds
            headers = {"Content-Type": "text/calendar; charset=utf-8"}
            if etag:
                headers["If-Match"] = etag
            response = client.put(ref.event_id, body.to_ical().decode(), headers)
            if int(response.status) == 412:  # changed under us: read again on the next attempt
                raise ProviderUnavailable("event changed while updating; retrying")
            _check(response, "update event")
            new_etag = response.headers.get("ETag") or ""
            return (
                EventRef(ref.calendar_id, ref.event_id, new_etag)
                if new_etag
                else self._fetch_ref(client, ref.calendar_id, ref.event_id)
            )

        return self._call(write, "update event")

    def update_event(self, owner: CalendarIdentity, ref: EventRef, spec: EventSpec) -> EventRef:
        return self._rewrite(owner, ref, spec, _live_status(spec))

    def cancel_event(self, owner: CalendarIdentity, ref: EventRef, spec: EventSpec) -> None:
        if spec.hold:  # a hold was nobody's meeting: it goes, rather than staying as cancelled
            self._delete(owner, ref)
            return
        try:
            self._rewrite(owner, ref, spec, "CANCELLED")
        except NotFound:
            return  # already gone: nothing left to cancel

    def _delete(self, owner: CalendarIdentity, ref: EventRef) -> None:
        client = self._client(owner)

        def delete() -> None:
            response = client.request(ref.event_id, "DELETE")
            if int(response.status) in (404, 410):
                return  # gone already
            _check(response, "delete event")

        self._call(delete, "delete event")

    # --- changes --------------------------------------------------------------------------------

    def changes(self, owner: CalendarIdentity, since: str | None) -> ChangeBatch:
        state: dict[str, Any] = json.loads(since) if since else {}
        calendar = self._calendar(owner)
        if self.use_sync_token and "etags" not in state:
            try:
                return self._changes_by_token(owner, calendar, state.get("token"))
            except Gone:
                return self._changes_by_token(owner, calendar, None)
            except (AuthError, NotFound, RateLimited, ProviderUnavailable):
                raise
            except CalendarError:
                if state.get("token"):
                    raise
                # the server has no sync-collection REPORT: compare ETags from now on
        return self._changes_by_etag(owner, calendar, state.get("etags"))

    def _changes_by_token(
        self, owner: CalendarIdentity, calendar: Calendar, token: str | None
    ) -> ChangeBatch:
        def sync() -> Any:
            try:
                return calendar.get_objects_by_sync_token(
                    sync_token=token, load_objects=True, disable_fallback=True
                )
            except dav_error.DAVError as exc:
                if _SYNC_TOKEN_EXPIRED in (exc.preconditions or []):
                    raise Gone("sync token expired") from exc
                raise

        result = self._call(sync, "sync-collection")
        changes: list[EventChange] = []
        deleted = {str(u) for u in (result.deleted_urls or ())}
        cal_url = self.calendar_url(owner)
        for obj in result:
            href = str(obj.url)
            if href in deleted or not obj.data:
                changes.append(EventChange(ChangeKind.CANCELED, cal_url, href))
                continue
            change = self._change_from(owner, cal_url, href, icalendar.Calendar.from_ical(obj.data))
            if change is not None:
                changes.append(change)
        listed = {str(o.url) for o in result}
        changes.extend(EventChange(ChangeKind.CANCELED, cal_url, href) for href in deleted - listed)
        return ChangeBatch(changes, json.dumps({"token": str(result.sync_token)}))

    def _changes_by_etag(
        self, owner: CalendarIdentity, calendar: Calendar, before: dict[str, str] | None
    ) -> ChangeBatch:
        client = self._client(owner)
        cal_url = self.calendar_url(owner)
        now = self._call(lambda: self._etags(client, cal_url), "list ETags")
        old = before or {}
        changes = [EventChange(ChangeKind.CANCELED, cal_url, href) for href in sorted(set(old) - set(now))]
        for href, etag in sorted(now.items()):
            if old.get(href) == etag:
                continue
            try:
                current, _ = self._call(lambda h=href: self._read(client, h), "read event")  # type: ignore[misc]
            except NotFound:
                changes.append(EventChange(ChangeKind.CANCELED, cal_url, href))
                continue
            change = self._change_from(owner, cal_url, href, current)
            if change is not None:
                changes.append(change)
        return ChangeBatch(changes, json.dumps({"etags": now}))

    @staticmethod
    def _etags(client: DAVClient, cal_url: str) -> dict[str, str]:
        body = (
            '<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:">'
            "<d:prop><d:getetag/><d:resourcetype/></d:prop></d:propfind>"
        )
        response = client.request(
            cal_url, "PROPFIND", body, {"Depth": "1", "Content-Type": "application/xml; charset=utf-8"}
        )
        _check(response, "list ETags")
        tree = etree.fromstring(response.raw if isinstance(response.raw, bytes) else response.raw.encode())
        out: dict[str, str] = {}
        base_path = urlsplit(cal_url).path
        for resp in tree.iter(f"{{{_DAV}}}response"):
            href = resp.findtext(f"{{{_DAV}}}href") or ""
            etag = resp.findtext(f".//{{{_DAV}}}getetag")
            if not href or etag is None or urlsplit(href).path.rstrip("/") == base_path.rstrip("/"):
                continue
            if resp.find(f".//{{{_DAV}}}collection") is not None:
                continue
            out[urljoin(cal_url, href)] = etag
        return out

    @staticmethod
    def _change_from(
        owner: CalendarIdentity, cal_url: str, href: str, cal: icalendar.Calendar
    ) -> EventChange | None:
        """Classify a changed resource: cancelled, declined by the owner, or (maybe) moved.

        Without the previous version we cannot tell a move from another edit, so a live
        event is reported as MOVED with its current times; the domain ignores a "move"
        to the time the meeting already has.
        """
        event = master_event(cal)
        if event is None:
            return None
        uid = str(event.get("UID", ""))
        if str(event.get("STATUS", "")).upper() == "CANCELLED":
            return EventChange(ChangeKind.CANCELED, cal_url, href, uid)
        times = event_times(event, zone(owner.time_zone))
        start, end = (times[0].astimezone(UTC), times[1].astimezone(UTC)) if times else (None, None)
        answer = (partstat_of(event, owner.address) or "").lower()
        who = declined_by(event, owner.address)
        if who is not None:
            note = str(event.get("COMMENT", "")) if event.get("COMMENT") else ""
            return EventChange(
                ChangeKind.DECLINED, cal_url, href, uid, start, end, note=note, by=who, answer=answer
            )
        if times is None:
            return EventChange(ChangeKind.UPDATED, cal_url, href, uid, answer=answer)
        return EventChange(ChangeKind.MOVED, cal_url, href, uid, start, end, answer=answer)

    # --- connection check -----------------------------------------------------------------------

    def test_connection(self, probe: Iterable[CalendarIdentity] = ()) -> None:
        people = list(probe)
        if not people:
            client = self._client(CalendarIdentity("", ""))
            self._call(
                lambda: _check(
                    client.request(self.url, "PROPFIND", _RESOURCETYPE, {"Depth": "0"}), "reach server"
                ),
                "reach server",
            )
        for person in people:
            self._call(lambda p=person: self._check_calendar(p), "open calendar")  # type: ignore[misc]

    def _check_calendar(self, person: CalendarIdentity) -> None:
        url = self.calendar_url(person)
        response = _check(
            self._client(person).request(url, "PROPFIND", _RESOURCETYPE, {"Depth": "0"}), "open calendar"
        )
        raw = response.raw if isinstance(response.raw, bytes) else str(response.raw).encode()
        if etree.fromstring(raw).find(f".//{{{_CALDAV}}}calendar") is None:
            raise NotFound(f"{url} is not a calendar collection")
