"""The four calendar backends behind one test harness, so one contract suite runs on all.

Each backend gives a real connector (the product code, pointed at a loopback server)
plus "the person's own calendar app": seeding events, moving/deleting/declining
them, and reading back what the server stores, without going through the connector.

The servers themselves are session fixtures in ``tests/servers.py`` (one per run); every
test gets fresh calendars.
"""

from __future__ import annotations

import itertools
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import requests
from lxml import etree

from calendars.base import CalendarConnector, CalendarIdentity
from calendars.caldav_provider import CalDAVConnector
from calendars.google import GoogleConnector
from calendars.http import RetryPolicy
from calendars.microsoft import MicrosoftConnector
from tests.fakes.dav_servers import DavServer
from tests.fakes.google_server import GoogleFake, make_service_account
from tests.fakes.graph_server import GraphFake
from tests.fakes.store import FakeEvent
from tests.fakes.throttle_proxy import throttle_proxy

NOW = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
BACKENDS = ["radicale", "xandikos", "google", "graph"]
_n = itertools.count(1)


@dataclass
class Backend:
    """Common harness; subclasses talk to one provider."""

    name: str
    sleeps: list[float] = field(default_factory=list)

    def policy(self, **kw: Any) -> RetryPolicy:
        return RetryPolicy(sleep=self.sleeps.append, **kw)

    # implemented per backend
    connector: CalendarConnector = field(init=False)

    def new_person(self, time_zone: str = "UTC") -> CalendarIdentity:
        raise NotImplementedError

    def seed(
        self,
        owner: CalendarIdentity,
        start: datetime | date,
        end: datetime | date,
        *,
        rrule: str | None = None,
        transparent: bool = False,
        cancelled: bool = False,
        organizer: str | None = None,
        time_zone: str | None = None,
    ) -> str:
        raise NotImplementedError

    def move(self, owner: CalendarIdentity, handle: str, start: datetime, end: datetime) -> None:
        raise NotImplementedError

    def delete(self, owner: CalendarIdentity, handle: str) -> None:
        raise NotImplementedError

    def decline(self, owner: CalendarIdentity, handle: str) -> None:
        raise NotImplementedError

    def state(self, owner: CalendarIdentity, handle: str) -> dict[str, Any] | None:
        """What the server holds: start, end, cancelled, attendees (emails); None if gone."""
        raise NotImplementedError

    def count(self, owner: CalendarIdentity) -> int:
        raise NotImplementedError

    def bad_credentials(self) -> CalendarConnector:
        raise NotImplementedError

    def throttled(self, count: int, status: int, headers: dict[str, str], **policy: Any) -> Any:
        """A context manager giving a connector whose next ``count`` provider requests fail."""
        raise NotImplementedError

    def expire_cursors(self) -> None:
        raise NotImplementedError

    def pending_failures(self) -> int:
        """Injected failures not yet served."""
        raise NotImplementedError


# --- CalDAV ---------------------------------------------------------------------------------------


class DavBackend(Backend):
    def __init__(self, server: DavServer) -> None:
        super().__init__(server.name)
        self.server = server
        self.principal = "user" if server.name == "xandikos" else server.username
        self.http = requests.Session()
        self.http.auth = (server.username, server.password)
        self.http.verify = server.ca_file
        self.http.trust_env = False  # else REQUESTS_CA_BUNDLE overrides verify
        self.connector = self.make(server.base_url)

    def make(self, url: str, password: str | None = None, **kw: Any) -> CalDAVConnector:
        return CalDAVConnector(
            url,
            username=self.server.username,
            password=self.server.password if password is None else password,
            verify=self.server.ca_file,
            policy=kw.pop("policy", None) or self.policy(),
            **kw,
        )

    def new_person(self, time_zone: str = "UTC") -> CalendarIdentity:
        name = f"cal-{next(_n)}-{secrets.token_hex(3)}"
        path = f"{self.principal}/{name}/"
        response = self.http.request("MKCALENDAR", self.server.base_url + path)
        assert response.status_code == 201, response.text
        email = f"{name}@example.com"
        return CalendarIdentity(email, path, email=email, time_zone=time_zone)

    def url(self, owner: CalendarIdentity, handle: str) -> str:
        return handle if handle.startswith("http") else self.server.base_url + owner.external_id + handle

    def seed(
        self,
        owner: CalendarIdentity,
        start: datetime | date,
        end: datetime | date,
        *,
        rrule: str | None = None,
        transparent: bool = False,
        cancelled: bool = False,
        organizer: str | None = None,
        time_zone: str | None = None,
    ) -> str:
        cal = icalendar.Calendar()
        cal.add("PRODID", "-//test client//EN")
        cal.add("VERSION", "2.0")
        event = icalendar.Event()
        uid = str(uuid.uuid4())
        event.add("UID", uid)
        event.add("DTSTAMP", NOW)
        event.add("SUMMARY", "seeded")
        event.add("DTSTART", start)
        event.add("DTEND", end)
        if rrule:
            event.add("RRULE", icalendar.vRecur.from_ical(rrule))
        if transparent:
            event.add("TRANSP", "TRANSPARENT")
        if cancelled:
            event.add("STATUS", "CANCELLED")
        if organizer:
            event.add("ORGANIZER", f"mailto:{organizer}")
            attendee = icalendar.vCalAddress(f"mailto:{owner.email}")
            attendee.params["PARTSTAT"] = icalendar.vText("NEEDS-ACTION")
            event.add("ATTENDEE", attendee)
        cal.add_component(event)
        if isinstance(start, datetime) and start.tzinfo not in (None, UTC):
            cal.add_missing_timezones()
        handle = f"{uid}.ics"
        response = self.http.put(
            self.url(owner, handle), data=cal.to_ical(), headers={"Content-Type": "text/calendar"}
        )
        assert response.status_code in (201, 204), response.text
        return self.url(owner, handle)

    def _edit(self, owner: CalendarIdentity, handle: str, change: Any) -> None:
        url = self.url(owner, handle)
        cal = icalendar.Calendar.from_ical(self.http.get(url).content)
        event = next(iter(cal.walk("VEVENT")))
        change(event)
        seq = int(event.get("SEQUENCE", 0)) + 1
        event.pop("SEQUENCE", None)
        event.add("SEQUENCE", seq)
        response = self.http.put(url, data=cal.to_ical(), headers={"Content-Type": "text/calendar"})
        assert response.status_code in (201, 204), response.text

    def move(self, owner: CalendarIdentity, handle: str, start: datetime, end: datetime) -> None:
        def change(event: Any) -> None:
            for key, value in (("DTSTART", start), ("DTEND", end)):
                event.pop(key)
                event.add(key, value)

        self._edit(owner, handle, change)

    def delete(self, owner: CalendarIdentity, handle: str) -> None:
        assert self.http.delete(self.url(owner, handle)).status_code in (200, 204)

    def decline(self, owner: CalendarIdentity, handle: str) -> None:
        def change(event: Any) -> None:
            attendees = event.get("ATTENDEE")
            for att in attendees if isinstance(attendees, list) else [attendees]:
                if str(att).lower() == f"mailto:{owner.email}".lower():
                    att.params["PARTSTAT"] = icalendar.vText("DECLINED")

        self._edit(owner, handle, change)

    def state(self, owner: CalendarIdentity, handle: str) -> dict[str, Any] | None:
        response = self.http.get(self.url(owner, handle))
        if response.status_code == 404:
            return None
        event = next(iter(icalendar.Calendar.from_ical(response.content).walk("VEVENT")))
        attendees = event.get("ATTENDEE") or []
        attendees = attendees if isinstance(attendees, list) else [attendees]
        return {
            "start": event.decoded("DTSTART"),
            "end": event.decoded("DTEND"),
            "cancelled": str(event.get("STATUS", "")) == "CANCELLED",
            "sequence": int(event.get("SEQUENCE", 0)),
            "uid": str(event["UID"]),
            "attendees": {str(a).lower().removeprefix("mailto:") for a in attendees},
            "organizer": str(event.get("ORGANIZER", "")).lower().removeprefix("mailto:"),
        }

    def count(self, owner: CalendarIdentity) -> int:
        body = '<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>'
        response = self.http.request(
            "PROPFIND",
            self.server.base_url + owner.external_id,
            data=body,
            headers={"Depth": "1", "Content-Type": "application/xml"},
        )
        tree = etree.fromstring(response.content)
        return sum(1 for href in tree.iter("{DAV:}href") if (href.text or "").endswith(".ics"))

    def bad_credentials(self) -> CalendarConnector:
        return self.make(self.server.base_url, password="not-the-password")

    def throttled(self, count: int, status: int, headers: dict[str, str], **policy: Any) -> Any:
        backend = self

        class _Ctx:
            def __enter__(self) -> CalDAVConnector:
                self.cm = throttle_proxy(backend.server.base_url, backend.server.ca_file)
                self.proxy = self.cm.__enter__()
                self.proxy.fail_next(count, status, headers)
                backend._proxy = self.proxy
                return CalDAVConnector(
                    self.proxy.base_url,
                    username=backend.server.username,
                    password=backend.server.password,
                    policy=backend.policy(**policy),
                )

            def __exit__(self, *exc: Any) -> None:
                self.cm.__exit__(*exc)

        return _Ctx()

    def pending_failures(self) -> int:
        return len(self._proxy.failures)

    def expire_cursors(self) -> None:
        pass  # tests pass a token the server never issued instead


# --- Google ---------------------------------------------------------------------------------------


class GoogleBackend(Backend):
    def __init__(self, fake: GoogleFake) -> None:
        super().__init__("google")
        self.fake = fake
        self.info, key = make_service_account(fake.token_uri)
        fake.register_service_account(self.info, key)
        self.connector = self.make()

    def make(self, info: dict[str, str] | None = None, **policy: Any) -> GoogleConnector:
        return GoogleConnector(
            service_account_info=info or self.info,
            api_endpoint=self.fake.api_endpoint,
            policy=self.policy(**policy),
        )

    def new_person(self, time_zone: str = "UTC") -> CalendarIdentity:
        email = f"g{next(_n)}-{secrets.token_hex(3)}@example.com"
        self.fake.store.add_calendar(email, time_zone)
        return CalendarIdentity(email, email, email=email, time_zone=time_zone)

    def seed(
        self,
        owner: CalendarIdentity,
        start: datetime | date,
        end: datetime | date,
        *,
        rrule: str | None = None,
        transparent: bool = False,
        cancelled: bool = False,
        organizer: str | None = None,
        time_zone: str | None = None,
    ) -> str:
        attendees = [{"email": owner.email, "response": "needsAction"}] if organizer else []
        event = self.fake.seed(
            owner.email,
            start=start,
            end=end,
            rrule=rrule,
            transparent=transparent,
            status="cancelled" if cancelled else "confirmed",
            organizer=organizer or owner.email,
            attendees=attendees,
            time_zone=time_zone or "UTC",
        )
        return event.id

    def move(self, owner: CalendarIdentity, handle: str, start: datetime, end: datetime) -> None:
        self.fake.store.change(owner.email, handle, start=start, end=end)

    def delete(self, owner: CalendarIdentity, handle: str) -> None:
        self.fake.store.delete(owner.email, handle)

    def decline(self, owner: CalendarIdentity, handle: str) -> None:
        self.fake.store.respond(owner.email, handle, owner.email, "declined")

    def state(self, owner: CalendarIdentity, handle: str) -> dict[str, Any] | None:
        event = self.fake.store.get(owner.email, handle)
        if event is None:
            return None
        return _fake_state(event)

    def count(self, owner: CalendarIdentity) -> int:
        return len(self.fake.store.live_events(owner.email))

    def bad_credentials(self) -> CalendarConnector:
        other, _key = make_service_account(self.fake.token_uri)  # a key Google never saw
        return self.make({**other, "client_email": self.info["client_email"]})

    def throttled(self, count: int, status: int, headers: dict[str, str], **policy: Any) -> Any:
        backend = self

        class _Ctx:
            def __enter__(self) -> GoogleConnector:
                connector = backend.make(**policy)
                body = {
                    "error": {
                        "code": status,
                        "message": "Rate Limit Exceeded",
                        "errors": [{"domain": "usageLimits", "reason": "rateLimitExceeded"}],
                    }
                }
                backend.fake.store.fail_next(count, status, body, headers)
                return connector

            def __exit__(self, *exc: Any) -> None:
                backend.fake.store.failures.clear()

        return _Ctx()

    def pending_failures(self) -> int:
        return len(self.fake.store.failures)

    def expire_cursors(self) -> None:
        with self.fake.store.lock:
            self.fake.store.expired_tokens_before = self.fake.store.version + 1
            self.fake.store.bump()  # tokens issued from now on are valid


# --- Microsoft Graph ------------------------------------------------------------------------------


class GraphBackend(Backend):
    def __init__(self, fake: GraphFake) -> None:
        super().__init__("graph")
        self.fake = fake
        self.connector = self.make()

    def make(self, secret: str | None = None, **policy: Any) -> MicrosoftConnector:
        return MicrosoftConnector(
            tenant_id=self.fake.tenant_id,
            client_id=self.fake.client_id,
            client_secret=secret or self.fake.client_secret,
            authority_host=self.fake.base_url,
            graph_url=self.fake.graph_url,
            verify=self.fake.ca_file,
            policy=self.policy(**policy),
            clock=lambda: NOW,
        )

    def new_person(self, time_zone: str = "UTC") -> CalendarIdentity:
        email = f"m{next(_n)}-{secrets.token_hex(3)}@example.com"
        self.fake.store.add_calendar(email, time_zone)
        return CalendarIdentity(email, email, email=email, time_zone=time_zone)

    seed = GoogleBackend.seed
    move = GoogleBackend.move
    delete = GoogleBackend.delete
    state = GoogleBackend.state
    count = GoogleBackend.count

    def decline(self, owner: CalendarIdentity, handle: str) -> None:
        self.fake.store.respond(owner.email, handle, owner.email, "declined")

    def bad_credentials(self) -> CalendarConnector:
        return self.make("wrong-secret")

    def throttled(self, count: int, status: int, headers: dict[str, str], **policy: Any) -> Any:
        backend = self

        class _Ctx:
            def __enter__(self) -> MicrosoftConnector:
                connector = backend.make(**policy)
                connector.test_connection()  # sign in first: throttling applies to Graph calls
                backend.fake.store.fail_next(
                    count, status, {"error": {"code": "TooManyRequests", "message": "Please retry."}}, headers
                )
                return connector

            def __exit__(self, *exc: Any) -> None:
                backend.fake.store.failures.clear()

        return _Ctx()

    pending_failures = GoogleBackend.pending_failures
    expire_cursors = GoogleBackend.expire_cursors


def _fake_state(event: FakeEvent) -> dict[str, Any]:
    return {
        "start": event.start,
        "end": event.end,
        "cancelled": event.deleted or event.status == "cancelled",
        "sequence": event.sequence,
        "uid": event.private.get("flashmentorUid") or event.transaction_id,
        "attendees": {a["email"].lower() for a in event.attendees},
        "organizer": event.organizer.lower(),
    }


def local(day: str, hhmm: str, tz: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{hhmm}").replace(tzinfo=ZoneInfo(tz))
