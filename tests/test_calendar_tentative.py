"""One free/tentative rule on every provider: an invitation the person has not answered, or
answered "maybe", keeps its time busy; only an explicit "free" (transparent, Graph ``free`` /
``workingElsewhere``) or the person's own decline frees it. So a mentor who has not yet answered a
colleague's invitation in Outlook is not double-booked, exactly as on Google or CalDAV.

Each provider is asked through the product's connector against its loopback server, the events
stored as that provider's wire format says: Google ``attendees[].responseStatus``
(``needsAction``/``tentative``/``accepted``/``declined``), Graph ``showAs`` with the owner's
``responseStatus`` (Exchange files an unanswered invitation as ``tentative`` with response
``none``), CalDAV ``PARTSTAT`` on the owner's ATTENDEE line and ``STATUS:TENTATIVE``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import icalendar
import pytest

from calendars.base import BusyInterval, CalendarIdentity
from tests.calendar_backends import NOW, DavBackend, GoogleBackend, GraphBackend
from tests.fakes.google_server import GoogleFake
from tests.fakes.graph_server import GraphFake

pytestmark = pytest.mark.no_database  # no SQL: the PostgreSQL pass leaves it out

DAY = datetime(2030, 1, 9, tzinfo=UTC)
ORGANIZER = "colleague@example.com"


def hour(h: int) -> datetime:
    return DAY + timedelta(hours=h)


def busy_hours(found: dict[str, list[BusyInterval]], who: CalendarIdentity) -> list[tuple[int, int]]:
    return [(b.start.hour, b.end.hour) for b in found[who.person_key]]


@pytest.fixture
def google(google_fake: GoogleFake) -> GoogleBackend:
    google_fake.store.failures.clear()
    return GoogleBackend(google_fake)


@pytest.fixture
def graph(graph_fake: GraphFake) -> GraphBackend:
    graph_fake.store.failures.clear()
    graph_fake.consented = True
    return GraphBackend(graph_fake)


def test_google_unanswered_and_maybe_are_busy_declined_and_transparent_are_free(
    google: GoogleBackend,
) -> None:
    me = google.new_person()
    for h, answer in ((9, "needsAction"), (10, "tentative"), (11, "accepted"), (12, "declined")):
        google.fake.seed(me.email, start=hour(h), end=hour(h + 1), organizer=ORGANIZER,
                         attendees=[{"email": ORGANIZER, "response": "accepted"},
                                    {"email": me.email, "response": answer}])
    google.fake.seed(me.email, start=hour(14), end=hour(15), transparent=True)

    found = google.connector.busy([me], hour(0), hour(24))

    assert busy_hours(dict(found), me) == [(9, 12)]


@pytest.mark.parametrize(
    ("show_as", "response", "busy"),
    [
        ("tentative", "none", True),  # an invitation not answered yet: Exchange files it tentative
        ("tentative", "tentativelyAccepted", True),
        ("busy", "accepted", True),
        ("oof", "organizer", True),
        ("unknown", "none", True),  # Graph does not know: not free either
        ("free", "accepted", False),
        ("workingElsewhere", "organizer", False),
        ("busy", "declined", False),
    ],
)
def test_graph_counts_everything_but_free_and_declined_as_busy(
    graph: GraphBackend, show_as: str, response: str, busy: bool
) -> None:
    me = graph.new_person()
    organizer = me.email if response == "organizer" else ORGANIZER
    attendees = [] if response == "organizer" else [{"email": me.email, "response": response}]
    graph.fake.seed(me.email, start=hour(9), end=hour(10), organizer=organizer, show_as=show_as,
                    attendees=attendees)

    found = graph.connector.busy([me], hour(0), hour(24))

    assert busy_hours(dict(found), me) == ([(9, 10)] if busy else [])


def test_graph_and_google_agree_on_an_unanswered_invitation(
    google: GoogleBackend, graph: GraphBackend
) -> None:
    """The issue's case: the same invitation, not answered yet, in Outlook and in Google Calendar."""
    on_google, on_outlook = google.new_person(), graph.new_person()
    google.fake.seed(on_google.email, start=hour(9), end=hour(10), organizer=ORGANIZER,
                     attendees=[{"email": on_google.email, "response": "needsAction"}])
    graph.fake.seed(on_outlook.email, start=hour(9), end=hour(10), organizer=ORGANIZER, show_as="tentative",
                    attendees=[{"email": on_outlook.email, "response": "none"}])

    assert busy_hours(dict(google.connector.busy([on_google], hour(0), hour(24))), on_google) == [(9, 10)]
    assert busy_hours(dict(graph.connector.busy([on_outlook], hour(0), hour(24))), on_outlook) == [(9, 10)]


@pytest.mark.parametrize("server", ["radicale_server", "xandikos_server"])
def test_caldav_needs_action_and_tentative_are_busy_declined_is_free(
    request: pytest.FixtureRequest, server: str
) -> None:
    dav = DavBackend(request.getfixturevalue(server))
    me = dav.new_person()
    for h, partstat, status in ((9, "NEEDS-ACTION", "CONFIRMED"), (10, "TENTATIVE", "CONFIRMED"),
                                (11, "ACCEPTED", "TENTATIVE"), (12, "DECLINED", "CONFIRMED")):
        put_invitation(dav, me, hour(h), hour(h + 1), partstat, status)

    found = dav.connector.busy([me], hour(0), hour(24))

    assert busy_hours(dict(found), me) == [(9, 12)]


def put_invitation(dav: DavBackend, me: CalendarIdentity, start: datetime, end: datetime,
                   partstat: str, status: str) -> None:
    """An invitation from a colleague in ``me``'s calendar, as a CalDAV client stores it."""
    cal = icalendar.Calendar()
    cal.add("PRODID", "-//test client//EN")
    cal.add("VERSION", "2.0")
    event = icalendar.Event()
    uid = str(uuid.uuid4())
    event.add("UID", uid)
    event.add("DTSTAMP", NOW)
    event.add("DTSTART", start)
    event.add("DTEND", end)
    event.add("SUMMARY", "team sync")
    event.add("STATUS", status)
    event.add("ORGANIZER", f"mailto:{ORGANIZER}")
    attendee = icalendar.vCalAddress(f"mailto:{me.email}")
    attendee.params["PARTSTAT"] = icalendar.vText(partstat)
    event.add("ATTENDEE", attendee)
    cal.add_component(event)
    stored = dav.http.put(dav.url(me, f"{uid}.ics"), data=cal.to_ical(),
                          headers={"Content-Type": "text/calendar"})
    assert stored.status_code in (201, 204), stored.text
