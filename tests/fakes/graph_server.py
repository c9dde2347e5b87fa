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
- 403 ``ErrorAccessDenied`` until admin consent is granted; injected 429/503 with ``Retry-After``.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

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

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        if not self.consented:
            return 403, _error("ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        m = re.fullmatch(r"/v1\.0/users/([^/]+)/(.+)", path)
        if not m:
            return 404, _error("ResourceNotFound", "Resource not found for the segment.")
        user, rest = unquote(m.group(1)).lower(), m.group(2)
        if rest == "calendar/getSchedule" and method == "POST":
            return self._schedule(body)
        if not self.store.has_calendar(user):
            return 404, _error("ErrorItemNotFound", "The specified object was not found in the store.")
        if rest == "calendar" and method == "GET":
            return 200, {"id": f"cal-{user}", "name": "Calendar", "canEdit": True}
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
            return 202, None
        if method == "GET":
            return 200, self.event_json(event, user)
        if method == "PATCH":
            self.apply_body(event, body)
            self.store.put(event)
            return 200, self.event_json(event, user)
        if method == "DELETE":
            self.store.delete(user, event.id)
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
        )
        self.apply_body(event, body)
        self.store.put(event)
        return 201, self.event_json(event, user)

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


def _handler(fake: GraphFake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            if body is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _dispatch(self, method: str) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            fake.store.log(method, split.path)
            om = re.fullmatch(r"/([^/]+)/v2\.0/\.well-known/openid-configuration", split.path)
            if om:
                self._send(*fake.openid(om.group(1)))
                return
            tm = re.fullmatch(r"/([^/]+)/oauth2/v2\.0/token", split.path)
            if tm and method == "POST":
                form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                self._send(*fake.token(tm.group(1), form))
                return
            failure = fake.store.take_failure()
            if failure is not None:
                self._send(failure.status, failure.body, failure.headers)
                return
            auth = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            if auth not in fake.tokens:
                self._send(401, _error("InvalidAuthenticationToken", "Access token is empty or invalid."))
                return
            query = {k: v[0] for k, v in parse_qs(split.query).items()}
            body = json.loads(raw) if raw else {}
            self._send(*fake.handle(method, split.path, query, body))

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def do_PATCH(self) -> None:
            self._dispatch("PATCH")

        def do_DELETE(self) -> None:
            self._dispatch("DELETE")

    return Handler


@contextmanager
def graph_server(tls_dir: Path, fake: GraphFake | None = None) -> Iterator[GraphFake]:
    fake = fake or GraphFake()
    ca, cert, key = make_tls_files(tls_dir)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    fake.base_url = f"https://127.0.0.1:{server.server_address[1]}"
    fake.ca_file = str(ca)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
