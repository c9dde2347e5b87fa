"""Real calendars for the demo: every demo person connected to a calendar on a local CalDAV server.

``bin/demo`` starts Radicale on loopback (no sign-in, storage under ``instance/``) and runs
``flask demo calendars``: one CalDAV tenant, one calendar per person with a few busy events in the next
two weeks (their own working hours, the same every run), each person's account linked to it. The demo
then shows what the product does with calendars: the free times offered are those where *both* people
are free, and an accepted meeting lands on both calendars (read them at the server's URL).
Running it again connects only the people not connected yet.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling import tenants
from scheduling.db import utcnow
from scheduling.models import CalendarAccount, CalendarTenant, Person

TENANT_NAME = "Demo calendars (Radicale)"
HOME = "demo"  # calendars live at <server>/demo/<person>/
DAYS = 14
BUSY_TITLES = ("Team sync", "Customer call", "Focus time", "1:1 with manager", "Project review",
               "Lunch & learn")
TIMEOUT = 10.0


@dataclass(frozen=True)
class DemoCalendars:
    tenant: CalendarTenant
    connected: int  # people connected by this run
    busy_events: int  # events written by this run


def connect_demo_calendars(session: Session, url: str, *, seed: int = 1, now: datetime | None = None,
                           http: requests.Session | None = None) -> DemoCalendars:
    """Connect every active person without a calendar to a new calendar with busy events on ``url``."""
    base = url if url.endswith("/") else url + "/"
    web = http or requests.Session()
    tenant = session.scalar(select(CalendarTenant).where(CalendarTenant.name == TENANT_NAME))
    if tenant is None:
        tenant = tenants.create_tenant(session, name=TENANT_NAME, provider="caldav",
                                       config={"url": base, "auth": "none"})
    linked = set(session.scalars(select(CalendarAccount.person_id)))
    people = [p for p in session.scalars(select(Person).where(Person.active).order_by(Person.id))
              if p.id not in linked]
    _make(web, "MKCOL", base + f"{HOME}/")
    start = (now or utcnow()).date()
    written = 0
    for person in people:
        path = f"{HOME}/person-{person.id}/"
        _make(web, "MKCALENDAR", base + path)
        rng = random.Random(f"{seed}-{person.id}")
        for begin, end, title in busy_blocks(person, start, rng):
            _put_event(web, base + path, begin, end, title)
            written += 1
        tenants.connect_account(session, person=person, tenant=tenant, external_id=path,
                                assigned_by=tenants.OPERATOR)
    return DemoCalendars(tenant, len(people), written)


def busy_blocks(person: Person, start: date, rng: random.Random) -> list[tuple[datetime, datetime, str]]:
    """One or two meetings on most working days of the next two weeks, in the person's working hours."""
    zone = ZoneInfo(person.time_zone or "UTC")
    blocks = []
    for offset in range(DAYS):
        day = start + timedelta(days=offset)
        if day.weekday() >= 5 or rng.random() < 0.25:
            continue
        for hour in sorted(rng.sample(range(9, 17), rng.choice((1, 2)))):
            begin = datetime.combine(day, time(hour, rng.choice((0, 30))), zone)
            minutes = rng.choice((30, 60, 90))
            blocks.append((begin, begin + timedelta(minutes=minutes), rng.choice(BUSY_TITLES)))
    return blocks


def _make(web: requests.Session, method: str, url: str) -> None:
    """MKCOL/MKCALENDAR; a collection already there (405) is fine: a run after an interrupted one."""
    response = web.request(method, url, timeout=TIMEOUT)
    if response.status_code not in (201, 405):
        raise RuntimeError(f"{method} {url}: the CalDAV server answered {response.status_code}")


def _put_event(web: requests.Session, calendar_url: str, begin: datetime, end: datetime, title: str) -> None:
    cal = icalendar.Calendar()
    cal.add("PRODID", "-//Flashmentor demo//EN")
    cal.add("VERSION", "2.0")
    event = icalendar.Event()
    uid = str(uuid.uuid4())
    event.add("UID", uid)
    event.add("DTSTAMP", utcnow())
    event.add("DTSTART", begin.astimezone(UTC))  # UTC: no VTIMEZONE needed
    event.add("DTEND", end.astimezone(UTC))
    event.add("SUMMARY", title)
    cal.add_component(event)
    response = web.put(calendar_url + f"{uid}.ics", data=cal.to_ical(), timeout=TIMEOUT,
                       headers={"Content-Type": "text/calendar; charset=utf-8"})
    if response.status_code not in (201, 204):
        raise RuntimeError(f"PUT {calendar_url}: the CalDAV server answered {response.status_code}")
