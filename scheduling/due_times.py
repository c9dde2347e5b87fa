"""When each timed rule of a program falls due: the one place that decides it.

Every function reads the program's settings and the thing's own times and returns an
aware UTC datetime, or None when the rule does not apply (switched off, or the thing
moved on). The planner (:mod:`scheduling.timed_work`) writes rows at these times; the
jobs check the same functions at run time, so a row from an older plan does nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from scheduling.models import Meeting, MeetingRequest, MeetingState, RequestState

SURVEY_REMINDER_DAYS = (1, 5)  # after the meeting: the next day, and five days later


def request_reminder_at(request: MeetingRequest) -> datetime | None:
    """The reminder to the person asked, X days after a request that is still pending."""
    days = request.program.remind_after_days
    if days is None or request.state != RequestState.PENDING:
        return None
    return request.created_at + timedelta(days=days)


def auto_close_at(request: MeetingRequest) -> datetime | None:
    """When an open request expires (N days). A countered request waits on the initiator,
    so its clock restarts at the counter."""
    days = request.program.auto_close_after_days
    if days is None or not request.is_open:
        return None
    since = request.answered_at if request.state == RequestState.COUNTERED else request.created_at
    return (since or request.created_at) + timedelta(days=days)


def holds_due_at(request: MeetingRequest, *, now: datetime, held: bool, wanted: bool) -> datetime | None:
    """When the request's holds in the mentor's calendar are brought in line: at once, when it
    should hold times (``wanted``) or still holds some (``held``); else never (nothing to do)."""
    return now if wanted or held else None


def meeting_reminder_at(meeting: Meeting) -> datetime | None:
    """The reminder before an active meeting (the program's hours before its start)."""
    hours = meeting.request.program.meeting_reminder_hours
    if not hours or not meeting.is_active:
        return None
    return meeting.start_at - timedelta(hours=hours)


def action_plan_reminder_at(meeting: Meeting) -> datetime | None:
    """The reminder of a meeting's agreed action plan to both sides, the program's days after
    it was (last) recorded; None without a plan or with the reminder switched off."""
    days = meeting.request.program.action_plan_reminder_days
    if not days or not meeting.action_plan or meeting.action_plan_at is None:
        return None
    return meeting.action_plan_at + timedelta(days=days)


def survey_at(meeting: Meeting, *, now: datetime) -> datetime:
    """The survey a few hours after the meeting ends; for a canceled meeting, that long
    after the cancellation (``now``)."""
    delay = timedelta(hours=meeting.request.program.survey_delay_hours)
    if meeting.state == MeetingState.CANCELED:
        return now + delay
    return meeting.end_at + delay


def survey_reminder_times(meeting: Meeting, *, invited_at: datetime) -> list[tuple[int, datetime]]:
    """(round, when) of the survey reminders: the day after and five days after the meeting
    (after the invitation, for a canceled meeting's survey); a time already past is skipped."""
    base = max(meeting.end_at, invited_at) if meeting.state == MeetingState.CANCELED else meeting.end_at
    out = []
    for round_, days in enumerate(SURVEY_REMINDER_DAYS, start=1):
        when = base + timedelta(days=days)
        if when > invited_at:
            out.append((round_, when))
    return out
