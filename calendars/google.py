"""Google Calendar v3 through google-api-python-client (static discovery, no network for it).

Credentials: a Workspace service account with domain-wide delegation (each call
impersonates the calendar's owner with ``with_subject``) or per-user OAuth
(refresh token per person, client id/secret per tenant). The API root can be
overridden (``api_endpoint``) and the service account's ``token_uri`` is used as
given, so a tenant can point at a proxy or a test server.

- busy: ``freebusy.query`` with up to 50 calendars per call (the API's maximum).
- writes: ``events.insert`` with a client-chosen id derived from the meeting UID,
  so a retried insert gets 409 and we fetch the event the first attempt made;
  ``events.patch``/``events.delete``, all with ``sendUpdates=all``.
- changes: ``events.list`` with ``syncToken``; 410 means "full sync required".
- push: ``events.watch`` (a ``web_hook`` channel with our token) and ``channels.stop``.
  Channels cannot be extended: renewing opens a new channel (the caller stops the old one).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import google_auth_httplib2
import httplib2
from google.auth import exceptions as google_exceptions
from google.auth.transport.requests import Request as AuthRequest
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from calendars.base import (
    AlreadyExists,
    AuthError,
    BusyInterval,
    CalendarError,
    CalendarIdentity,
    ChangeBatch,
    ChangeKind,
    ConsentMissing,
    EventChange,
    EventRef,
    EventSpec,
    Gone,
    NotFound,
    ProviderUnavailable,
    PushChannel,
)
from calendars.http import DEFAULT_POLICY, RetryPolicy, error_for_status, header
from calendars.ical import as_aware, merge, zone

log = logging.getLogger(__name__)
T = TypeVar("T")
SCOPES = ["https://www.googleapis.com/auth/calendar"]
FREEBUSY_MAX_CALENDARS = 50  # FreeBusyRequest.calendarExpansionMax: "Maximum value is 50"
UID_PROPERTY = "flashmentorUid"
MEET = "hangoutsMeet"  # conferenceSolutionKey.type of Google Meet
PUSH_LIFETIME = timedelta(seconds=604800)  # channel ttl: the documented default (a week)


@functools.lru_cache(maxsize=16)
def _service_account(info_json: str) -> service_account.Credentials:
    """The service account's base credentials, parsed once a process: reading its RSA key costs
    ~40 ms of CPU, and a connector is built per job. Only copies (``with_subject``,
    ``with_scopes``) are used and refreshed; this one never holds a token."""
    return service_account.Credentials.from_service_account_info(json.loads(info_json), scopes=SCOPES)


# Google's responseStatus as the iCalendar PARTSTAT (``EventChange.answer``).
_PARTSTAT = {"needsAction": "needs-action", "tentative": "tentative", "accepted": "accepted",
             "declined": "declined"}


def event_id_for(uid: str) -> str:
    """A Google event id for ``uid``: base32hex (a-v, 0-9) as the API requires, stable across retries."""
    digest = hashlib.sha256(uid.encode()).digest()
    return base64.b32hexencode(digest).decode().rstrip("=").lower()


def conference_request_id(uid: str) -> str:
    """``conferenceData.createRequest.requestId`` for the meeting: unique per meeting and the same
    on every write, since Google ignores a request id it has seen for the event (one Meet, ever)."""
    return "flashmentor-" + hashlib.sha256(f"meet:{uid}".encode()).hexdigest()[:32]


def video_of(event: Mapping[str, Any]) -> tuple[str, bool]:
    """The event's join link (the conference's ``video`` entry point, else ``hangoutLink``) and
    whether Google is still making it (``createRequest.status.statusCode`` ``pending``)."""
    conference = event.get("conferenceData") or {}
    for entry in conference.get("entryPoints") or []:
        if entry.get("entryPointType") == "video" and entry.get("uri"):
            return str(entry["uri"]), False
    if event.get("hangoutLink"):
        return str(event["hangoutLink"]), False
    status = ((conference.get("createRequest") or {}).get("status") or {}).get("statusCode")
    return "", status == "pending"


def _reasons(exc: HttpError) -> list[str]:
    try:
        import json

        data = json.loads(exc.content.decode() if isinstance(exc.content, bytes) else exc.content)
        return [e.get("reason", "") for e in data.get("error", {}).get("errors", [])]
    except (ValueError, AttributeError):
        return []


def translate(exc: Exception) -> CalendarError:
    """Map google-api-python-client / google-auth failures to our error types."""
    if isinstance(exc, CalendarError):
        return exc
    if isinstance(exc, HttpError):
        status = int(exc.resp.status)
        reasons = _reasons(exc)
        mapped = error_for_status(
            status,
            f"Google Calendar: HTTP {status} {exc._get_reason()}",
            reasons=reasons,
            retry_after=header(exc.resp, "retry-after"),
        )
        assert mapped is not None
        if status == 403 and isinstance(mapped, AuthError) and "forbiddenForServiceAccounts" in reasons:
            return ConsentMissing(str(mapped))
        return mapped
    if isinstance(exc, google_exceptions.RefreshError):
        text = str(exc)
        if "unauthorized_client" in text or "access_denied" in text:
            return ConsentMissing(
                "Google refused to impersonate the user: domain-wide delegation is not "
                "granted for this service account and scope"
            )
        if getattr(exc, "retryable", False):
            return ProviderUnavailable(f"Google token endpoint failed: {text}")
        return AuthError(f"Google rejected the credentials: {text}")
    if isinstance(exc, google_exceptions.TransportError | httplib2.HttpLib2Error | OSError):
        return ProviderUnavailable(f"Google unreachable: {exc}")
    raise exc


def _rfc3339(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _when(value: Mapping[str, str], tz_name: str) -> datetime:
    if "dateTime" in value:
        parsed = datetime.fromisoformat(value["dateTime"].replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=zone(value.get("timeZone", tz_name)))
        return parsed.astimezone(UTC)
    return as_aware(date.fromisoformat(value["date"]), zone(tz_name)).astimezone(UTC)


class GoogleConnector:
    provider = "google"
    push_lifetime = PUSH_LIFETIME

    def __init__(
        self,
        *,
        service_account_info: Mapping[str, Any] | None = None,
        oauth_client: Mapping[str, str] | None = None,
        api_endpoint: str | None = None,
        freebusy_subject: str = "",
        policy: RetryPolicy = DEFAULT_POLICY,
        timeout: float = 30,
        connect_timeout: float | None = None,
    ) -> None:
        if service_account_info is None and oauth_client is None:
            raise ValueError("Google needs a service account or an OAuth client")
        self._sa_info = dict(service_account_info) if service_account_info else None
        self._sa_key = json.dumps(self._sa_info, sort_keys=True) if self._sa_info else ""  # its parsed key's
        self._oauth = dict(oauth_client) if oauth_client else None
        self.api_endpoint = api_endpoint
        self.freebusy_subject = freebusy_subject
        self.policy = policy
        # httplib2 has one socket timeout for the connect and every read: the read timeout serves
        # for both (a connect is rarely slower than a read; the whole call is bounded by the policy).
        self.timeout = timeout
        self.connect_timeout = connect_timeout or timeout
        self._services: dict[str, Any] = {}

    # --- plumbing -------------------------------------------------------------------------------

    def _credentials(self, owner: CalendarIdentity) -> Any:
        if self._sa_info is not None:
            return _service_account(self._sa_key).with_subject(owner.address or owner.external_id)
        assert self._oauth is not None
        if not owner.secret:
            raise AuthError(f"no OAuth refresh token stored for {owner.person_key}")
        return user_credentials.Credentials(
            token=None,
            refresh_token=owner.secret,
            client_id=self._oauth["client_id"],
            client_secret=self._oauth["client_secret"],
            token_uri=self._oauth.get("token_uri", "https://oauth2.googleapis.com/token"),
            scopes=SCOPES,
        )

    def _service(self, owner: CalendarIdentity) -> Any:
        key = f"{owner.address or owner.external_id}|{owner.secret or ''}"
        service = self._services.get(key)
        if service is None:
            http = google_auth_httplib2.AuthorizedHttp(
                self._credentials(owner), http=httplib2.Http(timeout=self.timeout)
            )
            options = {"api_endpoint": self.api_endpoint} if self.api_endpoint else None
            service = build(
                "calendar",
                "v3",
                http=http,
                static_discovery=True,
                cache_discovery=False,
                client_options=options,
            )
            self._services[key] = service
        return service

    def _execute(self, make: Callable[[], Any], what: str) -> Any:
        def attempt() -> Any:
            try:
                return make().execute(num_retries=0)
            except Exception as exc:
                raise translate(exc) from exc

        return self.policy.run(attempt, what=f"Google {what}")

    # --- busy -----------------------------------------------------------------------------------

    def busy(
        self, people: Sequence[CalendarIdentity], start: datetime, end: datetime
    ) -> Mapping[str, list[BusyInterval]]:
        result: dict[str, list[BusyInterval]] = {}
        people = list(people)
        for i in range(0, len(people), FREEBUSY_MAX_CALENDARS):
            batch = people[i : i + FREEBUSY_MAX_CALENDARS]
            result.update(self._freebusy(batch, start, end))
        return result

    def _freebusy(
        self, batch: Sequence[CalendarIdentity], start: datetime, end: datetime
    ) -> dict[str, list[BusyInterval]]:
        asker = batch[0]
        if self.freebusy_subject and self._sa_info is not None:
            asker = CalendarIdentity(
                self.freebusy_subject, self.freebusy_subject, email=self.freebusy_subject
            )
        service = self._service(asker)
        body = {
            "timeMin": _rfc3339(start),
            "timeMax": _rfc3339(end),
            "timeZone": "UTC",
            "items": [{"id": p.external_id} for p in batch],
        }
        data = self._execute(lambda: service.freebusy().query(body=body), "freebusy.query")
        calendars = data.get("calendars", {})
        out: dict[str, list[BusyInterval]] = {}
        for person in batch:
            entry = calendars.get(person.external_id) or {}
            if entry.get("errors"):
                log.warning(
                    "Google free/busy for %s failed: %s",
                    person.person_key,
                    [e.get("reason") for e in entry["errors"]],
                )
                continue  # unknown, not free: left out of the mapping
            spans = [
                (_when({"dateTime": b["start"]}, "UTC"), _when({"dateTime": b["end"]}, "UTC"))
                for b in entry.get("busy", [])
            ]
            out[person.person_key] = merge((max(s, start), min(e, end)) for s, e in spans if s < end)
        return out

    # --- writes ---------------------------------------------------------------------------------

    @staticmethod
    def _body(spec: EventSpec) -> dict[str, Any]:
        attendees = [
            {
                "email": spec.organizer.email,
                "displayName": spec.organizer.name,
                "organizer": True,
                "responseStatus": "accepted",
            }
        ]
        attendees += [
            {"email": a.email, "displayName": a.name}
            for a in spec.attendees
            if a.email.lower() != spec.organizer.email.lower()
        ]
        if spec.hold:
            attendees[0].pop("organizer")  # Google names the organizer in its own field
        body: dict[str, Any] = {
            "summary": spec.summary,
            "description": spec.description,
            "location": spec.location or spec.video_url,
            "start": {"dateTime": _rfc3339(spec.start), "timeZone": "UTC"},
            "end": {"dateTime": _rfc3339(spec.end), "timeZone": "UTC"},
            "attendees": attendees,
            "transparency": "opaque",
            "status": "tentative" if spec.hold else "confirmed",
            "extendedProperties": {"private": {UID_PROPERTY: spec.uid}},
        }
        if spec.hold:
            body["organizer"] = {"email": spec.organizer.email, "displayName": spec.organizer.name}
        if spec.online_meeting:
            # Read only with conferenceDataVersion=1; a repeated requestId is ignored (one Meet).
            body["conferenceData"] = {
                "createRequest": {
                    "requestId": conference_request_id(spec.uid),
                    "conferenceSolutionKey": {"type": MEET},
                }
            }
        return body

    @staticmethod
    def _conference(spec: EventSpec) -> dict[str, Any]:
        """The query parameter that makes Google read ``conferenceData`` (version 0 ignores it)."""
        return {"conferenceDataVersion": 1} if spec.online_meeting else {}

    def _meet_allowed(self, service: Any, calendar_id: str) -> bool:
        """Whether the calendar offers Google Meet (``conferenceProperties.allowedConferenceSolutionTypes``):
        a Workspace with Meet switched off would refuse the create request."""
        data = self._execute(lambda: service.calendars().get(calendarId=calendar_id), "calendars.get")
        allowed = (data.get("conferenceProperties") or {}).get("allowedConferenceSolutionTypes") or []
        return MEET in allowed

    def _ref(self, service: Any, calendar_id: str, event: Mapping[str, Any], spec: EventSpec) -> EventRef:
        """The written event's ref; for an online meeting with its join link, read once more
        while Google reports the conference pending (it is made asynchronously)."""
        url, pending = video_of(event) if spec.online_meeting else ("", False)
        if pending:
            event = self._execute(
                lambda: service.events().get(calendarId=calendar_id, eventId=event["id"]), "events.get"
            )
            url, pending = video_of(event)
        return EventRef(calendar_id, event["id"], event.get("etag", ""), video_url=url, video_pending=pending)

    def create_event(self, owner: CalendarIdentity, spec: EventSpec) -> EventRef:
        if spec.hold:
            return self._import_hold(owner, spec)
        service = self._service(owner)
        calendar_id = owner.external_id
        event_id = event_id_for(spec.uid)
        # iCalUID: the meeting's UID, so Google's invitation, the attendee's copy and the app's own
        # mails are one meeting everywhere; the id (derived from it) makes a retried insert a 409.
        body = {"id": event_id, "iCalUID": spec.uid, **self._body(spec)}
        if spec.online_meeting and not self._meet_allowed(service, calendar_id):
            spec = replace(spec, online_meeting=False)  # no Meet here: the caller falls back
            body = {"id": event_id, "iCalUID": spec.uid, **self._body(spec)}
        conference = self._conference(spec)
        try:
            created = self._execute(
                lambda: service.events().insert(
                    calendarId=calendar_id, body=body, sendUpdates="all", **conference
                ),
                "events.insert",
            )
        except AlreadyExists:
            # 409 duplicate: an earlier attempt created it; return that one (revived if deleted,
            # and asked for its Meet again: the same requestId cannot make a second one).
            created = self._execute(
                lambda: service.events().get(calendarId=calendar_id, eventId=event_id), "events.get"
            )
            if created.get("status") == "cancelled" or (spec.online_meeting and not video_of(created)[0]):
                return self.update_event(owner, EventRef(calendar_id, event_id), spec)
        return self._ref(service, calendar_id, created, spec)

    def _import_hold(self, owner: CalendarIdentity, spec: EventSpec) -> EventRef:
        """A hold is an invitation the owner received: ``events.import`` adds it as their private
        copy of an event another person organizes (``events.insert`` would make the owner its
        organizer, who cannot answer). Import takes the ``iCalUID`` (and no ``id``) and brings
        an event of that UID up to date, so a retry makes no second one."""
        service = self._service(owner)
        calendar_id = owner.external_id
        body = {"iCalUID": spec.uid, **self._body(spec)}
        imported = self._execute(
            lambda: service.events().import_(calendarId=calendar_id, body=body), "events.import"
        )
        return EventRef(calendar_id, imported["id"], imported.get("etag", ""))

    def update_event(self, owner: CalendarIdentity, ref: EventRef, spec: EventSpec) -> EventRef:
        service = self._service(owner)
        if spec.online_meeting and not self._meet_allowed(service, ref.calendar_id):
            spec = replace(spec, online_meeting=False)
        body = self._body(spec)
        conference = self._conference(spec)
        updated = self._execute(
            lambda: service.events().patch(
                calendarId=ref.calendar_id, eventId=ref.event_id, body=body, sendUpdates="all", **conference
            ),
            "events.patch",
        )
        return self._ref(service, ref.calendar_id, {"id": ref.event_id, **updated}, spec)

    def cancel_event(self, owner: CalendarIdentity, ref: EventRef, spec: EventSpec) -> None:
        service = self._service(owner)
        try:
            self._execute(
                lambda: service.events().delete(
                    # A hold goes quietly: no reply or cancellation mail to anyone.
                    calendarId=ref.calendar_id, eventId=ref.event_id,
                    sendUpdates="none" if spec.hold else "all",
                ),
                "events.delete",
            )
        except NotFound:
            return  # already deleted (404) or gone (410): nothing left to cancel

    # --- changes --------------------------------------------------------------------------------

    def changes(self, owner: CalendarIdentity, since: str | None) -> ChangeBatch:
        try:
            return self._list(owner, since)
        except Gone:
            if since is None:
                raise
            # Token expired: full sync, as the API asks, with the events deleted meanwhile
            # (a full listing leaves them out unless ``showDeleted`` is set).
            return self._list(owner, None, show_deleted=True)

    def _list(self, owner: CalendarIdentity, token: str | None, *, show_deleted: bool = False) -> ChangeBatch:
        service = self._service(owner)
        calendar_id = owner.external_id
        changes: list[EventChange] = []
        page: str | None = None
        while True:
            params: dict[str, Any] = {"calendarId": calendar_id, "maxResults": 250}
            if token:
                params["syncToken"] = token
            if page:
                params["pageToken"] = page
            if show_deleted:
                params["showDeleted"] = True
            data = self._execute(lambda p=params: service.events().list(**p), "events.list")  # type: ignore[misc]
            for item in data.get("items", []):
                change = self._change_from(owner, calendar_id, item)
                if change is not None:
                    changes.append(change)
            page = data.get("nextPageToken")
            if not page:
                return ChangeBatch(changes, data.get("nextSyncToken"))

    @staticmethod
    def _change_from(
        owner: CalendarIdentity, calendar_id: str, item: Mapping[str, Any]
    ) -> EventChange | None:
        uid = (item.get("extendedProperties", {}).get("private", {}) or {}).get(UID_PROPERTY, "") or str(
            item.get("iCalUID", "")
        )
        event_id = item["id"]
        if item.get("status") == "cancelled":
            return EventChange(ChangeKind.CANCELED, calendar_id, event_id, uid)
        me = next(
            (
                a
                for a in item.get("attendees", [])
                if a.get("self") or (owner.address and a.get("email", "").lower() == owner.address.lower())
            ),
            None,
        )
        # The owner's answer first; on the organizer's event Google shows each attendee's too.
        declined = [a for a in item.get("attendees", []) if a.get("responseStatus") == "declined"]
        if me is not None and me in declined:
            declined = [me]
        timed = "start" in item and "end" in item
        start = _when(item["start"], owner.time_zone) if timed else None
        end = _when(item["end"], owner.time_zone) if timed else None
        answer = _PARTSTAT.get(str(me.get("responseStatus", "needsAction")), "") if me is not None else ""
        if declined:
            who = declined[0]
            by = owner.address if who is me and owner.address else str(who.get("email", ""))
            return EventChange(
                ChangeKind.DECLINED, calendar_id, event_id, uid, start, end,
                note=who.get("comment", ""), by=by.lower(), answer=answer,
            )
        if not timed:
            return EventChange(ChangeKind.UPDATED, calendar_id, event_id, uid, answer=answer)
        return EventChange(ChangeKind.MOVED, calendar_id, event_id, uid, start, end, answer=answer)

    # --- push ---------------------------------------------------------------------------------------

    def subscribe(
        self, owner: CalendarIdentity, address: str, secret: str, *, lifetime: timedelta | None = None
    ) -> PushChannel:
        """``events.watch`` on the owner's calendar: Google POSTs to ``address`` with
        ``X-Goog-Channel-Token: secret`` (first a ``sync`` message, then one per change)."""
        service = self._service(owner)
        wanted = datetime.now(UTC) + (lifetime or self.push_lifetime)
        body = {
            "id": str(uuid.uuid4()),  # same id on an inline retry: a lost answer cannot open two
            "type": "web_hook",
            "address": address,
            "token": secret,
            "expiration": str(int(wanted.timestamp() * 1000)),  # ms since the epoch
        }
        data = self._execute(
            lambda: service.events().watch(calendarId=owner.external_id, body=body), "events.watch"
        )
        expires = wanted
        if data.get("expiration"):  # Google may shorten what we asked for
            expires = datetime.fromtimestamp(int(data["expiration"]) / 1000, UTC)
        channel_id = str(data.get("id") or body["id"])
        return PushChannel(channel_id, str(data.get("resourceId", "")), expires, secret)

    def renew(
        self,
        owner: CalendarIdentity,
        channel: PushChannel,
        address: str,
        *,
        lifetime: timedelta | None = None,
    ) -> PushChannel:
        """A channel cannot be extended: open a new one with the same token (stop the old one after)."""
        return self.subscribe(owner, address, channel.secret, lifetime=lifetime)

    def unsubscribe(self, owner: CalendarIdentity, channel: PushChannel) -> None:
        service = self._service(owner)  # a channel can only be stopped by the user who opened it
        body = {"id": channel.channel_id, "resourceId": channel.resource_id}
        try:
            self._execute(lambda: service.channels().stop(body=body), "channels.stop")
        except NotFound:
            return  # expired or stopped already

    # --- connection check -----------------------------------------------------------------------

    def test_connection(self, probe: Iterable[CalendarIdentity] = ()) -> None:
        people = list(probe)
        if not people:
            if self._sa_info is None:
                return  # per-user OAuth: nothing to check until someone connects
            creds = _service_account(self._sa_key).with_scopes(SCOPES)  # a copy: the refresh is its own

            def refresh() -> None:
                try:
                    creds.refresh(AuthRequest())
                except Exception as exc:
                    raise translate(exc) from exc

            self.policy.run(refresh, what="Google token")
            return
        for person in people:
            service = self._service(person)
            self._execute(
                lambda s=service, p=person: s.events().list(  # type: ignore[misc]
                    calendarId=p.external_id, maxResults=1
                ),
                "events.list",
            )
