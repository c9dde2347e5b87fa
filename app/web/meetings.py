"""My meetings (as mentee or mentor): where and when, and cancel or move one.

A meeting's page also carries its request's message thread and, once the meeting is
over, what may follow it (see :mod:`app.web.conversations`). An admin may open the
page to read it; only the two people act on it here.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from app.auth import current_person, login
from app.db import db
from app.web import bp, conversation_views
from app.web.add_to_calendar import calendar_links, ics_response
from app.web.common import FormErrors, failed, iso, me, parse_utc, signed_in, span, zone_name
from scheduling import meeting_links, video
from scheduling.availability import bookable_slots
from scheduling.db import get_row, utcnow
from scheduling.errors import DomainError, NotFound, ValidationFailed
from scheduling.identity_providers import password_signin_allowed
from scheduling.models import Meeting, MeetingState, Person
from scheduling.services import meetings as svc

RESCHEDULE_DAYS = 14
RESCHEDULE_OPTIONS = 80
STATE_LABELS = {
    MeetingState.SCHEDULED: "Scheduled",
    MeetingState.RESCHEDULED: "Rescheduled",
    MeetingState.CANCELED: "Canceled",
    MeetingState.COMPLETED: "Took place",
    MeetingState.NOT_HELD: "Did not take place",
}


def visible_meeting(meeting_id: int, viewer: Person, *, admin_reads: bool = False) -> Meeting:
    """The meeting for one of its two people (and, with ``admin_reads``, an admin); 404 for anyone else."""
    meeting = get_row(db(), Meeting, meeting_id)
    if meeting is None or not (svc.is_participant(meeting, viewer) or (admin_reads and viewer.is_admin)):
        raise NotFound("No such meeting.")
    return meeting


def join_link(meeting: Meeting) -> str | None:
    """The video call's link: the one made for the meeting, else a web address given as location;
    none for a canceled meeting (there is no call to join)."""
    if meeting.state == MeetingState.CANCELED:
        return None
    return video.join_url(meeting) or None


@bp.get("/meetings")
@signed_in()
def meetings_list() -> Any:
    person = me()
    rows = list(db().scalars(
        select(Meeting)
        .options(selectinload(Meeting.mentee), selectinload(Meeting.mentor))
        .where(or_(Meeting.mentee_id == person.id, Meeting.mentor_id == person.id))
        .order_by(Meeting.start_at, Meeting.id)
    ))
    now = utcnow()
    upcoming = [m for m in rows if m.is_active and m.end_at > now]
    past = [m for m in rows if m not in upcoming]
    past.reverse()
    return render_template("web/meetings.html", me=person, upcoming=upcoming, past=past, states=STATE_LABELS,
                           join_link=join_link)


def reschedule_options(meeting: Meeting, viewer: Person) -> list[tuple[str, str]]:
    if not meeting.is_active:
        return []
    now = utcnow()
    slots = bookable_slots(db(), meeting.request.program, meeting.mentor, meeting.mentee, now,
                           now + timedelta(days=RESCHEDULE_DAYS))
    return [(iso(s.start), span(s.start, s.end, viewer)) for s in slots][:RESCHEDULE_OPTIONS]


def render_meeting(meeting: Meeting, person: Person, errors: FormErrors | None = None,
                   form: dict[str, Any] | None = None, status: int = 200) -> Any:
    participant = svc.is_participant(meeting, person)
    after = conversation_views.after_meeting(meeting, person)
    return render_template(
        "web/meeting.html", me=person, meeting=meeting, states=STATE_LABELS, join_link=join_link(meeting),
        actions=svc.allowed_actions(meeting, person) if participant else [],
        options=reschedule_options(meeting, person) if participant else [],
        errors=after.place(errors or FormErrors()), form=form or {}, zone=zone_name(person),
        thread=conversation_views.thread_for(meeting.request, person,
                                        url_for("web.meeting_message_post", meeting_id=meeting.id)),
        after=after, calendar_links=calendar_links(meeting) if participant else [],
    ), status


@bp.get("/meetings/<int:meeting_id>")
@signed_in()
def meeting_detail(meeting_id: int) -> Any:
    person = me()
    return render_meeting(visible_meeting(meeting_id, person, admin_reads=True), person)


@bp.get("/meetings/<int:meeting_id>/open")
def meeting_open(meeting_id: int) -> Any:
    """The one-click link of a meeting email (``scheduling.meeting_links``): signs its person in and
    opens the meeting page. Someone already signed in just goes to the page; a link that does not
    hold (or an SSO-only program) leads to the sign-in, which comes back to the page."""
    page = url_for("web.meeting_detail", meeting_id=meeting_id)
    if current_person() is not None:
        return redirect(page)
    session = db()
    try:
        person_id = meeting_links.person_of(request.args.get("t"), meeting_id, utcnow())
    except meeting_links.LinkInvalid as exc:
        flash(str(exc), "error")
        return redirect(url_for("web.signin", next=page))
    meeting = get_row(session, Meeting, meeting_id)
    person = session.get(Person, person_id)
    usable = (meeting is not None and person is not None and person.active
              and person_id in (meeting.mentor_id, meeting.mentee_id) and password_signin_allowed(session))
    if not usable or person is None:
        flash("Sign in to open the meeting.", "info")
        return redirect(url_for("web.signin", next=page))
    login(person)
    return redirect(page)


@bp.get("/meetings/<int:meeting_id>/meeting.ics")
@signed_in()
def meeting_ics_download(meeting_id: int) -> Any:
    """The meeting as an .ics file for one of its two people: the invitation's UID and SEQUENCE."""
    return ics_response(visible_meeting(meeting_id, me()))


def _act(meeting_id: int, action: Any, done: str, field_map: dict[str, str]) -> Any:
    person = me()
    meeting = visible_meeting(meeting_id, person)
    try:
        action(person, meeting)
    except DomainError as exc:
        failed(exc)
        meeting = visible_meeting(meeting_id, person)
        return render_meeting(meeting, person, FormErrors().add(exc, field_map), dict(request.form),
                     status=exc.status if exc.status < 500 else 422)
    flash(done, "info")
    return redirect(url_for("web.meeting_detail", meeting_id=meeting.id))


@bp.post("/meetings/<int:meeting_id>/cancel")
@signed_in()
def meeting_cancel(meeting_id: int) -> Any:
    def cancel(person: Person, meeting: Meeting) -> None:
        svc.cancel(db(), meeting, actor=person, reason=request.form.get("reason") or "")

    return _act(meeting_id, cancel, "Meeting canceled; both of you are told.", {"reason": "reason"})


@bp.post("/meetings/<int:meeting_id>/reschedule")
@signed_in()
def meeting_reschedule(meeting_id: int) -> Any:
    def move(person: Person, meeting: Meeting) -> None:
        raw = request.form.get("slot") or ""
        if not raw:
            raise ValidationFailed("Choose a new time.", "slot")
        start = parse_utc(raw, "slot")
        minutes = meeting.request.program.slot_minutes
        svc.reschedule(db(), meeting, actor=person, start=start, end=start + timedelta(minutes=minutes))

    return _act(meeting_id, move, "Meeting moved; both of you are told.", {"start": "slot"})
