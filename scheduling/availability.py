"""When a mentee can meet a mentor: the pure ``freebusy`` engine fed from the database.

bookable slots = mentor availability (weekly rules + dated slots)
                 - mentor busy - mentee busy
                 - both people's active meetings (widened by ``program.buffer_minutes``),
                 cut to ``program.slot_minutes`` on the grid (see ``freebusy.slots``),
                 none starting before ``now + program.lead_time_hours``.

Busy time per person is their active meetings (as mentor or mentee) plus, when a
calendar busy source is configured, what their calendar says. Until a person has a
connected calendar the source knows nothing of them, so their booked meetings are
all their busy time. The source is pluggable (:func:`configure_busy_source`; or pass
one per call) so that this module needs no provider code. A calendar that cannot be
read (provider down, auth lost) is logged and treated as "nothing known": the booked
meetings still protect both people, and a program keeps working through an outage.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from calendars.base import CalendarError
from freebusy.busy import BusySource
from freebusy.cache import BusyCache, CachedBusySource
from freebusy.intervals import EMPTY, Interval, IntervalSet, to_us
from freebusy.recurrence import UnknownZone, WeeklyRule, expand_weekly, zone
from freebusy.slots import (
    MINUTE_US,
    Slot,
    candidate_starts_us,
    count_clear_us,
    cut_slots,
    filter_free_us,
)
from scheduling.db import utcnow
from scheduling.errors import (
    BadSlotLength,
    LeadTimeTooShort,
    SlotNotAvailable,
    SlotOutsideAvailability,
    TimeInPast,
    UnknownTimeZone,
    ValidationFailed,
)
from scheduling.models import (
    ACTIVE_MEETING_STATES,
    AvailabilityMode,
    DatedSlot,
    Meeting,
    Person,
    Program,
    WeeklySlot,
)

log = logging.getLogger(__name__)

BusySourceFactory = Callable[[Session], BusySource]
# Calendar busy per person id, already fetched (e.g. by a ranking over many mentors).
BusyMap = Mapping[int, IntervalSet]

_source_factory: BusySourceFactory | None = None
_cache: BusyCache | None = None
def configure_busy_source(factory: BusySourceFactory | None) -> None:
    """Set how calendar busy time is read by default (None: booked meetings only).

    The factory gets the session and returns a :class:`freebusy.busy.BusySource` whose
    ``busy(people, start, end)`` takes ``Person`` rows and answers
    ``{person_id: [BusyInterval]}`` - e.g. ``scheduling.tenants.TenantBusySource``,
    best wrapped in ``freebusy.cache.CachedBusySource`` so repeat queries cost no call
    (:func:`use_busy_cache` does both).
    """
    global _source_factory, _cache
    _source_factory = factory
    _cache = None


def use_busy_cache(factory: BusySourceFactory, cache: BusyCache) -> None:
    """Read calendar busy time from ``factory``'s source through ``cache`` (shared by all sessions)."""
    global _cache
    configure_busy_source(lambda session: CachedBusySource(factory(session), cache))
    _cache = cache


def busy_cache() -> BusyCache | None:
    """The cache installed by :func:`use_busy_cache`, if any."""
    return _cache


def forget_busy(person_ids: Iterable[int], *, cache: BusyCache | None = None) -> None:
    """Drop the people's cached calendar busy time (all days), so the next query asks their calendar.

    Called when a meeting of theirs is booked, moved or canceled (its event appears,
    moves or goes), when their calendar is (re)connected, and when change detection
    sees their calendar change. A no-op without a cache.
    """
    cache = cache if cache is not None else _cache
    ids = sorted({int(i) for i in person_ids})
    if cache is not None and ids:
        cache.forget(ids)


def person_zone(person: Person) -> ZoneInfo:
    try:
        return zone(person.time_zone or "UTC")
    except UnknownZone:
        message = f"{person.name} has an unknown time zone {person.time_zone!r}."
        raise UnknownTimeZone(message, "time_zone") from None


# --- the pieces ---------------------------------------------------------------------------------


def mentor_availability(session: Session, mentor: Person, start: datetime, end: datetime) -> IntervalSet:
    """The mentor's weekly rules and dated slots over ``[start, end)``, in UTC."""
    try:
        rules = [WeeklyRule(w.weekday, w.start_time, w.end_time, w.time_zone or mentor.time_zone)
                 for w in mentor.weekly_slots]
    except UnknownZone as exc:
        raise UnknownTimeZone(f"{mentor.name}'s weekly availability: {exc}.", "time_zone") from None
    weekly = expand_weekly(rules, start, end)
    dated = session.scalars(
        select(DatedSlot).where(
            DatedSlot.mentor_id == mentor.id, DatedSlot.start_at < end, DatedSlot.end_at > start
        )
    ).all()
    if not dated:
        return weekly
    return weekly.union(IntervalSet((d.start_at, d.end_at) for d in dated).clip(start, end))


def mentors_availability(
    session: Session, mentors: Sequence[Person], start: datetime, end: datetime
) -> dict[int, IntervalSet]:
    """:func:`mentor_availability` for many mentors with two queries in all (not two per mentor)."""
    ids = [m.id for m in mentors]
    if not ids:
        return {}
    weekly: dict[int, list[WeeklyRule]] = {i: [] for i in ids}
    zones = {m.id: m.time_zone for m in mentors}
    rows = session.execute(
        select(WeeklySlot.mentor_id, WeeklySlot.weekday, WeeklySlot.start_time, WeeklySlot.end_time,
               WeeklySlot.time_zone).where(WeeklySlot.mentor_id.in_(ids))
    )
    by_id = {m.id: m for m in mentors}
    for mentor_id, weekday, s, e, tz in rows:
        try:
            weekly[mentor_id].append(WeeklyRule(weekday, s, e, tz or zones[mentor_id]))
        except UnknownZone as exc:
            name = by_id[mentor_id].name
            raise UnknownTimeZone(f"{name}'s weekly availability: {exc}.", "time_zone") from None
    dated: dict[int, list[tuple[datetime, datetime]]] = {}
    for mentor_id, ds, de in session.execute(
        select(DatedSlot.mentor_id, DatedSlot.start_at, DatedSlot.end_at).where(
            DatedSlot.mentor_id.in_(ids), DatedSlot.start_at < end, DatedSlot.end_at > start
        )
    ):
        dated.setdefault(mentor_id, []).append((ds, de))
    out = {}
    for i in ids:
        found = expand_weekly(weekly[i], start, end)
        if i in dated:
            found = found.union(IntervalSet(dated[i]).clip(start, end))
        out[i] = found
    return out


def meetings_busy(
    session: Session,
    people: Iterable[Person],
    start: datetime,
    end: datetime,
    *,
    buffer: timedelta = timedelta(0),
    exclude_meeting_id: int | None = None,
) -> dict[int, IntervalSet]:
    """Each person's active meetings (either role) near ``[start, end)``, widened by ``buffer``."""
    ids = {p.id for p in people}
    if not ids:
        return {}
    query = select(Meeting.mentor_id, Meeting.mentee_id, Meeting.start_at, Meeting.end_at).where(
        Meeting.state.in_(ACTIVE_MEETING_STATES),
        or_(Meeting.mentor_id.in_(ids), Meeting.mentee_id.in_(ids)),
        Meeting.start_at < end + buffer,
        Meeting.end_at > start - buffer,
    )
    if exclude_meeting_id is not None:
        query = query.where(Meeting.id != exclude_meeting_id)
    spans: dict[int, list[tuple[datetime, datetime]]] = {i: [] for i in ids}
    for mentor_id, mentee_id, s, e in session.execute(query):
        for pid in {mentor_id, mentee_id} & ids:
            spans[pid].append((s, e))
    return {pid: IntervalSet(found).padded(buffer) if found else EMPTY for pid, found in spans.items()}


def calendar_busy(
    session: Session,
    people: Sequence[Person],
    start: datetime,
    end: datetime,
    source: BusySource | None = None,
) -> dict[int, IntervalSet]:
    """What the people's calendars say is busy (empty without a source or a connected calendar)."""
    if source is None and _source_factory is not None:
        source = _source_factory(session)
    if source is None or not people or start >= end:
        return {}
    sets = getattr(source, "busy_sets", None)  # a cached source answers with IntervalSets directly
    try:
        if sets is not None:
            return {int(pid): found for pid, found in sets(list(people), start, end).items() if found}
        answer = source.busy(list(people), start, end)
    except CalendarError as exc:
        log.warning("calendar busy time unavailable (%s: %s); using booked meetings only",
                    type(exc).__name__, exc)
        return {}
    return {int(pid): IntervalSet(intervals).clip(start, end) for pid, intervals in answer.items()}


def busy_for(
    session: Session,
    people: Sequence[Person],
    start: datetime,
    end: datetime,
    source: BusySource | BusyMap | None = None,
    *,
    buffer: timedelta = timedelta(0),
    exclude_meeting_id: int | None = None,
) -> dict[int, IntervalSet]:
    """Busy time per person id: active meetings (+``buffer``) united with calendar busy.

    ``source`` is a busy source (or an already-fetched ``{person_id: IntervalSet}``);
    None means the configured default (:func:`configure_busy_source`), if any. With
    ``exclude_meeting_id`` (moving a meeting) neither that meeting nor its own calendar
    event counts as busy.
    """
    booked = meetings_busy(session, people, start, end, buffer=buffer, exclude_meeting_id=exclude_meeting_id)
    cal = _calendar(session, people, start, end, source, exclude_meeting_id)
    return {p.id: booked.get(p.id, EMPTY).union(cal.get(p.id, EMPTY)) for p in people}


def _calendar(
    session: Session,
    people: Sequence[Person],
    start: datetime,
    end: datetime,
    source: BusySource | BusyMap | None,
    exclude_meeting_id: int | None,
) -> Mapping[int, IntervalSet]:
    if isinstance(source, Mapping):
        cal: Mapping[int, IntervalSet] = source
    else:
        cal = calendar_busy(session, people, start, end, source)
    if exclude_meeting_id is not None and cal:
        moved = session.get(Meeting, exclude_meeting_id)
        if moved is not None:  # the meeting being moved shows in calendars as its own event
            own = IntervalSet.span(moved.start_at, moved.end_at)
            cal = {pid: found.subtract(own) for pid, found in cal.items()}
    return cal


# --- what other modules call --------------------------------------------------------------------


def _now(now: datetime | None) -> datetime:
    now = now or utcnow()
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    return now


def _aware(moment: datetime, field: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValidationFailed(f"{field} needs a time zone.", field)


def bookable_slots(
    session: Session,
    program: Program,
    mentor: Person,
    mentee: Person,
    start: datetime,
    end: datetime,
    *,
    now: datetime | None = None,
    busy: BusySource | BusyMap | None = None,
) -> list[Slot]:
    """The slots in ``[start, end)`` the mentee may pick with the mentor, in UTC, in order.

    In a free-text program this is still computed from whatever weekly/dated slots the
    mentor keeps (usually none, so usually empty); bookings there are checked without
    the availability rule (see :func:`check_bookable`).
    """
    _aware(start, "from")
    _aware(end, "to")
    now = _now(now)
    if start >= end:
        return []
    availability = mentor_availability(session, mentor, start, end)
    if not availability:
        return []  # nothing to cut: no busy lookups, no provider calls
    window = availability.bounds
    assert window is not None
    found = busy_for(session, [mentor, mentee], window.start, window.end, busy,
                     buffer=timedelta(minutes=program.buffer_minutes))
    return cut_slots(
        availability,
        minutes=program.slot_minutes,
        time_zone=person_zone(mentor),
        not_before=now + timedelta(hours=program.lead_time_hours),
        busy=[found[mentor.id], found[mentee.id]],
    )


def shared_slot_counts(
    session: Session,
    program: Program,
    mentors: Sequence[Person],
    mentee: Person,
    start: datetime,
    end: datetime,
    *,
    now: datetime | None = None,
    busy: BusySource | BusyMap | None = None,
) -> dict[int, int]:
    """How many bookable slots the mentee has with each mentor (one batch of queries for all).

    Same rules as :func:`bookable_slots`; used to rank mentors ("who is free this week").
    """
    _aware(start, "from")
    _aware(end, "to")
    now = _now(now)
    if start >= end or not mentors:
        return {m.id: 0 for m in mentors}
    not_before = now + timedelta(hours=program.lead_time_hours)
    availability = mentors_availability(session, mentors, start, end)
    with_time = [m for m in mentors if availability[m.id] and m.id != mentee.id]
    counts = {m.id: 0 for m in mentors}
    if not with_time:
        return counts
    found = busy_for(session, [*with_time, mentee], start, end, busy,
                     buffer=timedelta(minutes=program.buffer_minutes))
    # Mentors with the same availability and zone share one candidate list, already cleared of
    # the mentee's busy time; only each mentor's own busy time is then checked per mentor.
    mentee_busy = [found[mentee.id]]
    minutes = program.slot_minutes
    nb_us = to_us(not_before)
    candidates: dict[tuple[IntervalSet, str], list[int]] = {}
    for m in with_time:
        key = (availability[m.id], m.time_zone)
        if key not in candidates:
            starts = candidate_starts_us(availability[m.id], minutes, person_zone(m), nb_us)
            candidates[key] = filter_free_us(starts, minutes, mentee_busy)
        counts[m.id] = count_clear_us(candidates[key], minutes * MINUTE_US, found[m.id])
    return counts


def check_bookable(
    session: Session,
    program: Program,
    mentor: Person,
    mentee: Person,
    start: datetime,
    end: datetime,
    *,
    now: datetime | None = None,
    exclude_meeting_id: int | None = None,
) -> None:
    """Raise the first program rule ``[start, end)`` breaks; return quietly if it is bookable.

    Order: TimeInPast, LeadTimeTooShort, BadSlotLength, SlotOutsideAvailability (not in
    free-text programs), SlotNotAvailable (an active meeting of either person, widened by
    the buffer, or busy time in either calendar). The grid is not enforced here: a
    counter-proposal may start at any minute inside the availability.
    """
    _aware(start, "start")
    _aware(end, "end")
    now = _now(now)
    if start < now:
        raise TimeInPast("That time has already passed.")
    lead = timedelta(hours=program.lead_time_hours)
    if start < now + lead:
        raise LeadTimeTooShort(
            f"Meetings must be booked at least {program.lead_time_hours} hours ahead."
        )
    if end - start != timedelta(minutes=program.slot_minutes):
        raise BadSlotLength(f"Meetings in this program last {program.slot_minutes} minutes.")
    wanted = Interval(start, end)
    free_text = program.availability_mode == AvailabilityMode.FREE_TEXT
    if not free_text and not mentor_availability(session, mentor, start, end).contains(wanted):
        raise SlotOutsideAvailability(f"{mentor.name} is not available at that time.")
    buffer = timedelta(minutes=program.buffer_minutes)
    booked = meetings_busy(session, [mentor, mentee], start, end, buffer=buffer,
                           exclude_meeting_id=exclude_meeting_id)
    for person in (mentor, mentee):
        if booked[person.id].overlaps(wanted):
            extra = f" (meetings keep {program.buffer_minutes} minutes apart)" if buffer else ""
            raise SlotNotAvailable(f"{person.name} already has a meeting at that time{extra}.")
    cal = _calendar(session, [mentor, mentee], start, end, None, exclude_meeting_id)
    for person in (mentor, mentee):
        if cal.get(person.id, EMPTY).overlaps(wanted):
            raise SlotNotAvailable(f"{person.name}'s calendar is busy at that time.")
