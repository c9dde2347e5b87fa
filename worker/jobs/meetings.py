"""Jobs of accepted meetings: calendar events on both sides, the iTIP invitation, and the
reminder before the meeting."""

from __future__ import annotations

import logging
from collections.abc import Callable

from scheduling import notices, reply_address, video
from scheduling.db import utcnow
from scheduling.models import ACTIVE_MEETING_STATES, Meeting, MeetingState, Person
from worker import calendar_jobs, runtime
from worker.jobs.notices import send_all

log = logging.getLogger(__name__)


def send_meeting_invite(meeting_id: int, sequence: int) -> int:
    """The iTIP email for version ``sequence`` of the meeting (REQUEST, or CANCEL when canceled).

    A newer version supersedes this one: when the meeting's sequence moved on, its
    own row sends the newer invitation and this one does nothing.
    """
    with runtime.session_scope() as db:
        meeting = db.get(Meeting, meeting_id)
        if meeting is None or meeting.sequence != sequence:
            return 0
        if meeting.state not in (*ACTIVE_MEETING_STATES, MeetingState.CANCELED):
            return 0
        if video.invitation_waits(db, meeting):  # the Meet / Teams link is on its way
            video.defer_invitation(db, meeting, now=utcnow())
            db.commit()
            return 0
        itip = calendar_jobs.itip_methods(db, meeting)
        items = notices.meeting_invite(
            meeting, runtime.base_url(), stamp=utcnow(), itip=itip, reply_address=_reply_address(meeting_id)
        )
        return send_all(items, lambda n: f"meeting-{meeting_id}-invite-{sequence}-{n.to[0]}")


def _reply_address(meeting_id: int) -> Callable[[Person], str] | None:
    """Who-answers-where for the invitation when answers by mail are read (``ITIP_REPLY_MAILBOX``).

    A mailbox or keys that cannot sign are logged and the invitation names the mentor as before:
    it still goes out, and the mentee can still answer on the meeting page."""
    mailbox = runtime.settings().get("ITIP_REPLY_MAILBOX")
    if not mailbox:
        return None
    try:
        reply_address.address_for(mailbox, meeting_id, 0)
    except (ValueError, reply_address.ReplyKeysMissing) as exc:
        log.error("invitation for meeting %s names the mentor, not a reply address: %s", meeting_id, exc)
        return None
    return lambda person: reply_address.address_for(mailbox, meeting_id, person.id)


def write_calendar(meeting_id: int, answers: bool = False) -> dict[str, list[int]]:
    """Bring the meeting's calendar events up to date (create, update or cancel); ``answers``:
    the mentee answered by mail, so the copies that show her answer are written again."""
    with runtime.session_scope() as db:
        result = calendar_jobs.write_meeting_events(meeting_id, session=db, answers=answers)
    return {"created": result.created, "updated": result.updated, "canceled": result.canceled}


def cancel_calendar(meeting_id: int) -> dict[str, list[int]]:
    with runtime.session_scope() as db:
        result = calendar_jobs.cancel_meeting_events(meeting_id, session=db)
    return {"canceled": result.canceled}


def remind_action_plan(meeting_id: int, recorded_at: str) -> int:
    """The agreed action plan, reminded to both sides, if it is still the plan recorded at
    ``recorded_at`` (ISO, UTC); a rewritten plan has its own re-timed row."""
    with runtime.session_scope() as db:
        meeting = db.get(Meeting, meeting_id)
        if (meeting is None or not meeting.action_plan or meeting.action_plan_at is None
                or meeting.action_plan_at.isoformat() != recorded_at):
            return 0
        items = notices.action_plan_reminder(meeting, runtime.base_url())
        return send_all(items, lambda n: f"meeting-{meeting_id}-action-plan-{recorded_at}-{n.to[0]}")


def remind_meeting(meeting_id: int, start: str) -> int:
    """The reminder before the meeting, if it is still on at ``start`` (ISO, UTC)."""
    with runtime.session_scope() as db:
        meeting = db.get(Meeting, meeting_id)
        if meeting is None or not meeting.is_active or meeting.start_at.isoformat() != start:
            return 0
        items = notices.meeting_reminder(meeting, runtime.base_url())
        return send_all(items, lambda n: f"meeting-{meeting_id}-reminder-{start}-{n.to[0]}")
