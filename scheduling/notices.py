"""What the program tells people, composed once per recipient.

Each :class:`Notice` goes to one person so every time in it is shown in that
person's own zone. Text and HTML come from the same paragraphs, so the two parts
never say different things. Meeting notices carry an iTIP invitation
(``METHOD:REQUEST``, or ``METHOD:CANCEL`` once the meeting is off) built with
:func:`calendars.ical.build_event`, the same VEVENT the calendar connectors write,
so a calendar without a connector still gets the meeting and its updates (SEQUENCE).

Nothing here sends anything: :mod:`worker.mail` does.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import icalendar

from calendars.ical import build_event, zone
from scheduling import meeting_links
from scheduling.calendar_event import meeting_event
from scheduling.models import (
    Meeting,
    MeetingRequest,
    MeetingState,
    Person,
    RequestState,
    SurveyInvitation,
    SurveyVariant,
)
from scheduling.services.requests import answerer_id, counter_time, initiator_id, initiator_times
from scheduling.terms import terms_of

REQUEST = "REQUEST"
CANCEL = "CANCEL"


@dataclass(frozen=True)
class Notice:
    """One message to one recipient."""

    to: list[str]
    subject: str
    text: str
    html: str
    ics: bytes | None = None
    ics_method: str | None = None  # REQUEST | CANCEL when ``ics`` is set
    reply_to: str | None = None  # where the recipient's calendar answers (scheduling.reply_address)


# --- times in the reader's zone ------------------------------------------------------------------


def local_time(value: datetime, person: Person) -> datetime:
    return value.astimezone(zone(person.time_zone))


def format_when(start: datetime, end: datetime | None, person: Person) -> str:
    """``Wednesday 9 January 2030, 11:00-11:30 CET (Europe/Berlin)`` in ``person``'s zone."""
    s = local_time(start, person)
    text = f"{s:%A} {s.day} {s:%B %Y}, {s:%H:%M}"
    if end is not None:
        e = local_time(end, person)
        text += f"-{e:%H:%M}" if e.date() == s.date() else f" - {e:%A} {e.day} {e:%B %Y}, {e:%H:%M}"
    tz = s.tzinfo
    name = person.time_zone if isinstance(tz, ZoneInfo) else "UTC"
    return f"{text} {s.tzname()} ({name})"


# --- composing ------------------------------------------------------------------------------------


def _greeting(person: Person, about: MeetingRequest | Meeting | None) -> str:
    """'Hello Ada (Learner, Flash mentoring),': the person's side in the program's own terms."""
    if about is None or person.id not in (about.mentee_id, about.mentor_id):
        return f"Hello {person.name},"
    program = about.program if isinstance(about, MeetingRequest) else about.request.program
    terms = terms_of(program)
    side = terms.Mentor if person.id == about.mentor_id else terms.Mentee
    return f"Hello {person.name} ({side}, {program.name}),"


def _compose(
    person: Person,
    subject: str,
    paragraphs: list[str],
    *,
    link: tuple[str, str] | None = None,
    ics: bytes | None = None,
    ics_method: str | None = None,
    reply_to: str | None = None,
    about: MeetingRequest | Meeting | None = None,
) -> Notice:
    greeting = _greeting(person, about)
    text_parts = [greeting, *paragraphs]
    html_parts = [f"<p>{html.escape(greeting)}</p>"]
    html_parts += [f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs]
    if link is not None:
        label, url = link
        text_parts.append(f"{label}: {url}")
        html_parts.append(f'<p><a href="{html.escape(url, quote=True)}">{html.escape(label)}</a></p>')
    text_parts.append("— Flashmentor")
    html_parts.append("<p>— Flashmentor</p>")
    body = "\n\n".join(text_parts) + "\n"
    page = (
        '<!doctype html><html><body style="font-family: sans-serif">'
        + "".join(html_parts)
        + "</body></html>"
    )
    return Notice([person.email], subject, body, page, ics, ics_method, reply_to)


def _url(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + path


def _request_link(base_url: str, request: MeetingRequest) -> tuple[str, str]:
    return ("Open the request", _url(base_url, f"/requests/{request.id}"))


def _times_list(request: MeetingRequest, person: Person) -> str:
    return "\n".join(f"• {format_when(p.start_at, p.end_at, person)}" for p in initiator_times(request))


# --- requests -------------------------------------------------------------------------------------


def request_created(request: MeetingRequest, base_url: str) -> list[Notice]:
    """To the person asked: who asks, about what, and the proposed times."""
    asker = request.mentee if initiator_id(request) == request.mentee_id else request.mentor
    asked = request.mentor if answerer_id(request) == request.mentor_id else request.mentee
    paragraphs = [
        f"{asker.name} asks you for a flash mentoring meeting about “{request.topic}”.",
        "Proposed times:\n" + _times_list(request, asked),
    ]
    if request.description:
        paragraphs.insert(1, request.description)
    if request.skill is not None:
        paragraphs.insert(-1, f"Skill: {request.skill.name}")
    if request.goals:
        paragraphs.insert(-1, f"{request.mentee.name}'s goals for the meeting:\n{request.goals}")
    return [
        _compose(
            asked,
            f"Meeting request from {asker.name}: {request.topic}",
            paragraphs,
            link=_request_link(base_url, request), about=request)
    ]


def request_reminder(request: MeetingRequest, base_url: str) -> list[Notice]:
    """To the person asked, while the request is still waiting for them."""
    asker = request.mentee if initiator_id(request) == request.mentee_id else request.mentor
    asked = request.mentor if answerer_id(request) == request.mentor_id else request.mentee
    since = format_when(request.created_at, None, asked)
    paragraphs = [
        f"{asker.name} is still waiting for your answer to their request “{request.topic}” (sent {since}).",
        "Proposed times:\n" + _times_list(request, asked),
        "Please accept, suggest another time or decline.",
    ]
    return [
        _compose(asked, f"Reminder: {asker.name} is waiting for your answer", paragraphs,
                 link=_request_link(base_url, request), about=request)
    ]


def request_answered(request: MeetingRequest, base_url: str) -> list[Notice]:
    """The other side learns what happened to the request (accepted, countered, declined,
    withdrawn, expired). An accepted request's meeting invite follows separately."""
    initiator = request.mentee if initiator_id(request) == request.mentee_id else request.mentor
    answerer = request.mentor if answerer_id(request) == request.mentor_id else request.mentee
    state = request.state
    topic = request.topic
    link = _request_link(base_url, request)
    mentor_term = terms_of(request.program).mentor
    if state == RequestState.ACCEPTED:
        meeting = request.meeting
        when = format_when(meeting.start_at, meeting.end_at, initiator) if meeting else ""
        return [
            _compose(
                initiator,
                f"Accepted: {topic}",
                [f"{answerer.name} accepted your request “{topic}”.", f"When: {when}"],
                link=link, about=request)
        ]
    if state == RequestState.COUNTERED:
        proposal = counter_time(request)
        when = format_when(proposal.start_at, proposal.end_at, initiator) if proposal else ""
        return [
            _compose(
                initiator,
                f"Another time suggested: {topic}",
                [
                    f"{answerer.name} would meet about “{topic}”, but at another time: {when}.",
                    "Confirm the new time or withdraw the request.",
                ],
                link=link, about=request)
        ]
    if state == RequestState.DECLINED:
        reason = request.decline_reason.value.replace("_", " ") if request.decline_reason else ""
        paragraphs = [f"{answerer.name} declined your request “{topic}”.", f"Reason: {reason}."]
        if request.decline_message:
            paragraphs.append(f"Their message: {request.decline_message}")
        paragraphs.append(f"You can ask another {mentor_term}.")
        return [_compose(initiator, f"Declined: {topic}", paragraphs, link=link, about=request)]
    if state == RequestState.WITHDRAWN:
        return [
            _compose(
                answerer,
                f"Withdrawn: {topic}",
                [f"{initiator.name} withdrew the request “{topic}”. Nothing more to do."],
                link=link, about=request)
        ]
    if state == RequestState.EXPIRED:
        return [
            _compose(
                initiator,
                f"Closed without an answer: {topic}",
                [
                    f"Your request “{topic}” to {answerer.name} was closed because it was not "
                    "answered in time.",
                    f"You can ask again or choose another {mentor_term}.",
                ],
                link=link, about=request),
            _compose(
                answerer,
                f"Closed: {topic}",
                [f"The request “{topic}” from {initiator.name} was closed without an answer."],
                link=link, about=request),
        ]
    return []


# --- meetings -------------------------------------------------------------------------------------


def meeting_ics(
    meeting: Meeting,
    *,
    stamp: datetime | None = None,
    method: str | None = None,
    reply_to: str | None = None,
) -> tuple[bytes, str]:
    """The iTIP message for the meeting as it is now: REQUEST, or CANCEL once it is canceled
    (``method`` overrides: PUBLISH for an organizer whose calendar the app cannot write).

    The mentor organizes and the mentee is invited, as in the mentor's calendar: the same
    event the calendar write sends (:func:`scheduling.calendar_event.meeting_event`).
    ``reply_to``: the ORGANIZER's address becomes this one (still with the mentor's name), so
    the attendee's calendar sends its REPLY to the app; the mentor stays a CHAIR attendee.
    """
    canceled = meeting.state == MeetingState.CANCELED
    method = method or (CANCEL if canceled else REQUEST)
    spec = meeting_event(meeting, owner=meeting.mentor, attendees=(meeting.mentee,))
    cal = build_event(spec, status="CANCELLED" if canceled else "CONFIRMED", stamp=stamp)
    cal.add("METHOD", method)
    if reply_to:
        event = cal.walk("VEVENT")[0]
        organizer = icalendar.vCalAddress(f"mailto:{reply_to}")
        organizer.params["CN"] = icalendar.vText(meeting.mentor.name)
        event["ORGANIZER"] = organizer
    return cal.to_ical(), method


CALENDAR_HAS_IT = "Your calendar has it (or its invitation)."


MEETING_LINK = "Open the meeting (reschedule or cancel there)"  # one click: signed in (meeting_links)


def _where(meeting: Meeting) -> list[str]:
    """Where the meeting is: its location, and the video call's link made for it."""
    lines = [f"Where: {meeting.location}"] if meeting.location else []
    if meeting.video_url:
        lines.append(f"Join the video call: {meeting.video_url}")
    return lines


def meeting_invite(
    meeting: Meeting,
    base_url: str,
    *,
    stamp: datetime | None = None,
    itip: Mapping[int, str] | None = None,
    reply_address: Callable[[Person], str] | None = None,
) -> list[Notice]:
    """The meeting (new, moved or canceled), to both people.

    ``itip`` maps person id to the METHOD of the iCalendar part their mail carries; people
    not in it get the words only (their calendar has the event already, or a provider sent
    the invitation: one invitation per person). None: everyone gets the meeting's
    REQUEST/CANCEL (callers that know no calendars). ``reply_address`` (when the app reads
    answers by mail) gives the invited mentee's signed address: her invitation's ORGANIZER
    and the mail's Reply-To, so her calendar's REPLY reaches ``worker.inbound_mail``."""
    _, method = meeting_ics(meeting, stamp=stamp)
    notices = []
    for person, other in ((meeting.mentor, meeting.mentee), (meeting.mentee, meeting.mentor)):
        own = method if itip is None else itip.get(person.id)
        reply_to = reply_address(person) if reply_address and own and person.id == meeting.mentee_id else None
        ics = meeting_ics(meeting, stamp=stamp, method=own, reply_to=reply_to)[0] if own else None
        when = format_when(meeting.start_at, meeting.end_at, person)
        where = _where(meeting)
        if method == CANCEL:
            subject = f"Canceled: {meeting.topic} with {other.name}"
            paragraphs = [f"The meeting with {other.name} on {when} is canceled."]
            if meeting.cancel_reason:
                paragraphs.append(f"Reason: {meeting.cancel_reason}")
        elif meeting.sequence > 0:
            subject = f"Moved: {meeting.topic} with {other.name}"
            paragraphs = [f"Your meeting with {other.name} about “{meeting.topic}” is now on {when}.", *where]
        else:
            subject = f"Meeting: {meeting.topic} with {other.name}"
            paragraphs = [
                f"Your flash mentoring meeting with {other.name} about “{meeting.topic}” is booked.",
                f"When: {when}",
                f"Mode: {meeting.mode.value.replace('_', ' ')}",
                *where,
                "The invitation is attached for your calendar." if ics else CALENDAR_HAS_IT,
            ]
        link = (MEETING_LINK, meeting_links.url(base_url, meeting, person))
        notices.append(
            _compose(person, subject, paragraphs, link=link, ics=ics, ics_method=own if ics else None,
                     reply_to=reply_to, about=meeting)
        )
    return notices


def meeting_reminder(meeting: Meeting, base_url: str) -> list[Notice]:
    notices = []
    for person, other in ((meeting.mentor, meeting.mentee), (meeting.mentee, meeting.mentor)):
        when = format_when(meeting.start_at, meeting.end_at, person)
        paragraphs = [f"Reminder: you meet {other.name} about “{meeting.topic}” on {when}.", *_where(meeting)]
        notices.append(
            _compose(
                person,
                f"Reminder: {meeting.topic} with {other.name}",
                paragraphs,
                link=(MEETING_LINK, meeting_links.url(base_url, meeting, person)),
                about=meeting)
        )
    return notices


def action_plan_reminder(meeting: Meeting, base_url: str) -> list[Notice]:
    """To both sides, some days after the meeting: the next step they agreed on."""
    notices = []
    for person, other in ((meeting.mentee, meeting.mentor), (meeting.mentor, meeting.mentee)):
        when = format_when(meeting.start_at, None, person)
        paragraphs = [
            f"After your meeting with {other.name} about “{meeting.topic}” ({when}) you agreed on this "
            "next step:",
            meeting.action_plan,
            "How is it going? You can update the plan or write to each other on the meeting page.",
        ]
        notices.append(_compose(person, f"Your action plan: {meeting.topic}", paragraphs,
                                link=("Open the meeting", _url(base_url, f"/meetings/{meeting.id}")),
                                about=meeting))
    return notices


# --- surveys --------------------------------------------------------------------------------------


def survey_url(base_url: str, invitation: SurveyInvitation) -> str:
    return _url(base_url, f"/surveys/{invitation.id}")


def survey_invite(
    invitation: SurveyInvitation, meeting: Meeting, person: Person, base_url: str, *, reminder: bool = False
) -> Notice:
    """The survey link; the canceled variant asks about the meeting that did not happen."""
    other = meeting.mentee if person.id == meeting.mentor_id else meeting.mentor
    when = format_when(meeting.start_at, meeting.end_at, person)
    if invitation.variant == SurveyVariant.CANCELED:
        subject = f"How did it go? The canceled meeting with {other.name}"
        paragraphs = [
            f"Your meeting with {other.name} about “{meeting.topic}” on {when} was canceled.",
            "Tell us in two minutes what happened, so the program can improve.",
        ]
    else:
        subject = f"How was your meeting with {other.name}?"
        paragraphs = [
            f"You had a flash mentoring meeting with {other.name} about “{meeting.topic}” on {when}.",
            "Did it take place? Tell us in two minutes how it went.",
        ]
    if reminder:
        subject = "Reminder: " + subject
        paragraphs.insert(0, "You have not answered this short survey yet.")
    return _compose(person, subject, paragraphs, link=("Answer the survey", survey_url(base_url, invitation)),
                    about=meeting)


# --- in-app notifications by email ------------------------------------------------------------------


def notification_email(person: Person, title: str, body: str, link: str, base_url: str) -> Notice:
    """One notification, emailed at once (the person's preference, or a mail the rules require)."""
    paragraphs = [title] + ([body] if body else [])
    return _compose(person, title, paragraphs, link=("Open", _url(base_url, link)) if link else None)


def notification_digest(person: Person, items: list[tuple[str, str]], base_url: str) -> Notice:
    """The day's notifications the person asked to get as one email: ``(title, link)`` each."""
    lines = "\n".join(f"• {title}" + (f" ({_url(base_url, link)})" if link else "") for title, link in items)
    subject = f"Your Flashmentor digest: {len(items)} update{'' if len(items) == 1 else 's'}"
    return _compose(person, subject, ["What happened since yesterday:", lines],
                    link=("All notifications", _url(base_url, "/notifications")))
