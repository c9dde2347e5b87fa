"""Video links for video meetings: who makes the join link, and where it is kept.

A program with ``video_links`` on gives each video meeting a join link, stored on the meeting
(``Meeting.video_url``) so the meeting page, every email and every calendar copy show the same one:

- the calendar the meeting is organized in (the mentor's, else the mentee's) makes it when its
  provider can: a Google Meet (``conferenceData.createRequest``) or a Teams meeting
  (``isOnlineMeeting``); the worker writes that event first and stores the link it reads back;
- otherwise (CalDAV, or no connected calendar) the program's template is filled in when the
  meeting is booked: ``https://meet.example.org/{room}``.

A meeting whose location already is a web address keeps it: the two people chose their own call.
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from scheduling.errors import ValidationFailed
from scheduling.events import DomainEvent, MeetingRescheduled, MeetingScheduled
from scheduling.models import Meeting, MeetingMode, Person, WorkKind

# Providers whose calendars make a conference for an event they hold (Meet, Teams).
LINK_MAKING_PROVIDERS = frozenset({"google", "microsoft"})
PLACEHOLDERS = {
    "meeting_id": "the meeting's number (guessable: only for servers with their own lobby)",
    "room": "a random-looking name derived from the meeting, the same for its whole life",
}
TEMPLATE_MAX = 500


def check_template(value: Any, field: str) -> str:
    """A program's fallback link: an http(s) address naming only known ``{placeholders}``."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationFailed(f"{field} must be text.", field)
    text = value.strip()
    if not text:
        return ""
    if len(text) > TEMPLATE_MAX:
        raise ValidationFailed(f"{field} has at most {TEMPLATE_MAX} characters.", field)
    try:
        parsed = list(string.Formatter().parse(text))
        fields = [(name, spec, conv) for _, name, spec, conv in parsed if name is not None]
    except ValueError as exc:
        raise ValidationFailed(f"{field}: unbalanced braces ({exc}).", field) from None
    if any(name not in PLACEHOLDERS or spec or conv for name, spec, conv in fields):
        known = ", ".join("{" + n + "}" for n in PLACEHOLDERS)
        raise ValidationFailed(f"{field} may use only {known}.", field)
    sample = _fill(text, meeting_id=1, uid="sample")
    parts = urlsplit(sample)
    odd = any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in sample)
    if parts.scheme not in ("https", "http") or not parts.hostname or odd:
        raise ValidationFailed(f"{field} must be a web address (https://...).", field)
    return text


def _fill(template: str, *, meeting_id: int, uid: str) -> str:
    return template.format(meeting_id=meeting_id, room=room_name(uid))


def room_name(uid: str) -> str:
    """A stable name for the meeting's room that cannot be guessed from its number."""
    return "flash-" + hashlib.sha256(f"video-room:{uid}".encode()).hexdigest()[:20]


def own_link(meeting: Meeting) -> str:
    """The location when the two people gave a web address as the place (their own call)."""
    location = (meeting.location or "").strip()
    return location if location.startswith(("https://", "http://")) else ""


def join_url(meeting: Meeting) -> str:
    """The address to join the call: the made link, else a web address given as location."""
    return meeting.video_url or own_link(meeting)


def wants_link(meeting: Meeting) -> bool:
    """Whether the meeting should get a link made for it (video, program on, none of its own)."""
    program = meeting.request.program if meeting.request is not None else None
    return (
        meeting.mode == MeetingMode.VIDEO
        and program is not None
        and program.video_links
        and not own_link(meeting)
    )


def template_link(meeting: Meeting) -> str:
    """The program's template filled in for ``meeting`` ("" without a template)."""
    program = meeting.request.program if meeting.request is not None else None
    template = program.video_url_template if program is not None else ""
    return _fill(template, meeting_id=meeting.id, uid=meeting.uid) if template else ""


def organizer_provider(session: Session, meeting: Meeting) -> str:
    """The provider of the calendar the meeting is organized in: the mentor's, else the mentee's
    (whose event then invites the mentor); "" when neither has a connected calendar."""
    from scheduling.tenants import account_of  # tenants imports the models this module serves

    people: tuple[Person, ...] = (meeting.mentor, meeting.mentee)
    for person in people:
        account = account_of(session, person)
        if account is not None:
            return str(account.tenant.provider.value)
    return ""


def calendar_makes_link(session: Session, meeting: Meeting) -> bool:
    """Whether the organizer's calendar is asked for the link: a video meeting that wants one,
    organized in Google or Microsoft, and not already given the template's link (a calendar that
    offered no Meet / Teams, or connected after the booking: the link people were told stays)."""
    if not wants_link(meeting) or organizer_provider(session, meeting) not in LINK_MAKING_PROVIDERS:
        return False
    return not meeting.video_url or meeting.video_url != template_link(meeting)


LINK_WAIT = timedelta(seconds=20)  # how long the invitation waits between looks for the link
LINK_WAIT_ATTEMPTS = 2  # it stops waiting once the calendar write has failed more often


def invitation_waits(session: Session, meeting: Meeting) -> bool:
    """Whether the meeting's mail should wait for the link the organizer's calendar is making:
    an active video meeting without its link, whose calendar write of this version has not run
    yet (or failed only a few times). A calendar that stays down does not hold the mail back."""
    if not meeting.is_active or meeting.video_url or not calendar_makes_link(session, meeting):
        return False
    from scheduling import timed_work  # it imports the events this module reads

    row = timed_work.find(session, timed_work.meeting_key(meeting.id, f"calendar-{meeting.sequence}"))
    return row is not None and row.is_open and row.attempts <= LINK_WAIT_ATTEMPTS


def defer_invitation(session: Session, meeting: Meeting, *, now: datetime) -> None:
    """Run the meeting's invitation again a little later (its own row, re-timed; the caller commits)."""
    from scheduling import timed_work

    seq = meeting.sequence
    timed_work.plan(session, WorkKind.MEETING_INVITE, timed_work.meeting_key(meeting.id, f"invite-{seq}"),
                    due_at=now + LINK_WAIT, args=[meeting.id, seq])


def assign_links(session: Session, events: Iterable[DomainEvent]) -> None:
    """Before a booking (or move) commits: give a video meeting that the organizer's calendar
    will not make a link for the program's template link. Runs with the timed-work planner, so
    the invitation planned in the same transaction already carries it."""
    for ev in events:
        if not isinstance(ev, MeetingScheduled | MeetingRescheduled):
            continue
        meeting = session.get(Meeting, ev.meeting_id)
        if meeting is None or meeting.video_url or not wants_link(meeting):
            continue
        if organizer_provider(session, meeting) in LINK_MAKING_PROVIDERS:
            continue  # the worker stores the Meet / Teams link when it writes the event
        meeting.video_url = template_link(meeting)
