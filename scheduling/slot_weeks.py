"""The weeks shared free time is shown in: one meaning of "this week" for every page that counts it.

The directory's "N shared free times this week", the mentor's page and the slot picker's
first week all count :func:`week_of` for the same viewer at the same moment: from now to
the end of the viewer's local week (Monday to Sunday in their zone). The picker then lists
exactly the slots the count counted (:func:`week_slots`, the rules of
``scheduling.availability.bookable_slots``; the batch count ``shared_slot_counts`` is
checked against it by ``tests/test_freebusy_batch.py``). A rolling "next 7 days" on one page
and a calendar week on another once made the directory say 16 where the picker showed 6.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from sqlalchemy.orm import Session

from freebusy.slots import Slot
from scheduling.availability import MentorLike, bookable_slots, shared_slot_counts
from scheduling.models import Person, Program

WEEKS_AHEAD = 12  # how far ahead the picker pages (and the mentor's "next shared times" look)


@dataclass(frozen=True)
class SlotWeek:
    """One local week (Monday..Sunday in ``zone``) cut to start no earlier than now, in UTC."""

    monday: date
    start: datetime
    end: datetime
    this_monday: date  # the Monday of the week holding now: no paging before it

    @property
    def first(self) -> bool:
        return self.monday == self.this_monday

    @property
    def last(self) -> bool:
        return self.monday >= self.this_monday + timedelta(weeks=WEEKS_AHEAD)

    def days(self) -> list[date]:
        return [self.monday + timedelta(days=i) for i in range(7)]


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def local_midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def week_of(zone: tzinfo, now: datetime, day: date | None = None) -> SlotWeek:
    """The week holding ``day`` in ``zone`` (None: this week), kept between this week and
    :data:`WEEKS_AHEAD` weeks ahead, starting at ``now`` if that is later than its Monday."""
    this_monday = week_start(now.astimezone(zone).date())
    monday = this_monday if day is None else week_start(day)
    monday = min(max(monday, this_monday), this_monday + timedelta(weeks=WEEKS_AHEAD))
    start = max(local_midnight(monday, zone), now)
    return SlotWeek(monday, start, local_midnight(monday + timedelta(days=7), zone), this_monday)


def week_slots(
    session: Session, program: Program, mentor: Person, mentee: Person, week: SlotWeek, now: datetime
) -> list[Slot]:
    """The bookable slots of ``week``: what the picker lists and what :func:`this_week_counts` counts."""
    return bookable_slots(session, program, mentor, mentee, week.start, week.end, now=now)


def this_week_counts(
    session: Session, program: Program, mentors: Sequence[MentorLike], mentee: Person, zone: tzinfo,
    now: datetime,
) -> dict[int, int]:
    """``{mentor id: bookable slots this week}`` for the viewer in ``zone``, every mentor in one batch."""
    week = week_of(zone, now)
    return shared_slot_counts(session, program, mentors, mentee, week.start, week.end, now=now)


def first_week_with_slots(
    session: Session, program: Program, mentor: Person, mentee: Person, zone: tzinfo, now: datetime
) -> tuple[SlotWeek, list[Slot]]:
    """This week, or the first later week (up to :data:`WEEKS_AHEAD`) that has a slot; this week
    (empty) if none has."""
    week = this = week_of(zone, now)
    while True:
        slots = week_slots(session, program, mentor, mentee, week, now)
        if slots or week.last:
            break
        week = week_of(zone, now, week.monday + timedelta(weeks=1))
    return (week, slots) if slots else (this, [])


def next_slots(
    session: Session, program: Program, mentor: Person, mentee: Person, zone: tzinfo, now: datetime,
    n: int,
) -> list[Slot]:
    """The next ``n`` bookable slots (fewer if the weeks ahead hold fewer): this week's, then, if it has
    too few, the rest of the :data:`WEEKS_AHEAD` weeks in one more look (not one per week)."""
    week = week_of(zone, now)
    found = week_slots(session, program, mentor, mentee, week, now)
    if len(found) < n and not week.last:
        horizon = local_midnight(week.this_monday + timedelta(weeks=WEEKS_AHEAD + 1), zone)
        found += bookable_slots(session, program, mentor, mentee, week.end, horizon, now=now)
    return found[:n]
