"""A loopback Microsoft identity platform + Graph (v1.0 calendar subset) over HTTPS.

MSAL accepts only https authorities, so the server runs TLS with a throwaway CA
generated per test session; the connector trusts it through its ``ca_bundle``
setting, as it would a corporate proxy's CA.

Implements the shapes the connector relies on:
- ``GET /{tenant}/v2.0/.well-known/openid-configuration``; ``POST /{tenant}/oauth2/v2.0/token``
  (client credentials with a secret or a certificate-signed ``client_assertion``;
  ``invalid_client`` for a wrong secret; unknown tenant -> 400).
- ``POST /v1.0/users/{id}/calendar/getSchedule`` (scheduleItems with status, per-schedule errors),
  ``GET /v1.0/users/{id}/calendar``, ``POST/GET/PATCH/DELETE /v1.0/users/{id}/events[/{eid}]``
  (``transactionId`` de-duplicates creates), ``POST .../events/{eid}/cancel``,
  ``GET /v1.0/users/{id}/calendarView/delta`` with ``@odata.nextLink`` paging and
  ``@odata.deltaLink`` (410 for an expired delta token).
- ``POST /v1.0/subscriptions`` on ``users/{id}/events`` (changeType a subset of
  created,updated,deleted; ``expirationDateTime`` in the future and at most
  ``max_subscription_minutes`` = 4230 ahead; ``clientState`` at most 128 characters). Before
  answering 201 it runs the validation handshake against ``notificationUrl`` (and
  ``lifecycleNotificationUrl``): ``POST ?validationToken=...`` must be answered 200 text/plain
  with the token within 10 s, else 400. ``GET``/``PATCH`` (new expiry, or a new, re-validated
  url)/``DELETE /v1.0/subscriptions/{id}``; expired ones are gone (404). Each change in a
  watched calendar is POSTed as ``{"value": [changeNotification]}`` from a background
  thread. Unlike Graph, the urls may be plain http (the app under test runs on loopback).
- online meetings: ``isOnlineMeeting: true`` with an ``onlineMeetingProvider`` (default: the
  calendar's ``defaultOnlineMeetingProvider``) on create or PATCH makes the Teams meeting once;
  the event then shows ``onlineMeeting.joinUrl``, and it cannot be switched off (400), as the
  "online meetings in an Outlook calendar" guide documents. ``GET .../calendar`` lists the
  ``allowedOnlineMeetingProviders``.
- attendees in this tenant, as Exchange treats them: a created event gets an ``iCalUId`` Exchange
  assigns (a client cannot set it); each attendee with a mailbox here gets their own copy (same
  ``iCalUId``, their own ``id``, ``responseStatus`` none, ``showAs`` tentative, no ``transactionId``);
  the organizer's update rewrites the copies, the organizer's cancel or delete removes them;
  an attendee's answer is shown in their copy and on the organizer's event. An appointment (no
  attendees) mails nobody; its owner may change its "Show as" or delete it in Outlook.
- 403 ``ErrorAccessDenied`` until admin consent is granted; injected 429/503 with ``Retry-After``.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import ssl
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, unquote

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from tests.fakes.jsonhttp import JsonHandler, form_of, serve
from tests.fakes.push import Notifier
from tests.fakes.store import FakeEvent, Store
from tests.fakes.tls import make_tls_files


def make_app_certificate() -> tuple[str, str, Any]:
    """An app certificate as an Entra app registration holds one.

    Returns (private key PEM, SHA-1 thumbprint, public key)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "flashmentor app")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=2))
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return pem, cert.fingerprint(hashes.SHA1()).hex().upper(), key.public_key()


def _b64d(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _graph_dt(value: datetime | date) -> dict[str, str]:
    if isinstance(value, datetime):
        text = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000")
    else:
        text = f"{value.isoformat()}T00:00:00.0000000"
    return {"dateTime": text, "timeZone": "UTC"}


def _parse_graph_dt(value: dict[str, str]) -> datetime:
    text = value["dateTime"].split(".")[0]
    parsed = datetime.fromisoformat(text)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


# Exchange's iCalUId: the Outlook global object id's class prefix, then the meeting's own bytes.
ICAL_UID_PREFIX = "040000008200E00074C5B7101A82E008"
CHANGE_TYPES = frozenset({"created", "updated", "deleted"})
VALIDATION_TOKEN_PREFIX = "Validation: Testing client application reachability for subscription Request-Id: "
VALIDATION_FAILED = (
    "Subscription validation request failed. Notification endpoint must respond with 200 OK to "
    "validation request."
)


def _graph_stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


@dataclass
class Subscription:
    id: str
    resource: str
    user: str
    change_types: frozenset[str]
    notification_url: str
    lifecycle_url: str
    client_state: str
    expiration: datetime
    tls: str = "v1_2"

    @property
    def live(self) -> bool:
        return self.expiration > datetime.now(UTC)


@dataclass
class GraphFake:
    store: Store = field(default_factory=Store)
    tenant_id: str = "contoso-tenant"
    client_id: str = "app-client-id"
    client_secret: str = "s3cret-value"
    cert_thumbprints: dict[str, Any] = field(default_factory=dict)  # thumbprint -> public key
    consented: bool = True
    base_url: str = ""
    ca_file: str = ""
    tokens: set[str] = field(default_factory=set)
    page_size: int = 50
    token_requests: int = 0
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    max_subscription_minutes: int = 4230
    notifier: Notifier = field(default_factory=Notifier)
    online_providers: list[str] = field(default_factory=lambda: ["teamsForBusiness"])  # first: default

    def __post_init__(self) -> None:
        self.store.listeners.append(self._on_change)

    @property
    def graph_url(self) -> str:
        return self.base_url + "/v1.0"

    def seed(self, calendar: str, **fields: Any) -> FakeEvent:
        fields.setdefault("id", "AAMk" + secrets.token_hex(10))
        fields.setdefault("organizer", calendar)
        return self.store.put(FakeEvent(calendar=calendar, **fields))

    # --- identity platform ----------------------------------------------------------------------

    def openid(self, tenant: str) -> tuple[int, Any]:
        if tenant != self.tenant_id:
            return 400, {
                "error": "invalid_tenant",
                "error_description": f"AADSTS90002: Tenant '{tenant}' not found.",
            }
        root = f"{self.base_url}/{tenant}"
        return 200, {
            "issuer": f"{root}/v2.0",
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
            "token_endpoint": f"{root}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
        }

    def token(self, tenant: str, form: dict[str, str]) -> tuple[int, Any]:
        self.token_requests += 1
        if tenant != self.tenant_id:
            return 400, {"error": "invalid_tenant", "error_description": "AADSTS90002: Tenant not found."}
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        if form.get("client_id") != self.client_id:
            return 400, {
                "error": "unauthorized_client",
                "error_description": "AADSTS700016: Application not found in the directory.",
            }
        if "client_assertion" in form:
            if not self._assertion_ok(form["client_assertion"]):
                return 401, {
                    "error": "invalid_client",
                    "error_description": "AADSTS700027: Client assertion failed signature validation.",
                }
        elif form.get("client_secret") != self.client_secret:
            return 401, {
                "error": "invalid_client",
                "error_description": "AADSTS7000215: Invalid client secret provided.",
            }
        token = "eyJ0" + secrets.token_urlsafe(16)
        self.tokens.add(token)
        return 200, {
            "token_type": "Bearer",
            "expires_in": 3599,
            "ext_expires_in": 3599,
            "access_token": token,
        }

    def _assertion_ok(self, assertion: str) -> bool:
        try:
            head_b64, payload_b64, sig = assertion.split(".")
            head = json.loads(_b64d(head_b64))
            thumb = _b64d(head.get("x5t", "")).hex().upper()
            public = self.cert_thumbprints[thumb]
            public.verify(
                _b64d(sig), f"{head_b64}.{payload_b64}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
            return True
        except Exception:
            return False

    # --- Graph ----------------------------------------------------------------------------------

    def event_json(self, event: FakeEvent, owner: str) -> dict[str, Any]:
        if event.deleted:
            return {
                "@odata.type": "#microsoft.graph.event",
                "id": event.id,
                "@removed": {"reason": "deleted"},
            }
        response = "organizer" if event.organizer.lower() == owner else (event.response_of(owner) or "none")
        body: dict[str, Any] = {
            "@odata.etag": f'W/"{event.version}"',
            "id": event.id,
            "subject": event.summary,
            "body": {"contentType": "text", "content": event.description},
            "start": _graph_dt(event.start),
            "end": _graph_dt(event.end),
            "isAllDay": event.all_day,
            "isCancelled": event.status == "cancelled",
            "showAs": "free" if event.transparent else event.show_as,
            "location": {"displayName": event.location},
            "organizer": {"emailAddress": {"address": event.organizer}},
            "responseStatus": {"response": response},
            "attendees": [
                {
                    "type": "required",
                    "status": {"response": a.get("response", "none")},
                    "emailAddress": {"address": a["email"], "name": a.get("name", "")},
                }
                for a in event.attendees
            ],
            "iCalUId": event.ical_uid or event.id,
            "isOnlineMeeting": bool(event.join_url),
            "onlineMeetingProvider": event.online_provider or "unknown",
            "onlineMeeting": {"joinUrl": event.join_url} if event.join_url else None,
        }
        if event.transaction_id:
            body["transactionId"] = event.transaction_id
        return body

    def apply_body(self, event: FakeEvent, body: dict[str, Any]) -> None:
        if "subject" in body:
            event.summary = body["subject"]
        if "body" in body:
            event.description = body["body"].get("content", "")
        if "location" in body:
            event.location = (body["location"] or {}).get("displayName", "")
        if "start" in body:
            event.start = _parse_graph_dt(body["start"])
        if "end" in body:
            event.end = _parse_graph_dt(body["end"])
        if "showAs" in body:
            event.show_as = body["showAs"]
        if "attendees" in body:
            event.attendees = [
                {
                    "email": a["emailAddress"]["address"],
                    "name": a["emailAddress"].get("name", ""),
                    "response": "none",
                }
                for a in body["attendees"]
            ]

    def apply_online(self, event: FakeEvent, body: dict[str, Any]) -> tuple[int, Any] | None:
        """``isOnlineMeeting``: true makes the Teams meeting once; once made it stays (400 for
        false or another provider); an error answer, or None."""
        if "isOnlineMeeting" not in body:
            return None
        provider = str(body.get("onlineMeetingProvider") or (self.online_providers or ["unknown"])[0])
        if event.join_url:
            if body["isOnlineMeeting"] is not True or provider != event.online_provider:
                return 400, _error("ErrorInvalidRequest", "The online meeting cannot be changed or removed.")
            return None
        if body["isOnlineMeeting"] is not True:
            return None
        if provider not in self.online_providers:
            return 400, _error("ErrorInvalidRequest", f"{provider} is not allowed for this calendar.")
        thread = base64.urlsafe_b64encode(secrets.token_bytes(27)).decode().rstrip("=")
        event.online_provider = provider
        event.join_url = (
            f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_{thread}%40thread.v2/0"
            f"?context=%7b%22Tid%22%3a%22{self.tenant_id}%22%7d"
        )
        return None

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        if not self.consented:
            return 403, _error("ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        sm = re.fullmatch(r"/v1\.0/subscriptions(?:/([^/]+))?", path)
        if sm:
            return self._subscriptions(method, unquote(sm.group(1)) if sm.group(1) else None, body)
        m = re.fullmatch(r"/v1\.0/users/([^/]+)/(.+)", path)
        if not m:
            return 404, _error("ResourceNotFound", "Resource not found for the segment.")
        user, rest = unquote(m.group(1)).lower(), m.group(2)
        if rest == "calendar/getSchedule" and method == "POST":
            return self._schedule(body)
        if not self.store.has_calendar(user):
            return 404, _error("ErrorItemNotFound", "The specified object was not found in the store.")
        if rest == "calendar" and method == "GET":
            return 200, {"id": f"cal-{user}", "name": "Calendar", "canEdit": True,
                         "allowedOnlineMeetingProviders": list(self.online_providers),
                         "defaultOnlineMeetingProvider": (self.online_providers or ["unknown"])[0]}
        if rest == "events" and method == "POST":
            return self._create(user, body)
        if rest == "calendarView/delta" and method == "GET":
            return self._delta(user, query)
        em = re.fullmatch(r"events/([^/]+)(/cancel)?", rest)
        if not em:
            return 404, _error("ResourceNotFound", "Resource not found for the segment.")
        event = self.store.get(user, unquote(em.group(1)))
        if event is None or event.deleted:
            return 404, _error("ErrorItemNotFound", "The specified object was not found in the store.")
        if em.group(2):
            if method != "POST":
                return 405, _error("ErrorInvalidRequest", "Method not allowed")
            if event.organizer.lower() != user:
                return 400, _error(
                    "ErrorInvalidRequest",
                    "Your request can't be completed. You need to be an organizer to cancel a meeting.",
                )
            self.store.delete(user, event.id)
            self._mirror(event)
            return 202, None
        if method == "GET":
            return 200, self.event_json(event, user)
        if method == "PATCH":
            refused = self.apply_online(event, body)
            if refused is not None:
                return refused
            self.apply_body(event, body)
            self.store.put(event)
            self._mirror(event)
            return 200, self.event_json(event, user)
        if method == "DELETE":
            self.store.delete(user, event.id)
            self._mirror(event)
            return 204, None
        return 405, _error("ErrorInvalidRequest", "Method not allowed")

    def _schedule(self, body: dict[str, Any]) -> tuple[int, Any]:
        start, end = _parse_graph_dt(body["startTime"]), _parse_graph_dt(body["endTime"])
        if end - start >= timedelta(days=42):
            return 400, _error("ErrorInvalidTimeInterval", "The time period must be less than 42 days.")
        value = []
        for address in body.get("schedules", []):
            if not self.store.has_calendar(address):
                value.append(
                    {
                        "scheduleId": address,
                        "availabilityView": "",
                        "error": {"message": "User not found", "responseCode": "UserNotFound"},
                    }
                )
                continue
            items = []
            for event in self.store.live_events(address):
                if event.transparent or event.status == "cancelled" or event.show_as == "free":
                    continue
                if event.response_of(address) == "declined":
                    continue
                for s, e in self.store.occurrences(event, start, end):
                    items.append(
                        {
                            "isPrivate": False,
                            "status": event.show_as,
                            "subject": event.summary,
                            "start": _graph_dt(s),
                            "end": _graph_dt(e),
                        }
                    )
            value.append(
                {"scheduleId": address, "availabilityView": "", "scheduleItems": items, "workingHours": {}}
            )
        return 200, {"value": value}

    def _create(self, user: str, body: dict[str, Any]) -> tuple[int, Any]:
        tid = body.get("transactionId", "")
        if tid:
            for existing in self.store.live_events(user):
                if existing.transaction_id == tid:
                    return 201, self.event_json(existing, user)
        event = FakeEvent(
            id="AAMk" + secrets.token_hex(12),
            calendar=user,
            start=datetime.now(UTC),
            end=datetime.now(UTC),
            organizer=user,
            transaction_id=tid,
            ical_uid=ICAL_UID_PREFIX + secrets.token_hex(28).upper(),
        )
        refused = self.apply_online(event, body)
        if refused is not None:
            return refused
        self.apply_body(event, body)
        self.store.put(event)
        self._mirror(event)
        return 201, self.event_json(event, user)

    def _copy_of(self, attendee: str, event: FakeEvent) -> FakeEvent | None:
        """The attendee's own copy of the organizer's ``event`` (found by its ``iCalUId``)."""
        return next((e for e in self.store.live_events(attendee)
                     if e.ical_uid == event.ical_uid and e.organizer.lower() != attendee), None)

    def _mirror(self, event: FakeEvent) -> None:
        """Exchange's attendee copies of an organizer's event: made, brought up to date (the
        attendee's own answer kept), removed when the organizer cancels or deletes the event."""
        if event.organizer.lower() != event.calendar or not event.ical_uid:
            return
        for att in event.attendees:
            email = att["email"].lower()
            if email == event.calendar or not self.store.has_calendar(email):
                continue
            copy = self._copy_of(email, event)
            if event.deleted:
                if copy is not None:
                    self.store.delete(email, copy.id)
                continue
            mine = copy.response_of(email) if copy is not None else None
            attendees = [dict(a, response=mine) if a["email"].lower() == email and mine else dict(a)
                         for a in event.attendees]
            self.store.put(FakeEvent(
                id=copy.id if copy is not None else "AAMk" + secrets.token_hex(12), calendar=email,
                start=event.start, end=event.end, summary=event.summary, description=event.description,
                location=event.location, organizer=event.organizer, attendees=attendees,
                ical_uid=event.ical_uid, show_as=copy.show_as if copy is not None else "tentative",
                online_provider=event.online_provider, join_url=event.join_url,
            ))

    def organizer_cancel(self, organizer: str, event_id: str) -> None:
        """The organizer cancels in Outlook (an organizer cannot decline their own meeting there):
        the event is deleted and Exchange removes the attendees' copies."""
        event = self.store.get(organizer, event_id)
        assert event is not None and event.organizer.lower() == organizer.lower()
        self.store.delete(organizer, event_id)
        self._mirror(event)

    def owner_show_as(self, owner: str, event_id: str, show_as: str) -> None:
        """The owner changes "Show as" on an event in Outlook (free, tentative, busy, oof, ...)."""
        event = self.store.get(owner, event_id)
        assert event is not None and not event.deleted
        event.show_as = show_as
        self.store.put(event)

    def owner_delete(self, owner: str, event_id: str) -> None:
        """The owner deletes an appointment of their own in Outlook."""
        event = self.store.get(owner, event_id)
        assert event is not None and event.organizer.lower() == owner.lower() and not event.attendees
        self.store.delete(owner, event_id)

    def attendee_respond(self, organizer: str, event_id: str, attendee: str, response: str) -> None:
        """``attendee`` answers (in Outlook, or by an iTIP reply Exchange reads): Exchange records
        it in their own copy (if they have one here) and on the organizer's event as that
        attendee's ``status.response``."""
        event = self.store.respond(organizer, event_id, attendee, response)
        copy = self._copy_of(attendee.lower(), event) if self.store.has_calendar(attendee) else None
        if copy is not None:
            self.store.respond(attendee, copy.id, attendee, response)

    def _delta(self, user: str, query: dict[str, str]) -> tuple[int, Any]:
        base = f"{self.graph_url}/users/{user}/calendarView/delta"
        if "$skiptoken" in query:
            since, page, start_s, end_s = query["$skiptoken"].split("~")
            since_v, page_n = int(since), int(page)
        elif "$deltatoken" in query:
            since, start_s, end_s = query["$deltatoken"].split("~")
            since_v, page_n = int(since), 0
            if since_v < self.store.expired_tokens_before:
                return 410, _error("SyncStateNotFound", "The sync state generation is not found.")
        else:
            if "startDateTime" not in query or "endDateTime" not in query:
                return 400, _error("ErrorInvalidParameter", "startDateTime and endDateTime are required.")
            since_v, page_n = -1, 0
            start_s, end_s = query["startDateTime"], query["endDateTime"]
        window = (
            datetime.fromisoformat(start_s.replace("Z", "+00:00")),
            datetime.fromisoformat(end_s.replace("Z", "+00:00")),
        )
        with self.store.lock:
            snapshot = self.store.version
            if since_v < 0:
                events = [e for e in self.store.changed_since(user, 0) if not e.deleted]
            else:
                events = self.store.changed_since(user, since_v)
        events = [e for e in events if e.deleted or self.store.occurrences(e, *window)]
        chunk = events[page_n * self.page_size : (page_n + 1) * self.page_size]
        out: dict[str, Any] = {"value": [self.event_json(e, user) for e in chunk]}
        if (page_n + 1) * self.page_size < len(events):
            out["@odata.nextLink"] = f"{base}?$skiptoken={since_v}~{page_n + 1}~{start_s}~{end_s}"
        else:
            out["@odata.deltaLink"] = f"{base}?$deltatoken={snapshot}~{start_s}~{end_s}"
        return 200, out


    # --- change notifications --------------------------------------------------------------------

    def live_subscriptions(self, user: str | None = None) -> list[Subscription]:
        wanted = user.lower() if user else None
        return [s for s in list(self.subscriptions.values()) if s.live and wanted in (None, s.user)]

    def subscription_json(self, sub: Subscription) -> dict[str, Any]:
        return {
            "@odata.context": f"{self.graph_url}/$metadata#subscriptions/$entity",
            "id": sub.id,
            "resource": sub.resource,
            "applicationId": self.client_id,
            "changeType": ",".join(sorted(sub.change_types)),
            "clientState": sub.client_state or None,
            "notificationUrl": sub.notification_url,
            "lifecycleNotificationUrl": sub.lifecycle_url or None,
            "expirationDateTime": _graph_stamp(sub.expiration),
            "creatorId": "service-principal-1",
            "latestSupportedTlsVersion": sub.tls,
            "includeResourceData": False,
            "notificationContentType": "application/json",
        }

    def _expiry(self, value: Any) -> tuple[datetime | None, tuple[int, Any] | None]:
        try:
            when = _parse_graph_dt({"dateTime": str(value).replace("Z", "")})
        except ValueError:
            return None, (400, _error("InvalidRequest", "expirationDateTime is not a valid date."))
        now = datetime.now(UTC)
        if when <= now:
            return None, (400, _error("InvalidRequest", "Subscription expiration must be in the future."))
        if when > now + timedelta(minutes=self.max_subscription_minutes):
            return None, (400, _error(
                "InvalidRequest",
                f"Subscription expiration can only be {self.max_subscription_minutes} minutes in the future.",
            ))
        return when, None

    def _validate_url(self, url: str) -> tuple[int, Any] | None:
        """Graph's handshake: the endpoint must echo the token, 200 text/plain, within 10 s."""
        if not re.match(r"^https?://[^/]+", url):
            return 400, _error("InvalidRequest", "The notification url is not valid.")
        token = f"{VALIDATION_TOKEN_PREFIX}{uuid.uuid4()}"
        answer = self.notifier.call(url, {"Content-Type": "text/plain; charset=utf-8"}, validationToken=token)
        if answer.status != 200 or answer.text != token or "text/plain" not in answer.content_type:
            return 400, _error("InvalidRequest", VALIDATION_FAILED)
        return None

    def _subscriptions(self, method: str, sub_id: str | None, body: dict[str, Any]) -> tuple[int, Any]:
        if sub_id is None:
            if method == "POST":
                return self._subscribe(body)
            if method == "GET":
                return 200, {"value": [self.subscription_json(s) for s in self.live_subscriptions()]}
            return 405, _error("ErrorInvalidRequest", "Method not allowed")
        sub = self.subscriptions.get(sub_id)
        if sub is None or not sub.live:
            return 404, _error("ResourceNotFound", f"The object '{sub_id}' was not found.")
        if method == "GET":
            return 200, self.subscription_json(sub)
        if method == "DELETE":
            del self.subscriptions[sub_id]
            return 204, None
        if method != "PATCH":
            return 405, _error("ErrorInvalidRequest", "Method not allowed")
        if "expirationDateTime" in body:
            when, problem = self._expiry(body["expirationDateTime"])
            if problem is not None:
                return problem
            assert when is not None
            sub.expiration = when
        if body.get("notificationUrl"):
            problem = self._validate_url(str(body["notificationUrl"]))
            if problem is not None:
                return problem
            sub.notification_url = str(body["notificationUrl"])
        return 200, self.subscription_json(sub)

    def _subscribe(self, body: dict[str, Any]) -> tuple[int, Any]:
        for key in ("changeType", "notificationUrl", "resource", "expirationDateTime"):
            if not body.get(key):
                return 400, _error("InvalidRequest", f"The property '{key}' is required.")
        change_types = frozenset(t.strip() for t in str(body["changeType"]).split(","))
        if not change_types <= CHANGE_TYPES:
            return 400, _error("InvalidRequest", f"Invalid changeType '{body['changeType']}'.")
        rm = re.fullmatch(r"/?users/([^/]+)/events", str(body["resource"]), re.IGNORECASE)
        if not rm:
            return 400, _error("InvalidRequest", f"Unsupported resource '{body['resource']}'.")
        user = unquote(rm.group(1)).lower()
        if not self.store.has_calendar(user):
            return 404, _error("ResourceNotFound", f"User '{user}' was not found.")
        if len(str(body.get("clientState") or "")) > 128:
            return 400, _error("InvalidRequest", "clientState is limited to 128 characters.")
        when, problem = self._expiry(body["expirationDateTime"])
        if problem is not None:
            return problem
        assert when is not None
        urls = [str(body["notificationUrl"])]
        if body.get("lifecycleNotificationUrl"):
            urls.append(str(body["lifecycleNotificationUrl"]))
        for url in urls:
            problem = self._validate_url(url)
            if problem is not None:
                return problem
        sub = Subscription(
            id=str(uuid.uuid4()),
            resource=str(body["resource"]),
            user=user,
            change_types=change_types,
            notification_url=urls[0],
            lifecycle_url=str(body.get("lifecycleNotificationUrl") or ""),
            client_state=str(body.get("clientState") or ""),
            expiration=when,
            tls=str(body.get("latestSupportedTlsVersion") or "v1_2"),
        )
        self.subscriptions[sub.id] = sub
        return 201, self.subscription_json(sub)

    def _on_change(self, calendar: str, event_id: str, kind: str) -> None:
        for sub in self.live_subscriptions(calendar):
            if kind not in sub.change_types:
                continue
            resource = f"Users/{sub.user}/Events/{event_id}"
            note: dict[str, Any] = {
                "subscriptionId": sub.id,
                "subscriptionExpirationDateTime": _graph_stamp(sub.expiration),
                "changeType": kind,
                "resource": resource,
                "resourceData": {
                    "@odata.type": "#Microsoft.Graph.Event",
                    "@odata.id": resource,
                    "id": event_id,
                },
                "tenantId": self.tenant_id,
            }
            if sub.client_state:
                note["clientState"] = sub.client_state
            payload = json.dumps({"value": [note]}).encode()
            self.notifier.post(sub.notification_url, {"Content-Type": "application/json"}, payload)


def _handler(fake: GraphFake) -> type[JsonHandler]:
    class Handler(JsonHandler):
        def dispatch(self, method: str, split: SplitResult, raw: bytes) -> None:
            fake.store.log(method, split.path)
            om = re.fullmatch(r"/([^/]+)/v2\.0/\.well-known/openid-configuration", split.path)
            if om:
                self.send_json(*fake.openid(om.group(1)))
                return
            tm = re.fullmatch(r"/([^/]+)/oauth2/v2\.0/token", split.path)
            if tm and method == "POST":
                self.send_json(*fake.token(tm.group(1), form_of(raw)))
                return
            failure = fake.store.take_failure()
            if failure is not None:
                self.send_json(failure.status, failure.body, failure.headers)
                return
            auth = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            if auth not in fake.tokens:
                self.send_json(401, _error("InvalidAuthenticationToken", "Access token is empty or invalid."))
                return
            query = form_of(split.query.encode())
            body = json.loads(raw) if raw else {}
            self.send_json(*fake.handle(method, split.path, query, body))

    return Handler


@contextmanager
def graph_server(tls_dir: Path, fake: GraphFake | None = None) -> Iterator[GraphFake]:
    fake = fake or GraphFake()
    ca, cert, key = make_tls_files(tls_dir)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    fake.ca_file = str(ca)
    with serve(_handler(fake), context) as base_url:
        fake.base_url = base_url
        yield fake
