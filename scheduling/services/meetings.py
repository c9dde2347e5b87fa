"""The meeting lifecycle: scheduled -> rescheduled* -> completed | not_held, or canceled.

Changes come from people (cancel, reschedule), from the survey (complete,
mark_not_held) and from calendars (:func:`apply_calendar_change`, called by the
change-detection job). ``sequence`` counts the versions sent to calendars (iTIP
SEQUENCE): every change the other side must learn of bumps it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from scheduling.availability import check_bookable
from scheduling.errors import InvalidTransition, MeetingOverlap, NotParticipant, ValidationFailed
from scheduling.events import MeetingCanceled, MeetingFinished, MeetingRescheduled, record
from scheduling.locks import lock_people, lock_row
from scheduling.models import ACTIVE_MEETING_STATES, Meeting, MeetingState, Person
from scheduling.services.limits import check_meeting_limits, check_mentor_cap
from scheduling.services.requests import find_overlapping_meeting
from scheduling.services.transaction import retry_lost_races, unit_of_work
from scheduling.services.validation import current_time, text, time_range

REASON_MAX = 2000
CALENDAR_CHANGE_KINDS = ("moved", "canceled", "declined", "updated")
FINISHED_STATES = (MeetingState.COMPLETED, MeetingState.NOT_HELD)


def is_participant(meeting: Meeting, person: Person) -> bool:
    return person.id in (meeting.mentor_id, meeting.mentee_id)


def allowed_actions(meeting: Meeting, viewer: Person, *, now: datetime | None = None) -> list[str]:
    """What ``viewer`` may still do: nothing once the meeting is over (its survey says what happened)."""
    if meeting.is_active and (is_participant(meeting, viewer) or viewer.is_admin) \
            and current_time(now) < meeting.end_at:
        return ["cancel", "reschedule"]
    return []


@retry_lost_races
def cancel(
    session: Session,
    meeting: Meeting,
    *,
    actor: Person | None,
    reason: str = "",
    now: datetime | None = None,
) -> Meeting:
    """Call the meeting off (``actor=None``: the system, e.g. a calendar decline)."""
    now = current_time(now)
    with unit_of_work(session):
        _require_participant_or_admin(meeting, actor, "cancel")
        _lock(session, meeting)
        _require_active(meeting, "cancel")
        _require_not_over(meeting, actor, now, "cancel")
        reason = text(reason, "reason", max_length=REASON_MAX)
        _cancel(session, meeting, actor, reason)
        session.commit()
    return meeting


@retry_lost_races
def reschedule(
    session: Session,
    meeting: Meeting,
    *,
    actor: Person | None,
    start: datetime,
    end: datetime,
    now: datetime | None = None,
) -> Meeting:
    """Move to another bookable time (same rules as booking, not clashing with itself)."""
    now = current_time(now)
    with unit_of_work(session):
        _require_participant_or_admin(meeting, actor, "reschedule")
        start, end = time_range(start, end, "start")
        _lock(session, meeting)
        _require_active(meeting, "reschedule")
        _require_not_over(meeting, actor, now, "move")
        if (start, end) == (meeting.start_at, meeting.end_at):
            session.commit()  # already there: nothing to change, nothing to tell anyone
            return meeting
        check_bookable(
            session,
            meeting.request.program,
            meeting.mentor,
            meeting.mentee,
            start,
            end,
            now=now,
            exclude_meeting_id=meeting.id,
        )
        clash = find_overlapping_meeting(
            session, (meeting.mentor_id, meeting.mentee_id), start, end, exclude_meeting_id=meeting.id
        )
        if clash is not None:
            raise MeetingOverlap("One of you already has a meeting at that time.", "start")
        check_meeting_limits(
            session,
            meeting.request.program,
            meeting.mentee,
            start,
            exclude_meeting_id=meeting.id,
            field="start",
        )
        check_mentor_cap(session, meeting.mentor, start, exclude_meeting_id=meeting.id, field="start")
        _move(session, meeting, start, end)
        session.commit()
    return meeting


@retry_lost_races
def complete(
    session: Session, meeting: Meeting, *, actor: Person | None = None, now: datetime | None = None
) -> Meeting:
    """The meeting took place. Saying so again is a no-op (both sides answer the survey)."""
    return _finish(session, meeting, MeetingState.COMPLETED, actor, current_time(now))


@retry_lost_races
def mark_not_held(
    session: Session, meeting: Meeting, *, actor: Person | None = None, now: datetime | None = None
) -> Meeting:
    """The meeting did not take place; it no longer counts toward the mentee's limits."""
    return _finish(session, meeting, MeetingState.NOT_HELD, actor, current_time(now))


@retry_lost_races
def apply_calendar_change(
    session: Session,
    meeting: Meeting,
    *,
    kind: str,
    start: datetime | None = None,
    end: datetime | None = None,
    note: str = "",
) -> bool:
    """Bring the meeting in line with what someone did to its event in their calendar.

    ``canceled``/``declined`` cancel it (``note`` becomes the reason); ``moved`` moves
    it without availability checks (the person chose the time in their own
    calendar); ``updated`` changes nothing. Replaying a change is a no-op, so a
    retried sync job changes nothing more. Returns whether anything changed.
    """
    kind = str(kind)
    if kind not in CALENDAR_CHANGE_KINDS:
        raise ValidationFailed(f"Unknown calendar change {kind!r}.", "kind")
    with unit_of_work(session):
        _lock(session, meeting)
        if not meeting.is_active or kind == "updated":
            session.commit()  # ends the transaction (and releases the row lock)
            return False
        if kind in ("canceled", "declined"):
            default = "Declined in calendar." if kind == "declined" else "Removed from calendar."
            _cancel(session, meeting, None, text(note, "note", max_length=REASON_MAX) or default)
        else:
            if start is None or end is None:
                raise ValidationFailed("A moved event needs its new start and end.", "start")
            start, end = time_range(start, end, "start")
            if (start, end) == (meeting.start_at, meeting.end_at):
                session.commit()
                return False
            _move(session, meeting, start, end)
        session.commit()
    return True


# --- helpers ------------------------------------------------------------------------------------


def _require_participant_or_admin(meeting: Meeting, actor: Person | None, verb: str) -> None:
    if actor is None or actor.is_admin or is_participant(meeting, actor):
        return
    raise NotParticipant(f"Only the mentor, the mentee or an admin can {verb} this meeting.")


def _require_active(meeting: Meeting, verb: str) -> None:
    if meeting.state not in ACTIVE_MEETING_STATES:
        raise InvalidTransition(f"Cannot {verb} a meeting that is {meeting.state.value}.")


def _require_not_over(meeting: Meeting, actor: Person | None, now: datetime, verb: str) -> None:
    """People change meetings before they end; afterwards the survey records what happened."""
    if actor is not None and now >= meeting.end_at:
        raise InvalidTransition(
            f"This meeting is over, so you cannot {verb} it; say in its survey whether it took place."
        )


def calendar_decline_reason(person: Person) -> str:
    """The cancel reason of a meeting someone declined from their calendar (connected or by mail)."""
    return f"{person.name} declined the meeting in their calendar."


def lock_meeting(session: Session, meeting: Meeting) -> None:
    """:func:`_lock` for services of their own about one meeting (``meeting_answers``)."""
    _lock(session, meeting)


def cancel_unchecked(session: Session, meeting: Meeting, actor: Person | None, reason: str) -> None:
    """Cancel a locked, active meeting the caller has checked (``actor=None``: from a calendar)."""
    _cancel(session, meeting, actor, text(reason, "reason", max_length=REASON_MAX))


def _lock(session: Session, meeting: Meeting) -> None:
    """Lock both people, then the meeting (the order of ``scheduling.locks``), and re-read it,
    so concurrent changes to it, and bookings of the same people, apply one after the other."""
    lock_people(session, meeting.mentor_id, meeting.mentee_id)
    lock_row(session, meeting)


def _cancel(session: Session, meeting: Meeting, actor: Person | None, reason: str) -> None:
    meeting.state = MeetingState.CANCELED
    meeting.canceled_by_id = actor.id if actor is not None else None
    meeting.cancel_reason = reason
    meeting.sequence += 1
    session.flush()
    record(session, MeetingCanceled(meeting.id))


def _move(session: Session, meeting: Meeting, start: datetime, end: datetime) -> None:
    meeting.start_at = start
    meeting.end_at = end
    meeting.state = MeetingState.RESCHEDULED
    meeting.sequence += 1
    meeting.mentee_answer = None  # a new time asks again (RFC 5546)
    meeting.mentee_answered_at = None
    session.flush()
    record(session, MeetingRescheduled(meeting.id))


def _finish(
    session: Session, meeting: Meeting, target: MeetingState, actor: Person | None, now: datetime
) -> Meeting:
    verb = "complete" if target == MeetingState.COMPLETED else "mark as not held"
    with unit_of_work(session):
        _require_participant_or_admin(meeting, actor, verb)
        _lock(session, meeting)
        if meeting.state == target:
            session.commit()
            return meeting
        _require_active(meeting, verb)
        if now < meeting.start_at:
            raise InvalidTransition(f"Cannot {verb} a meeting that has not started yet.")
        meeting.state = target
        session.flush()
        record(session, MeetingFinished(meeting.id))
        session.commit()
    return meeting
