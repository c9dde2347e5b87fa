"""The mentee's answer to the app's invitation, as her calendar sent it (an iTIP REPLY by mail).

People without a connected calendar get the meeting as a ``METHOD:REQUEST`` mail; their
calendar client answers ACCEPTED, TENTATIVE or DECLINED. A decline cancels the meeting exactly
as a decline read from a connected calendar does (:func:`meetings.apply_calendar_change`: no
actor, the same reason, the same notices and report); tentative is kept on the meeting and
the mentor is told; accepted is kept. Who sent it and to which address is checked by the
caller (``worker.inbound_mail``); the rules about the meeting are checked here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from scheduling import timed_work
from scheduling.errors import InvalidTransition, NotParticipant
from scheduling.models import AttendeeAnswer, Meeting, NotificationKind, Person, WorkKind
from scheduling.notifications import notify
from scheduling.services.meetings import calendar_decline_reason, cancel_unchecked, lock_meeting
from scheduling.services.transaction import retry_lost_races, unit_of_work
from scheduling.services.validation import current_time


@retry_lost_races
def answer_invitation(
    session: Session,
    meeting: Meeting,
    person: Person,
    *,
    answer: AttendeeAnswer,
    sequence: int,
    stamp: datetime,
    now: datetime | None = None,
) -> bool:
    """Apply ``person`` 's answer to version ``sequence`` of the meeting, sent at ``stamp``.

    Refused (:class:`~scheduling.errors.DomainError`, nothing changed): not the mentee's, the
    meeting is no longer on or already over, or the answer is to another version (a reply to
    the old time must not cancel the new one). An answer older than the one kept changes
    nothing (mail can arrive out of order); returns whether anything changed.
    """
    now = current_time(now)
    with unit_of_work(session):
        if person.id != meeting.mentee_id:
            raise NotParticipant("Only the invited mentee answers this meeting's invitation.")
        lock_meeting(session, meeting)
        if not meeting.is_active:
            raise InvalidTransition(f"The meeting is {meeting.state.value}; the answer comes too late.")
        if now >= meeting.end_at:
            raise InvalidTransition("The meeting is over; its survey says whether it took place.")
        if sequence != meeting.sequence:
            raise InvalidTransition(
                f"The answer is to version {sequence} of the meeting, which is at version {meeting.sequence}."
            )
        last = meeting.mentee_answered_at
        if last is not None and (stamp < last or (stamp == last and answer == meeting.mentee_answer)):
            session.commit()  # an older answer, or this one again (DTSTAMP has whole seconds)
            return False
        meeting.mentee_answer = answer
        meeting.mentee_answered_at = stamp
        if answer == AttendeeAnswer.DECLINED:
            cancel_unchecked(session, meeting, None, calendar_decline_reason(person))
        else:
            if answer == AttendeeAnswer.TENTATIVE:
                title = f"{person.name} answered “maybe”: {meeting.topic}"
                link = f"/meetings/{meeting.id}"
                notify(session, meeting.mentor_id, NotificationKind.MEETING, title, link=link, now=now)
            # The mentor's calendar copy shows her answer (CalDAV; the providers record it themselves).
            version = f"calendar-{meeting.sequence}-answer-{int(stamp.timestamp())}"
            key = timed_work.meeting_key(meeting.id, version)
            timed_work.plan(session, WorkKind.CALENDAR_WRITE, key, due_at=now, args=[meeting.id, True])
        session.commit()
    return True
