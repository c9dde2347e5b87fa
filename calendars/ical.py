"""iCalendar (RFC 5545) reading and writing shared by the calendar providers.

Busy time is read the way a person means it: opaque, not cancelled, not declined
by them; all-day and floating times are in the owner's own zone; recurring
events are expanded (RRULE, RDATE, EXDATE, overridden instances) with
``recurring_ical_events``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events

from calendars.base import Attendee, BusyInterval, EventSpec

PRODID = "-//Flashmentor//Calendar connector//EN"


def zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name or "UTC")
    except (KeyError, ValueError):
        return UTC


def as_aware(value: date | datetime, tz: tzinfo) -> datetime:
    """A DTSTART/DTEND value as an aware datetime: dates are midnight, floating times in ``tz``."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=tz)
    return datetime.combine(value, time(0), tzinfo=tz)


def event_times(component: icalendar.cal.Component, tz: tzinfo) -> tuple[datetime, datetime] | None:
    """Start and end of a VEVENT (DTEND, else DURATION, else RFC 5545 defaults)."""
    if component.get("DTSTART") is None:
        return None
    raw_start = component.decoded("DTSTART")
    start = as_aware(raw_start, tz)
    if component.get("DTEND") is not None:
        end = as_aware(component.decoded("DTEND"), tz)
    elif component.get("DURATION") is not None:
        end = start + component.decoded("DURATION")
    elif isinstance(raw_start, datetime):
        end = start  # an instant: takes no time
    else:
        end = start + timedelta(days=1)  # an all-day event lasts the day
    return start, end


def _addr(value: object) -> str:
    text = str(value)
    return text[7:].lower() if text.lower().startswith("mailto:") else text.lower()


def partstat_of(component: icalendar.cal.Component, email: str) -> str | None:
    """The PARTSTAT of ``email`` 's ATTENDEE line, if they are one."""
    if not email:
        return None
    attendees = component.get("ATTENDEE")
    if attendees is None:
        return None
    if not isinstance(attendees, list):
        attendees = [attendees]
    for att in attendees:
        if _addr(att) == email.lower():
            return str(att.params.get("PARTSTAT", "NEEDS-ACTION")).upper()
    return None


def declined_by(component: icalendar.cal.Component, owner_email: str) -> str | None:
    """Who declined: the owner if they did, else the first attendee whose line says DECLINED
    (an organizer's copy shows each attendee's answer), else None."""
    if owner_email and partstat_of(component, owner_email) == "DECLINED":
        return owner_email.lower()
    attendees = component.get("ATTENDEE")
    if attendees is None:
        return None
    for att in attendees if isinstance(attendees, list) else [attendees]:
        if str(att.params.get("PARTSTAT", "")).upper() == "DECLINED":
            return _addr(att)
    return None


def blocks_time(component: icalendar.cal.Component, owner_email: str) -> bool:
    """Whether the event makes its owner busy (opaque, not cancelled, not declined)."""
    if str(component.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
        return False
    if str(component.get("STATUS", "")).upper() == "CANCELLED":
        return False
    return partstat_of(component, owner_email) != "DECLINED"


def busy_from_calendars(
    calendars: Iterable[icalendar.Calendar],
    start: datetime,
    end: datetime,
    *,
    owner_email: str = "",
    time_zone: str = "UTC",
) -> list[BusyInterval]:
    """Busy intervals in [start, end) from VCALENDAR objects, recurrences expanded, merged."""
    tz = zone(time_zone)
    found: list[tuple[datetime, datetime]] = []
    # Widen by a day so all-day/floating instances whose zone differs from UTC are not missed.
    lo, hi = start - timedelta(days=1), end + timedelta(days=1)
    for cal in calendars:
        for component in recurring_ical_events.of(cal).between(lo, hi):
            if component.name != "VEVENT" or not blocks_time(component, owner_email):
                continue
            times = event_times(component, tz)
            if times is None:
                continue
            s, e = max(times[0], start), min(times[1], end)
            if s < e:
                found.append((s.astimezone(UTC), e.astimezone(UTC)))
    return merge(found)


def merge(intervals: Iterable[tuple[datetime, datetime]]) -> list[BusyInterval]:
    """Sorted, disjoint busy intervals (touching ones joined)."""
    out: list[list[datetime]] = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [BusyInterval(s, e) for s, e in out]


def _vcal_address(person: Attendee, **params: str) -> icalendar.vCalAddress:
    addr = icalendar.vCalAddress(f"mailto:{person.email}")
    if person.name:
        addr.params["CN"] = icalendar.vText(person.name)
    for key, value in params.items():
        addr.params[key.replace("_", "-")] = icalendar.vText(value)
    return addr


def keep_personal(
    old: icalendar.cal.Component | None, new_cal: icalendar.Calendar, known: frozenset[str] = frozenset()
) -> None:
    """Carry what people added to their copy into our rewrite of it: their alarms (VALARM) and,
    while the time stays the same, each attendee's answer (PARTSTAT), except for the addresses in
    ``known`` (lower case), whose answer the app wrote from what it knows newer. A new time asks
    again (RFC 5546: a rescheduled request resets the answers)."""
    new = master_event(new_cal)
    if old is None or new is None:
        return
    for alarm in old.walk("VALARM"):
        new.add_component(alarm)
    if [_dt(old.get(k)) for k in ("DTSTART", "DTEND")] != [_dt(new.get(k)) for k in ("DTSTART", "DTEND")]:
        return
    answers: dict[str, str] = {}
    previous = old.get("ATTENDEE") or []
    for att in previous if isinstance(previous, list) else [previous]:
        if "PARTSTAT" in att.params:
            answers[_addr(att)] = str(att.params["PARTSTAT"])
    current = new.get("ATTENDEE") or []
    for att in current if isinstance(current, list) else [current]:
        answer = answers.get(_addr(att))
        if answer and _addr(att) not in known:
            att.params["PARTSTAT"] = icalendar.vText(answer)
            if answer != "NEEDS-ACTION":
                att.params.pop("RSVP", None)


def _dt(prop: Any) -> Any:
    """A DTSTART/DTEND value comparable across zones (aware times in UTC)."""
    value = getattr(prop, "dt", prop)
    return value.astimezone(UTC) if isinstance(value, datetime) and value.tzinfo else value


def build_event(
    spec: EventSpec,
    *,
    sequence: int | None = None,
    status: str = "CONFIRMED",
    stamp: datetime | None = None,
) -> icalendar.Calendar:
    """A VCALENDAR with one VEVENT for ``spec``: UID, ORGANIZER (also a chair ATTENDEE), ATTENDEEs."""
    cal = icalendar.Calendar()
    cal.add("PRODID", PRODID)
    cal.add("VERSION", "2.0")
    event = icalendar.Event()
    event.add("UID", spec.uid)
    event.add("DTSTAMP", (stamp or datetime.now(UTC)).astimezone(UTC))
    event.add("DTSTART", spec.start.astimezone(UTC))
    event.add("DTEND", spec.end.astimezone(UTC))
    event.add("SUMMARY", spec.summary)
    if spec.description:
        event.add("DESCRIPTION", spec.description)
    if spec.location or spec.video_url:
        event.add("LOCATION", spec.location or spec.video_url)
    if spec.video_url:
        event.add("URL", spec.video_url)  # RFC 5545 3.8.4.6; clients show it as the event's link
    event.add("SEQUENCE", spec.sequence if sequence is None else sequence)
    event.add("STATUS", status)
    event.add("TRANSP", "OPAQUE")
    event.add("ORGANIZER", _vcal_address(spec.organizer))
    event.add("ATTENDEE", _vcal_address(spec.organizer, ROLE="CHAIR", PARTSTAT="ACCEPTED"))
    for person in spec.attendees:
        if person.email.lower() == spec.organizer.email.lower():
            continue
        partstat = person.partstat.upper() or "NEEDS-ACTION"
        asked = {"RSVP": "TRUE"} if partstat == "NEEDS-ACTION" else {}
        event.add("ATTENDEE", _vcal_address(person, ROLE="REQ-PARTICIPANT", PARTSTAT=partstat, **asked))
    cal.add_component(event)
    return cal


def master_event(cal: icalendar.Calendar) -> icalendar.cal.Component | None:
    """The VEVENT without RECURRENCE-ID (the one we wrote), or the first VEVENT."""
    events = [c for c in cal.walk("VEVENT")]
    for event in events:
        if event.get("RECURRENCE-ID") is None:
            return event
    return events[0] if events else None
