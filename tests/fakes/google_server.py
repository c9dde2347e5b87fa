"""A loopback Google Calendar v3 + OAuth token endpoint for the contract tests.

Implements the documented request/response shapes the connector relies on:
- ``POST /token``: the JWT-bearer grant of a service account (RS256 signature checked
  against the account's public key; ``sub`` = impersonated user, refused unless
  domain-wide delegation is granted) and the refresh-token grant of per-user OAuth.
- ``GET {base}calendars/{id}`` (``conferenceProperties.allowedConferenceSolutionTypes``).
- ``POST {base}freeBusy`` (at most 50 items, as the API documents), per-calendar ``errors``.
- ``{base}calendars/{id}/events``: insert (client ids in base32hex, 409 ``duplicate``),
  get, patch, delete, list with ``pageToken``/``nextPageToken`` and ``syncToken``/
  ``nextSyncToken`` (410 ``fullSyncRequired`` for an expired token).
- ``POST {base}calendars/{id}/events/import``: a private copy of an event another person
  organizes (``iCalUID`` required, ``id`` refused; the same iCalUID again updates that copy).
- ``POST {base}calendars/{id}/events/watch`` (a ``web_hook`` channel: id unique and at most
  64 characters, ``token``, ``expiration`` in ms or ``params.ttl`` in seconds, default a week,
  capped at ``channel_max_ttl``) and ``POST {base}channels/stop`` (``id`` + ``resourceId``, by
  the user who opened it; 404 otherwise). An open channel gets a ``sync`` message, then an
  ``exists`` message for every change in its calendar: bodiless POSTs to its ``address`` with
  the ``X-Goog-Channel-*`` / ``X-Goog-Resource-*`` headers, from a background thread.
  Unlike Google, ``address`` may be plain http (the app under test runs on loopback).
- conferences: with ``conferenceDataVersion=1`` on insert/patch, ``conferenceData.createRequest``
  (``requestId`` + ``conferenceSolutionKey.type``, one of the calendar's allowed solution types,
  else 400 "Invalid conference type value.") makes a Google Meet; a repeated ``requestId`` is
  ignored, and without the parameter (version 0) ``conferenceData`` in the body is ignored, as
  the API documents. The Meet is made asynchronously: for ``conference_pending_reads`` reads the
  event shows ``createRequest.status.statusCode: pending`` and no entry points, then ``success``
  with a ``video`` entry point (``https://meet.google.com/abc-defg-hij``) and ``hangoutLink``.
  Attendees' copies carry the same conference.
- injected failures: 429/403 ``rateLimitExceeded``/5xx with ``Retry-After``.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import SplitResult, quote, unquote

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.fakes.jsonhttp import JsonHandler, form_of, serve
from tests.fakes.push import Notifier
from tests.fakes.store import FakeEvent, Store

BASE_PATH = "/calendar/v3/"
FREEBUSY_MAX_ITEMS = 50
ID_RE = re.compile(r"^[a-v0-9]{5,1024}$")
CHANNEL_ID_RE = re.compile(r"^[A-Za-z0-9/=_+-]{1,64}$")
CHANNEL_DEFAULT_TTL = timedelta(seconds=604800)


def make_service_account(
    token_uri: str, *, email: str = "flash@proj.iam.gserviceaccount.com"
) -> tuple[dict[str, str], rsa.RSAPrivateKey]:
    """A service-account JSON (like the one Google Cloud console downloads) with a fresh key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "proj",
        "private_key_id": secrets.token_hex(8),
        "private_key": pem,
        "client_email": email,
        "client_id": "1234567890",
        "token_uri": token_uri,
    }
    return info, key


def _b64d(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_dt(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _error(code: int, message: str, reason: str, status: str = "") -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "status": status,
            "errors": [{"domain": "global", "reason": reason, "message": message}],
        }
    }


@dataclass
class Channel:
    id: str
    resource_id: str
    resource_uri: str
    calendar: str
    owner: str  # the user who opened it; only they can stop it
    address: str
    token: str
    expiration: datetime
    stopped: bool = False
    messages: Any = field(default_factory=lambda: itertools.count(1))

    @property
    def live(self) -> bool:
        return not self.stopped and self.expiration > datetime.now(UTC)


@dataclass
class GoogleFake:
    store: Store = field(default_factory=Store)
    domain: str = "example.com"
    base_url: str = ""
    # service account email -> public key; and who may be impersonated (domain-wide delegation)
    service_accounts: dict[str, Any] = field(default_factory=dict)
    delegation_granted: bool = True
    # per-user OAuth: refresh token -> user email; client id -> secret
    refresh_tokens: dict[str, str] = field(default_factory=dict)
    oauth_clients: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # access token -> user email
    page_size: int = 250
    send_updates: list[str] = field(default_factory=list)
    invitations: list[tuple[str, str, str]] = field(default_factory=list)  # (to, iCalUID, request|cancel)
    imports: list[tuple[str, str]] = field(default_factory=list)  # (calendar, iCalUID) of new imports
    channels: dict[str, Channel] = field(default_factory=dict)
    channel_max_ttl: timedelta = timedelta(days=30)
    notifier: Notifier = field(default_factory=Notifier)
    # conferenceProperties.allowedConferenceSolutionTypes of every calendar; reads a new Meet stays pending
    conference_types: set[str] = field(default_factory=lambda: {"hangoutsMeet"})
    conference_pending_reads: int = 0

    def __post_init__(self) -> None:
        self.store.listeners.append(self._on_change)

    @property
    def api_endpoint(self) -> str:
        return self.base_url + BASE_PATH

    @property
    def token_uri(self) -> str:
        return self.base_url + "/token"

    def register_service_account(self, info: dict[str, str], key: rsa.RSAPrivateKey) -> None:
        self.service_accounts[info["client_email"]] = key.public_key()

    # --- seeding helpers used by tests ----------------------------------------------------------

    def seed(self, calendar: str, **fields: Any) -> FakeEvent:
        fields.setdefault("id", secrets.token_hex(10))
        fields.setdefault("organizer", calendar)
        return self.store.put(FakeEvent(calendar=calendar, **fields))

    # --- token endpoint -------------------------------------------------------------------------

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        grant = form.get("grant_type", "")
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return self._jwt_grant(form.get("assertion", ""))
        if grant == "refresh_token":
            client = form.get("client_id", "")
            if self.oauth_clients.get(client) != form.get("client_secret"):
                return 401, {"error": "invalid_client", "error_description": "Unauthorized"}
            user = self.refresh_tokens.get(form.get("refresh_token", ""))
            if user is None:
                return 400, {
                    "error": "invalid_grant",
                    "error_description": "Token has been expired or revoked.",
                }
            return 200, self._issue(user)
        return 400, {"error": "unsupported_grant_type"}

    def _jwt_grant(self, assertion: str) -> tuple[int, dict[str, Any]]:
        try:
            head, payload, sig = assertion.split(".")
            claims = json.loads(_b64d(payload))
        except ValueError:
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT."}
        public = self.service_accounts.get(claims.get("iss", ""))
        if public is None:
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        try:
            public.verify(_b64d(sig), f"{head}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except Exception:
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        subject = claims.get("sub") or claims["iss"]
        if claims.get("sub") and not self.delegation_granted:
            return 401, {
                "error": "unauthorized_client",
                "error_description": "Client is unauthorized to retrieve access tokens using this "
                "method, or client not authorized for any of the scopes requested.",
            }
        return 200, self._issue(subject)

    def _issue(self, user: str) -> dict[str, Any]:
        token = "ya29." + secrets.token_urlsafe(16)
        self.tokens[token] = user.lower()
        return {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    # --- API ------------------------------------------------------------------------------------

    def event_json(self, event: FakeEvent, viewer: str) -> dict[str, Any]:
        if event.deleted:
            return {"kind": "calendar#event", "id": event.id, "status": "cancelled"}

        def when(value: datetime | date) -> dict[str, str]:
            if isinstance(value, datetime):
                return {"dateTime": value.isoformat(), "timeZone": event.time_zone}
            return {"date": value.isoformat()}

        body: dict[str, Any] = {
            "kind": "calendar#event",
            "etag": f'"{event.version}"',
            "id": event.id,
            "status": event.status,
            "summary": event.summary,
            "iCalUID": event.ical_uid or f"{event.id}@google.com",
            "sequence": event.sequence,
            "start": when(event.start),
            "end": when(event.end),
            "organizer": {"email": event.organizer, "self": event.organizer.lower() == viewer},
            "transparency": "transparent" if event.transparent else "opaque",
        }
        if event.description:
            body["description"] = event.description
        if event.location:
            body["location"] = event.location
        if event.private:
            body["extendedProperties"] = {"private": dict(event.private)}
        if event.rrule:
            body["recurrence"] = [f"RRULE:{event.rrule}"]
        if event.conference:
            body.update(self._conference_json(event.conference))
        if event.attendees:
            body["attendees"] = [
                {
                    "email": a["email"],
                    "displayName": a.get("name", ""),
                    "responseStatus": a.get("response", "needsAction"),
                    **({"comment": a["comment"]} if a.get("comment") else {}),
                    **({"self": True} if a["email"].lower() == viewer else {}),
                    **({"organizer": True} if a["email"].lower() == event.organizer.lower() else {}),
                }
                for a in event.attendees
            ]
        return body

    def apply_body(self, event: FakeEvent, body: dict[str, Any]) -> None:
        def when(value: dict[str, str]) -> datetime | date:
            if "date" in value:
                return date.fromisoformat(value["date"])
            return _parse_dt(value["dateTime"])

        for key in ("summary", "description", "location"):
            if key in body:
                setattr(event, key, body[key])
        if "start" in body:
            event.start = when(body["start"])
            event.time_zone = body["start"].get("timeZone", event.time_zone)
        if "end" in body:
            event.end = when(body["end"])
        if "transparency" in body:
            event.transparent = body["transparency"] == "transparent"
        if "status" in body:
            event.status = body["status"]
        if "sequence" in body:
            event.sequence = int(body["sequence"])
        if "extendedProperties" in body:
            event.private.update(body["extendedProperties"].get("private") or {})
        if "attendees" in body:
            old = {a["email"].lower(): a.get("response", "needsAction") for a in event.attendees}
            event.attendees = [
                {
                    "email": a["email"],
                    "name": a.get("displayName", ""),
                    "response": a.get("responseStatus") or old.get(a["email"].lower(), "needsAction"),
                }
                for a in body["attendees"]
            ]

    @staticmethod
    def _conference_json(conference: dict[str, Any]) -> dict[str, Any]:
        """``conferenceData`` (and ``hangoutLink``) as the event shows it on this read."""
        key = {"type": conference["type"]}
        request = {"requestId": conference["requestId"], "conferenceSolutionKey": key}
        with conference["lock"]:
            pending = conference["reads_left"] > 0
            conference["reads_left"] = max(0, conference["reads_left"] - 1)
        if pending:
            return {"conferenceData": {"createRequest": {**request, "status": {"statusCode": "pending"}}}}
        uri = f"https://meet.google.com/{conference['code']}"
        return {
            "hangoutLink": uri,
            "conferenceData": {
                "createRequest": {**request, "status": {"statusCode": "success"}},
                "entryPoints": [{"entryPointType": "video", "uri": uri, "label": uri.removeprefix("https://")}],
                "conferenceSolution": {"key": {"type": conference["type"]}, "name": "Google Meet"},
                "conferenceId": conference["code"],
            },
        }

    def apply_conference(
        self, event: FakeEvent, body: dict[str, Any], query: dict[str, str]
    ) -> tuple[int, Any] | None:
        """``conferenceData.createRequest`` (read only with ``conferenceDataVersion=1``): a new
        Meet for a request id not seen on this event; an error answer, or None."""
        if query.get("conferenceDataVersion") != "1" or "conferenceData" not in body:
            return None
        create = (body.get("conferenceData") or {}).get("createRequest")
        if not create:
            return None
        request_id = str(create.get("requestId") or "")
        kind = str((create.get("conferenceSolutionKey") or {}).get("type") or "")
        if not request_id:
            return 400, _error(400, "Missing conference request id.", "required")
        if kind not in self.conference_types:
            return 400, _error(400, "Invalid conference type value.", "invalid")
        if event.conference.get("requestId") == request_id:
            return None  # "If an ID provided is the same as for the previous request, [it] is ignored."
        letters = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(10))
        event.conference = {
            "requestId": request_id, "type": kind, "code": f"{letters[:3]}-{letters[3:7]}-{letters[7:]}",
            "reads_left": self.conference_pending_reads, "lock": threading.Lock(),
        }
        return None

    def handle(self, method: str, path: str, query: dict[str, str], body: Any, user: str) -> tuple[int, Any]:
        rel = path[len(BASE_PATH) :]
        if rel == "freeBusy" and method == "POST":
            return self._freebusy(body)
        if rel == "channels/stop" and method == "POST":
            return self._stop(body, user)
        cm = re.fullmatch(r"calendars/([^/]+)", rel)
        if cm and method == "GET":
            return self._calendar(unquote(cm.group(1)).lower(), user)
        m = re.fullmatch(r"calendars/([^/]+)/events(?:/([^/]+))?", rel)
        if not m:
            return 404, _error(404, "Not Found", "notFound")
        calendar = unquote(m.group(1)).lower()
        if calendar == "primary":
            calendar = user
        if calendar != user:
            return 403, _error(403, "Forbidden", "forbidden")
        if not self.store.has_calendar(calendar):
            return 404, _error(404, "Not Found", "notFound")
        event_id = unquote(m.group(2)) if m.group(2) else None
        if event_id == "watch" and method == "POST":
            return self._watch(calendar, body, user)
        if event_id == "import" and method == "POST":
            return self._import(calendar, body)
        if event_id is None:
            if method == "POST":
                return self._insert(calendar, body, query)
            if method == "GET":
                return self._list(calendar, query, user)
            return 405, _error(405, "Method not allowed", "badRequest")
        event = self.store.get(calendar, event_id)
        if event is None or (event.deleted and method != "GET"):
            if event is not None and method == "DELETE":
                return 410, _error(410, "Resource has been deleted", "deleted")
            return 404, _error(404, "Not Found", "notFound")
        if method == "GET":
            return 200, self.event_json(event, user)
        if method in ("PATCH", "PUT"):
            refused = self.apply_conference(event, body, query)
            if refused is not None:
                return refused
            self.apply_body(event, body)
            self.send_updates.append(query.get("sendUpdates", ""))
            self.store.put(event)
            if event.organizer.lower() == calendar:
                self._mirror(event, query, "request")
            return 200, self.event_json(event, user)
        if method == "DELETE":
            self.send_updates.append(query.get("sendUpdates", ""))
            self.store.delete(calendar, event_id)
            if event.organizer.lower() == calendar:
                self._mirror(event, query, "cancel")
            return 204, None
        return 405, _error(405, "Method not allowed", "badRequest")

    def _calendar(self, calendar: str, user: str) -> tuple[int, Any]:
        """``calendars.get``: the calendar's metadata, with the conference solutions it allows."""
        calendar = user if calendar == "primary" else calendar
        if calendar != user:
            return 403, _error(403, "Forbidden", "forbidden")
        if not self.store.has_calendar(calendar):
            return 404, _error(404, "Not Found", "notFound")
        return 200, {
            "kind": "calendar#calendar", "id": calendar, "summary": calendar,
            "timeZone": self.store.zones.get(calendar, "UTC"),
            "conferenceProperties": {"allowedConferenceSolutionTypes": sorted(self.conference_types)},
        }

    def _freebusy(self, body: dict[str, Any]) -> tuple[int, Any]:
        items = body.get("items") or []
        if len(items) > FREEBUSY_MAX_ITEMS:
            return 400, _error(400, "Too many calendars requested.", "tooManyCalendarsRequested")
        start, end = _parse_dt(body["timeMin"]), _parse_dt(body["timeMax"])
        calendars: dict[str, Any] = {}
        for item in items:
            cid = item["id"]
            if not self.store.has_calendar(cid):
                calendars[cid] = {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}
                continue
            calendars[cid] = {
                "busy": [{"start": _iso(s), "end": _iso(e)} for s, e in self.store.busy(cid, start, end)]
            }
        return 200, {
            "kind": "calendar#freeBusy",
            "timeMin": body["timeMin"],
            "timeMax": body["timeMax"],
            "calendars": calendars,
        }

    def _insert(self, calendar: str, body: dict[str, Any], query: dict[str, str]) -> tuple[int, Any]:
        event_id = body.get("id") or secrets.token_hex(12)
        if not ID_RE.match(event_id):
            return 400, _error(400, "Invalid resource id value.", "invalid")
        if self.store.get(calendar, event_id) is not None:
            return 409, _error(409, "The requested identifier already exists.", "duplicate")
        event = FakeEvent(
            id=event_id, calendar=calendar, start=datetime.now(UTC), end=datetime.now(UTC), organizer=calendar
        )
        refused = self.apply_conference(event, body, query)
        if refused is not None:
            return refused
        self.apply_body(event, body)
        event.ical_uid = str(body.get("iCalUID") or f"{event_id}@google.com")
        for att in event.attendees:
            if att["email"].lower() == calendar:
                att["response"] = "accepted"
        self.send_updates.append(query.get("sendUpdates", ""))
        self.store.put(event)
        self._mirror(event, query, "request")
        return 200, self.event_json(event, calendar)

    def _import(self, calendar: str, body: dict[str, Any]) -> tuple[int, Any]:
        """``events.import``: a private copy of an event someone else organizes (``organizer``
        as given; ``iCalUID`` required, no ``id``). An event of that iCalUID in the calendar is
        brought up to date rather than copied again. Nobody is mailed, no copy is mirrored."""
        uid = str(body.get("iCalUID") or "")
        if not uid or "start" not in body or "end" not in body:
            return 400, _error(400, "Missing iCalUID, start or end.", "required")
        if "id" in body:
            return 400, _error(400, "Invalid value for: id is not allowed on import.", "invalid")
        event = next((e for e in self.store.live_events(calendar) if e.ical_uid == uid), None)
        if event is None:
            event = FakeEvent(
                id=secrets.token_hex(13), calendar=calendar, start=datetime.now(UTC), end=datetime.now(UTC),
                organizer=str((body.get("organizer") or {}).get("email") or calendar).lower(),
            )
            event.ical_uid = uid
            self.imports.append((calendar, uid))
        self.apply_body(event, body)
        self.store.put(event)
        return 200, self.event_json(event, calendar)

    def _mirror(self, event: FakeEvent, query: dict[str, str], method: str) -> None:
        """What Google does with attendees: each attendee in this Workspace gets their own copy
        (same id and iCalUID, their own response kept), and with ``sendUpdates=all`` every
        attendee but the organizer gets one invitation mail (counted in :attr:`invitations`)."""
        for att in event.attendees:
            email = att["email"].lower()
            if email == event.organizer.lower():
                continue
            if query.get("sendUpdates") == "all":
                self.invitations.append((email, event.ical_uid, method))
            if not self.store.has_calendar(email):
                continue
            copy = self.store.get(email, event.id)
            mine = copy.response_of(email) if copy is not None else None
            attendees = [dict(a) for a in event.attendees]
            for a in attendees:
                if a["email"].lower() == email and mine:
                    a["response"] = mine
            self.store.put(FakeEvent(
                id=event.id, calendar=email, start=event.start, end=event.end, summary=event.summary,
                description=event.description, location=event.location, time_zone=event.time_zone,
                status=event.status, organizer=event.organizer, attendees=attendees,
                sequence=event.sequence, ical_uid=event.ical_uid, private=dict(event.private),
                deleted=event.deleted, conference=event.conference,
            ))

    def attendee_respond(self, attendee: str, event_id: str, response: str, comment: str = "") -> None:
        """``attendee`` answers in their own copy; Google shows the answer on the organizer's too."""
        copy = self.store.respond(attendee, event_id, attendee, response, comment)
        if copy.organizer.lower() != attendee.lower() and self.store.has_calendar(copy.organizer):
            self.store.respond(copy.organizer, event_id, attendee, response, comment)

    def _list(self, calendar: str, query: dict[str, str], user: str) -> tuple[int, Any]:
        page = int(query["pageToken"].split(":")[1]) if "pageToken" in query else 0
        if "pageToken" in query:
            since = int(query["pageToken"].split(":")[0])
        elif "syncToken" in query:
            token = query["syncToken"]
            if not token.startswith("sync-") or int(token[5:]) < self.store.expired_tokens_before:
                return 410, _error(
                    410, "Sync token is no longer valid, a full sync is required.", "fullSyncRequired"
                )
            since = int(token[5:])
        else:
            since = -1
        with self.store.lock:
            snapshot = self.store.version
            if since < 0:  # a full listing: deleted events only with showDeleted, as Google does
                show_deleted = query.get("showDeleted", "").lower() == "true"
                events = [e for e in self.store.changed_since(calendar, 0) if show_deleted or not e.deleted]
            else:
                events = self.store.changed_since(calendar, since)
        size = min(int(query.get("maxResults", 250)), self.page_size)  # pages may hold fewer
        chunk = events[page * size : (page + 1) * size]
        out: dict[str, Any] = {"kind": "calendar#events", "items": [self.event_json(e, user) for e in chunk]}
        if (page + 1) * size < len(events):
            out["nextPageToken"] = f"{since}:{page + 1}"
        else:
            out["nextSyncToken"] = f"sync-{snapshot}"
        return 200, out


    # --- push notifications ----------------------------------------------------------------------

    def live_channels(self, calendar: str | None = None) -> list[Channel]:
        wanted = calendar.lower() if calendar else None
        return [c for c in list(self.channels.values()) if c.live and wanted in (None, c.calendar)]

    def _watch(self, calendar: str, body: dict[str, Any], user: str) -> tuple[int, Any]:
        channel_id, address = str(body.get("id") or ""), str(body.get("address") or "")
        if not CHANNEL_ID_RE.match(channel_id):
            return 400, _error(400, "Invalid channel id.", "invalid")
        if body.get("type") not in ("web_hook", "webhook"):
            return 400, _error(400, f"Invalid value for type: {body.get('type')}", "invalid")
        if not re.match(r"^https?://[^/]+", address):
            return 400, _error(400, "Invalid address.", "invalid")
        if len(str(body.get("token") or "")) > 256:
            return 400, _error(400, "Channel token too long.", "invalid")
        if channel_id in self.channels:
            return 400, _error(400, "Channel id not unique.", "channelIdNotUnique")
        now = datetime.now(UTC)
        ttl = (body.get("params") or {}).get("ttl")
        if ttl is not None:
            expiration = now + timedelta(seconds=int(ttl))
        elif body.get("expiration"):
            expiration = datetime.fromtimestamp(int(body["expiration"]) / 1000, UTC)
        else:
            expiration = now + CHANNEL_DEFAULT_TTL
        if expiration <= now:
            return 400, _error(400, "Channel expiration is in the past.", "invalid")
        expiration = min(expiration, now + self.channel_max_ttl)
        channel = Channel(
            id=channel_id,
            resource_id=hashlib.sha256(f"events:{calendar}".encode()).hexdigest()[:27],
            resource_uri=f"{self.api_endpoint}calendars/{quote(calendar)}/events?alt=json",
            calendar=calendar,
            owner=user,
            address=address,
            token=str(body.get("token") or ""),
            expiration=expiration,
        )
        self.channels[channel_id] = channel
        out = {
            "kind": "api#channel",
            "id": channel.id,
            "resourceId": channel.resource_id,
            "resourceUri": channel.resource_uri,
            "expiration": str(int(expiration.timestamp() * 1000)),
        }
        if channel.token:
            out["token"] = channel.token
        self._notify(channel, "sync")
        return 200, out

    def _stop(self, body: dict[str, Any], user: str) -> tuple[int, Any]:
        channel = self.channels.get(str(body.get("id") or ""))
        if (
            channel is None
            or channel.stopped
            or channel.resource_id != body.get("resourceId")
            or channel.owner != user
        ):
            return 404, _error(404, f"Channel '{body.get('id')}' not found for project 'proj'", "notFound")
        channel.stopped = True
        return 204, None

    def _notify(self, channel: Channel, state: str) -> None:
        headers = {
            "X-Goog-Channel-ID": channel.id,
            "X-Goog-Channel-Expiration": format_datetime(channel.expiration, usegmt=True),
            "X-Goog-Message-Number": str(next(channel.messages)),
            "X-Goog-Resource-ID": channel.resource_id,
            "X-Goog-Resource-URI": channel.resource_uri,
            "X-Goog-Resource-State": state,
        }
        if channel.token:
            headers["X-Goog-Channel-Token"] = channel.token
        self.notifier.post(channel.address, headers)

    def _on_change(self, calendar: str, event_id: str, kind: str) -> None:
        for channel in self.live_channels(calendar):
            self._notify(channel, "exists")


def _handler(fake: GoogleFake) -> type[JsonHandler]:
    class Handler(JsonHandler):
        json_type = "application/json; charset=UTF-8"

        def dispatch(self, method: str, split: SplitResult, raw: bytes) -> None:
            fake.store.log(method, split.path)
            if split.path == "/token":
                self.send_json(*fake.token(form_of(raw)))
                return
            failure = fake.store.take_failure()
            if failure is not None:
                self.send_json(failure.status, failure.body, failure.headers)
                return
            auth = self.headers.get("Authorization", "")
            user = fake.tokens.get(auth.removeprefix("Bearer ").strip())
            if user is None:
                self.send_json(
                    401,
                    _error(
                        401, "Request had invalid authentication credentials.", "authError", "UNAUTHENTICATED"
                    ),
                )
                return
            if not split.path.startswith(BASE_PATH):
                self.send_json(404, _error(404, "Not Found", "notFound"))
                return
            query = form_of(split.query.encode())
            body = json.loads(raw) if raw else {}
            status, payload = fake.handle(method, split.path, query, body, user)
            self.send_json(status, payload)

    return Handler


@contextmanager
def google_server(fake: GoogleFake | None = None) -> Iterator[GoogleFake]:
    fake = fake or GoogleFake()
    with serve(_handler(fake)) as base_url:
        fake.base_url = base_url
        yield fake
