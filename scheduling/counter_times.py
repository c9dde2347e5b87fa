"""Times to suggest when one side of a request proposes another time ("Propose another time").

A counter-proposal goes back to the other side to confirm, so it is not bound to the mentor's
published weekly slots (the mentor may offer any time they are free; a mentee's proposal is confirmed
by the mentor). What binds it is that *both* are free: no meeting of either (with the program's
buffer) and nothing busy in either calendar. The suggestions are therefore the mentor's own bookable
slots first, then the working hours the two share (weekdays, :data:`WORK_START`-:data:`WORK_END` in
each one's zone) clear of both people's meetings and calendars. In a free-text-availability program,
where mentors publish no slots, the second part is what makes "free for both" visible at all.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy.orm import Session

from freebusy.intervals import Interval, IntervalSet
from freebusy.slots import Slot, cut_slots
from scheduling.availability import bookable_slots, busy_for, person_zone
from scheduling.models import Person, Program

WORK_START = time(8, 0)
WORK_END = time(18, 0)


def working_hours(person: Person, start: datetime, end: datetime) -> IntervalSet:
    """The person's weekday working hours in ``[start, end)``, in their own zone."""
    zone = person_zone(person)
    day = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date()
    spans = []
    while day <= last:
        if day.weekday() < 5:
            begin, finish = datetime.combine(day, WORK_START, zone), datetime.combine(day, WORK_END, zone)
            spans.append(Interval(begin, finish))
        day += timedelta(days=1)
    return IntervalSet(spans).clip(start, end)


def suggestions(session: Session, program: Program, mentor: Person, mentee: Person, start: datetime,
                end: datetime, *, now: datetime) -> list[Slot]:
    """Slots in ``[start, end)`` both are free for: the mentor's bookable slots, then shared working
    hours clear of both people's meetings and calendars; by start time, each start once."""
    published = bookable_slots(session, program, mentor, mentee, start, end, now=now)
    shared = working_hours(mentor, start, end).intersect(working_hours(mentee, start, end))
    extra: list[Slot] = []
    if shared:
        window = shared.bounds
        assert window is not None
        busy = busy_for(session, [mentor, mentee], window.start, window.end,
                        buffer=timedelta(minutes=program.buffer_minutes))
        extra = cut_slots(shared, minutes=program.slot_minutes, time_zone=person_zone(mentor),
                          not_before=now + timedelta(hours=program.lead_time_hours),
                          busy=[busy[mentor.id], busy[mentee.id]])
    by_start = {s.start: s for s in extra}
    by_start.update({s.start: s for s in published})
    return [by_start[k] for k in sorted(by_start)]
