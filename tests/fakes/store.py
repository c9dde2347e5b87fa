"""The calendar data behind the Google and Graph loopback servers.

A provider-neutral model of calendars and events with a change counter (for sync
tokens and delta links), a request log (to count provider calls), injected
failures (throttling, outages) and change listeners (the fakes' push notifications).
Busy time is computed here the way the real services document it: recurrences
expanded, transparent/cancelled/declined events free, all-day events in the
calendar's own zone. It deliberately does not reuse product code, so the contract
tests compare two implementations.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr


@dataclass
class FakeEvent:
    id: str
    calendar: str
    start: datetime | date
    end: datetime | date
    summary: str = ""
    description: str = ""
    location: str = ""
    time_zone: str = "UTC"
    rrule: str | None = None
    transparent: bool = False
    status: str = "confirmed"  # confirmed | tentative | cancelled
    organizer: str = ""
    attendees: list[dict[str, str]] = field(default_factory=list)  # email, name, response
    sequence: int = 0
    ical_uid: str = ""
    transaction_id: str = ""
    show_as: str = "busy"
    private: dict[str, str] = field(default_factory=dict)  # Google extendedProperties.private
    conference: dict[str, Any] = field(default_factory=dict)  # Google conferenceData, as made
    online_provider: str = ""  # Graph onlineMeetingProvider once isOnlineMeeting is set
    join_url: str = ""  # Graph onlineMeeting.joinUrl
    deleted: bool = False
    version: int = 0

    @property
    def all_day(self) -> bool:
        return not isinstance(self.start, datetime)

    def response_of(self, email: str) -> str | None:
        for att in self.attendees:
            if att["email"].lower() == email.lower():
                return att.get("response", "needsAction")
        return None


@dataclass
class Failure:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


class Store:
    """Thread-safe state shared by a fake server and the test that drives it."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._version = itertools.count(1)
        self.version = 0
        self.events: dict[str, dict[str, FakeEvent]] = {}
        self.zones: dict[str, str] = {}
        self.requests: list[tuple[str, str]] = []
        self.failures: list[Failure] = []
        self.expired_tokens_before = 0  # sync tokens older than this version are rejected
        # Called as listener(calendar, event_id, "created" | "updated" | "deleted") after each change.
        self.listeners: list[Callable[[str, str, str], None]] = []

    def _changed(self, calendar: str, event_id: str, kind: str) -> None:
        for listener in list(self.listeners):
            listener(calendar.lower(), event_id, kind)

    # --- setup ----------------------------------------------------------------------------------

    def add_calendar(self, email: str, time_zone: str = "UTC") -> None:
        with self.lock:
            self.events.setdefault(email.lower(), {})
            self.zones[email.lower()] = time_zone

    def has_calendar(self, email: str) -> bool:
        return email.lower() in self.events

    def bump(self) -> int:
        self.version = next(self._version)
        return self.version

    def put(self, event: FakeEvent) -> FakeEvent:
        with self.lock:
            event.calendar = event.calendar.lower()
            known = event.id in self.events[event.calendar]
            event.version = self.bump()
            self.events[event.calendar][event.id] = event
        self._changed(event.calendar, event.id, "updated" if known else "created")
        return event

    def get(self, calendar: str, event_id: str) -> FakeEvent | None:
        with self.lock:
            return self.events.get(calendar.lower(), {}).get(event_id)

    def change(self, calendar: str, event_id: str, **changes: Any) -> FakeEvent:
        """Edit an event as its owner would in their calendar app."""
        with self.lock:
            event = self.events[calendar.lower()][event_id]
            for key, value in changes.items():
                setattr(event, key, value)
            event.version = self.bump()
        self._changed(calendar, event_id, "deleted" if event.deleted else "updated")
        return event

    def respond(
        self, calendar: str, event_id: str, email: str, response: str, comment: str = ""
    ) -> FakeEvent:
        """``email`` answers the invitation (with an optional note, Google's attendee ``comment``)."""
        with self.lock:
            event = self.events[calendar.lower()][event_id]
            for att in event.attendees:
                if att["email"].lower() == email.lower():
                    att["response"] = response
                    if comment:
                        att["comment"] = comment
            event.version = self.bump()
        self._changed(calendar, event_id, "updated")
        return event

    def delete(self, calendar: str, event_id: str) -> None:
        self.change(calendar, event_id, deleted=True, status="cancelled")

    def fail_next(
        self,
        count: int,
        status: int,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        with self.lock:
            self.failures.extend(Failure(status, body or {}, headers or {}) for _ in range(count))

    def take_failure(self) -> Failure | None:
        with self.lock:
            return self.failures.pop(0) if self.failures else None

    def log(self, method: str, path: str) -> None:
        with self.lock:
            self.requests.append((method, path))

    def count(self, method: str | None = None, contains: str = "") -> int:
        with self.lock:
            return sum(1 for m, p in self.requests if (method is None or m == method) and contains in p)

    # --- reading --------------------------------------------------------------------------------

    def live_events(self, calendar: str) -> list[FakeEvent]:
        with self.lock:
            return [e for e in self.events.get(calendar.lower(), {}).values() if not e.deleted]

    def changed_since(self, calendar: str, version: int) -> list[FakeEvent]:
        with self.lock:
            return sorted(
                (e for e in self.events.get(calendar.lower(), {}).values() if e.version > version),
                key=lambda e: e.version,
            )

    def _aware(self, value: datetime | date, tz: ZoneInfo) -> datetime:
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=tz)
        return datetime.combine(value, time(0), tzinfo=tz)

    def occurrences(
        self, event: FakeEvent, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        tz = ZoneInfo(event.time_zone if not event.all_day else self.zones.get(event.calendar, "UTC"))
        first_start = self._aware(event.start, tz)
        length = self._aware(event.end, tz) - first_start
        if not event.rrule:
            starts = [first_start]
        else:
            local = first_start.astimezone(tz).replace(tzinfo=None)
            rule = rrulestr(event.rrule, dtstart=local)
            starts = []
            for occ in rule:
                aware = occ.replace(tzinfo=tz)
                if aware >= end:
                    break
                starts.append(aware)
        out = []
        for s in starts:
            e = s + length
            if s < end and e > start:
                out.append((s, e))
        return out

    def busy(self, calendar: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        found = []
        for event in self.live_events(calendar):
            if event.transparent or event.status == "cancelled" or event.show_as == "free":
                continue
            if event.response_of(calendar) == "declined":
                continue
            for s, e in self.occurrences(event, start, end):
                found.append((max(s, start).astimezone(UTC), min(e, end).astimezone(UTC)))
        found.sort()
        merged: list[list[datetime]] = []
        for s, e in found:
            if merged and s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        return [(s, e) for s, e in merged]


def day_after(d: date) -> date:
    return d + timedelta(days=1)
