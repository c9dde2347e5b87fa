"""Add a meeting to my own calendar: an .ics download and Google / Outlook web links.

The download is the meeting's own iCalendar event (:func:`scheduling.notices.meeting_ics`, built by
:func:`scheduling.calendar_event.meeting_event`) with the same UID and SEQUENCE as its invitation, so a
calendar that already has the invitation updates that event instead of showing it twice. The web links
carry the same summary, times, description and place; those calendars make their own copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from flask import Response

from calendars.base import EventSpec
from scheduling.calendar_event import meeting_event
from scheduling.models import Meeting
from scheduling.notices import meeting_ics

PUBLISH = "PUBLISH"  # RFC 5546: an event to add, not an invitation to answer
GOOGLE = "https://calendar.google.com/calendar/render"
OUTLOOK_WORK = "https://outlook.office.com/calendar/0/deeplink/compose"
OUTLOOK_PERSONAL = "https://outlook.live.com/calendar/0/deeplink/compose"


@dataclass(frozen=True)
class CalendarLink:
    label: str
    url: str


def _event(meeting: Meeting) -> EventSpec:
    return meeting_event(meeting, owner=meeting.mentor, attendees=(meeting.mentee,))


def _place(spec: EventSpec) -> str:
    return spec.location or spec.video_url or ""


def _google_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _outlook_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def google_link(spec: EventSpec) -> str:
    """Google Calendar's "create event" page, filled in (times in UTC)."""
    query = {"action": "TEMPLATE", "text": spec.summary,
             "dates": f"{_google_time(spec.start)}/{_google_time(spec.end)}",
             "details": spec.description, "location": _place(spec)}
    return f"{GOOGLE}?{urlencode(query)}"


def outlook_link(spec: EventSpec, base: str = OUTLOOK_WORK) -> str:
    """Outlook on the web's compose page, filled in (work or school account, or outlook.com)."""
    query = {"path": "/calendar/action/compose", "rru": "addevent", "subject": spec.summary,
             "startdt": _outlook_time(spec.start), "enddt": _outlook_time(spec.end),
             "body": spec.description, "location": _place(spec)}
    return f"{base}?{urlencode(query)}"


def calendar_links(meeting: Meeting) -> list[CalendarLink]:
    """The web calendars' links for a meeting that still takes place (none once it is canceled or over)."""
    if not meeting.is_active:
        return []
    spec = _event(meeting)
    return [CalendarLink("Google Calendar", google_link(spec)),
            CalendarLink("Outlook (work or school)", outlook_link(spec)),
            CalendarLink("Outlook.com", outlook_link(spec, OUTLOOK_PERSONAL))]


def ics_response(meeting: Meeting) -> Response:
    """The meeting as an .ics file to add (a canceled one says so: STATUS:CANCELLED)."""
    body, _ = meeting_ics(meeting, method=PUBLISH)
    return Response(body, mimetype="text/calendar", headers={
        "Content-Disposition": f'attachment; filename="meeting-{meeting.id}.ics"',
        "Cache-Control": "private, no-store",
    })
