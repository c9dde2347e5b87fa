"""A meeting as a calendar event: the one :class:`EventSpec` both the calendar write
(``worker.calendar_jobs``) and the iTIP email (``scheduling.notices``) send, so a calendar
reached either way shows the same summary, description and times."""

from __future__ import annotations

from calendars.base import Attendee, EventSpec
from scheduling.models import Meeting, Person


def meeting_event(
    meeting: Meeting, *, owner: Person, attendees: tuple[Person, ...], make_link: bool = False
) -> EventSpec:
    """The provider-neutral event for ``meeting`` as ``owner`` organizes it, inviting ``attendees``.

    The UID is the meeting's and SEQUENCE its ``sequence``, so calendars update in place. The
    join link, once known, is in the description and the event's link/location; ``make_link``
    asks the provider to make one (the organizer's Google or Microsoft calendar, see
    :mod:`scheduling.video`).
    """
    mentor, mentee = meeting.mentor, meeting.mentee
    lines = [
        f"Flash mentoring: {meeting.topic}",
        f"Mentor: {mentor.name}",
        f"Mentee: {mentee.name}",
        f"Mode: {meeting.mode.value}",
    ]
    if meeting.location:
        lines.append(f"Where: {meeting.location}")
    if meeting.video_url:
        lines.append(f"Join the video call: {meeting.video_url}")
    return EventSpec(
        uid=meeting.uid,
        summary=f"Flash mentoring: {meeting.topic}",
        description="\n".join(lines),
        start=meeting.start_at,
        end=meeting.end_at,
        organizer=Attendee(owner.email, owner.name),
        attendees=tuple(Attendee(p.email, p.name, _answer(meeting, p)) for p in attendees),
        location=meeting.location,
        sequence=meeting.sequence,
        video_url=meeting.video_url,
        online_meeting=make_link,
    )


def _answer(meeting: Meeting, person: Person) -> str:
    """The mentee's answer to this version of the meeting as the app holds it (her iTIP REPLY by
    mail), as a PARTSTAT; a new time resets it (``meetings.reschedule``)."""
    if person.id == meeting.mentee_id and meeting.mentee_answer is not None:
        return meeting.mentee_answer.value.upper()
    return ""
