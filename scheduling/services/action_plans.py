"""The meeting closes with an agreed next step (seed 001 practice).

After the meeting either side writes down the action plan they agreed on; both see it
on the meeting page, the other side gets a notification, and both are reminded of it
the program's ``action_plan_reminder_days`` later (timed work planned from
:class:`~scheduling.events.ActionPlanRecorded`, see :mod:`scheduling.timed_work`).
Rewriting the plan re-times that one reminder.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from scheduling import notifications
from scheduling.errors import InvalidTransition, NotParticipant, ValidationFailed
from scheduling.events import ActionPlanRecorded, record
from scheduling.locks import lock_people, lock_row
from scheduling.models import Meeting, MeetingState, NotificationKind, Person
from scheduling.services.transaction import retry_lost_races, unit_of_work
from scheduling.services.validation import current_time, text

PLAN_MAX = 4000


def may_record(meeting: Meeting, now: datetime) -> bool:
    """A plan follows a meeting that took place: not before its end, not when canceled or not held."""
    if meeting.state in (MeetingState.CANCELED, MeetingState.NOT_HELD):
        return False
    return meeting.state == MeetingState.COMPLETED or meeting.end_at <= now


@retry_lost_races
def record_plan(
    session: Session, meeting: Meeting, actor: Person, plan: str, *, now: datetime | None = None
) -> Meeting:
    """Either participant records (or rewrites) the agreed next step after the meeting."""
    now = current_time(now)
    if actor.id not in (meeting.mentor_id, meeting.mentee_id):
        raise NotParticipant("You were not part of this meeting.")
    cleaned = text(plan, "action_plan", max_length=PLAN_MAX)
    if not cleaned:
        raise ValidationFailed("Write down the next step you agreed on.", "action_plan")
    with unit_of_work(session):
        lock_people(session, meeting.mentor_id, meeting.mentee_id)
        lock_row(session, meeting)
        if not may_record(meeting, now):
            if meeting.state in (MeetingState.CANCELED, MeetingState.NOT_HELD):
                raise InvalidTransition(
                    f"The meeting was {meeting.state.value.replace('_', ' ')}; there is no plan to agree on.",
                    "action_plan")
            raise InvalidTransition("Record the action plan after the meeting has taken place.",
                                    "action_plan")
        meeting.action_plan = cleaned
        meeting.action_plan_by_id = actor.id
        meeting.action_plan_at = now
        other = meeting.mentee_id if actor.id == meeting.mentor_id else meeting.mentor_id
        notifications.notify(session, other, NotificationKind.FOLLOW_UP,
                             f"{actor.name} recorded the action plan of “{meeting.topic}”",
                             body=cleaned[:500], link=f"/meetings/{meeting.id}", now=now)
        record(session, ActionPlanRecorded(meeting.id))
        session.commit()
    return meeting
