"""Program limits on how much one mentee may ask for.

Months and years are the mentee's calendar months and years: a meeting at
23:30 on 31 January in Los Angeles counts for January there even though it is
February in UTC. Meetings that count are the active and completed ones; a
canceled or not-held meeting frees its place again.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduling.errors import (
    MentorCapReached,
    MonthlyLimitReached,
    PendingLimitReached,
    YearlyLimitReached,
)
from scheduling.models import (
    ACTIVE_MEETING_STATES,
    OPEN_REQUEST_STATES,
    Meeting,
    MeetingRequest,
    MeetingState,
    Person,
    Program,
)
from scheduling.zones import zone_of

COUNTED_MEETING_STATES = (*ACTIVE_MEETING_STATES, MeetingState.COMPLETED)


def month_bounds(moment: datetime, zone: tzinfo) -> tuple[datetime, datetime]:
    """[first instant of the month, first instant of the next month) of ``moment`` in ``zone``."""
    local = moment.astimezone(zone)
    start = datetime(local.year, local.month, 1, tzinfo=zone)
    end = datetime(local.year + (local.month == 12), local.month % 12 + 1, 1, tzinfo=zone)
    return start, end


def year_bounds(moment: datetime, zone: tzinfo) -> tuple[datetime, datetime]:
    local = moment.astimezone(zone)
    return datetime(local.year, 1, 1, tzinfo=zone), datetime(local.year + 1, 1, 1, tzinfo=zone)


def open_request_count(session: Session, program: Program, mentee: Person) -> int:
    return (
        session.scalar(
            select(func.count(MeetingRequest.id)).where(
                MeetingRequest.program_id == program.id,
                MeetingRequest.mentee_id == mentee.id,
                MeetingRequest.state.in_(OPEN_REQUEST_STATES),
            )
        )
        or 0
    )


def meetings_between(
    session: Session,
    program: Program,
    mentee: Person,
    start: datetime,
    end: datetime,
    *,
    exclude_meeting_id: int | None = None,
) -> int:
    """Counted meetings of the mentee starting in [start, end)."""
    query = select(func.count(Meeting.id)).where(
        Meeting.program_id == program.id,
        Meeting.mentee_id == mentee.id,
        Meeting.state.in_(COUNTED_MEETING_STATES),
        Meeting.start_at >= start,
        Meeting.start_at < end,
    )
    if exclude_meeting_id is not None:
        query = query.where(Meeting.id != exclude_meeting_id)
    return session.scalar(query) or 0


def check_pending_limit(session: Session, program: Program, mentee: Person) -> None:
    """A new request must not take the mentee past ``max_pending_requests`` open requests."""
    cap = program.max_pending_requests
    if cap is None:
        return
    if open_request_count(session, program, mentee) + 1 > cap:
        raise PendingLimitReached(
            f"You already have {cap} open request{'s' if cap != 1 else ''}; wait for an answer "
            "or withdraw one first."
        )


def check_meeting_limits(
    session: Session,
    program: Program,
    mentee: Person,
    start: datetime,
    *,
    exclude_meeting_id: int | None = None,
    field: str | None = None,
) -> None:
    """One more meeting at ``start`` must fit the monthly and yearly caps (mentee's calendar)."""
    zone = zone_of(mentee)
    if program.max_meetings_per_month is not None:
        lo, hi = month_bounds(start, zone)
        used = meetings_between(session, program, mentee, lo, hi, exclude_meeting_id=exclude_meeting_id)
        if used + 1 > program.max_meetings_per_month:
            raise MonthlyLimitReached(
                f"{mentee.name} already has {used} meeting{'s' if used != 1 else ''} in "
                f"{lo:%B %Y}; the program allows {program.max_meetings_per_month} a month.",
                field,
            )
    if program.max_meetings_per_year is not None:
        lo, hi = year_bounds(start, zone)
        used = meetings_between(session, program, mentee, lo, hi, exclude_meeting_id=exclude_meeting_id)
        if used + 1 > program.max_meetings_per_year:
            raise YearlyLimitReached(
                f"{mentee.name} already has {used} meeting{'s' if used != 1 else ''} in "
                f"{lo:%Y}; the program allows {program.max_meetings_per_year} a year.",
                field,
            )


def check_mentor_cap(
    session: Session,
    mentor: Person,
    start: datetime,
    *,
    exclude_meeting_id: int | None = None,
    field: str | None = None,
) -> None:
    """A mentor may cap their own meetings per month (their calendar month, all programs)."""
    cap = mentor.monthly_meeting_cap
    if cap is None:
        return
    lo, hi = month_bounds(start, zone_of(mentor))
    query = select(func.count(Meeting.id)).where(
        Meeting.mentor_id == mentor.id,
        Meeting.state.in_(COUNTED_MEETING_STATES),
        Meeting.start_at >= lo,
        Meeting.start_at < hi,
    )
    if exclude_meeting_id is not None:
        query = query.where(Meeting.id != exclude_meeting_id)
    used = session.scalar(query) or 0
    if used + 1 > cap:
        raise MentorCapReached(
            f"{mentor.name} takes at most {cap} meetings a month and {lo:%B %Y} is full.", field
        )
