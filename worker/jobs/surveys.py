"""Jobs of the survey after a meeting: the invitation, then the reminders it plans."""

from __future__ import annotations

from scheduling import notices, timed_work
from scheduling.db import utcnow
from scheduling.loading import meeting_for_notice
from scheduling.models import MeetingState, Person
from scheduling.services import surveys
from worker import runtime
from worker.jobs.notices import send_once


def invite_survey(meeting_id: int, end: str | None = None) -> int:
    """Invite both people to the survey (HELD, or CANCELED if the meeting was called off)
    and plan its reminders. ``end``: the end time the row was planned for; a held meeting
    that moved since waits for its own row."""
    with runtime.session_scope() as db:
        meeting = meeting_for_notice(db, meeting_id)
        if meeting is None or meeting.state in (MeetingState.COMPLETED, MeetingState.NOT_HELD):
            return 0  # finished by the survey already (or gone)
        if meeting.state != MeetingState.CANCELED and end is not None and meeting.end_at.isoformat() != end:
            return 0
        now = utcnow()
        invitations = surveys.invite(db, meeting, now=now)
        timed_work.plan_survey_reminders(db, meeting, invited_at=now)
        db.commit()
        sent = 0
        for invitation in invitations:
            if invitation.answered_at is not None:
                continue
            person = db.get(Person, invitation.person_id)
            if person is None:
                continue
            notice = notices.survey_invite(invitation, meeting, person, runtime.base_url())
            sent += send_once(f"survey-{invitation.id}-invite", notice)
        return sent


def remind_survey(meeting_id: int, round: int) -> int:
    """Reminder number ``round`` to whoever has not answered the survey yet."""
    with runtime.session_scope() as db:
        meeting = meeting_for_notice(db, meeting_id)
        if meeting is None:
            return 0
        sent = 0
        for invitation in surveys.unanswered(db, meeting):
            if invitation.reminders_sent >= round:
                continue  # this round went out already
            person = db.get(Person, invitation.person_id)
            if person is None:
                continue
            runtime.mailer().send(
                notices.survey_invite(invitation, meeting, person, runtime.base_url(), reminder=True))
            invitation.reminders_sent = round
            db.commit()
            sent += 1
        return sent
