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
read (provider down, auth lost, too slow for the request's budget) is logged, noted
(``scheduling.calendar_reads``: pages then say so) and treated as "nothing known": the
booked meetings still protect both people, and a program keeps working through an outage.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session

from calendars.base import CalendarError
from freebusy.batch import GridKey, Ints, Spans, count_clear, ints, weekly_starts
from freebusy.busy import BusySource
from freebusy.cache import BusyCache, CachedBusySource
from freebusy.intervals import EMPTY, Interval, IntervalSet, to_us
from freebusy.recurrence import UnknownZone, WeeklyRule, expand_weekly, rules_from_text
from freebusy.slots import MINUTE_US, Slot, candidate_starts_us, cut_slots
from scheduling import calendar_health, calendar_reads, request_holds
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
from scheduling.zones import zone_named, zone_of

log = logging.getLogger(__name__)

BusySourceFactory = Callable[[Session], BusySource]


class MentorLike(Protocol):
    """What counting a mentor's slots reads of them: a ``Person`` row, or just its columns
    (``scheduling.free_mentors.MentorCard``); busy sources get these and key them by ``id``."""

    @property
    def id(self) -> int: ...

    @property
    def name(self) -> str: ...

    @property
    def time_zone(self) -> str: ...


# Calendar busy per person id, already fetched (e.g. by a ranking over many mentors).
BusyMap = Mapping[int, IntervalSet]

_source_factory: BusySourceFactory | None = None
_cache: BusyCache | None = None
# Past this many people a batch query reads the whole (time-bounded) table and filters in
# Python: thousands of bound parameters in an IN list cost more than the rows they save.
IN_LIST_LIMIT = 500


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


def forget_busy(person_ids: Iterable[int]) -> None:
    """Drop the people's cached calendar busy time (all days), so the next query asks their calendar.

    Called when a meeting of theirs is booked, moved or canceled (its event appears,
    moves or goes), when their calendar is (re)connected, and when change detection
    sees their calendar change. A no-op without a cache.
    """
    ids = sorted({int(i) for i in person_ids})
    if _cache is not None and ids:
        _cache.forget(ids)


def person_zone(person: Person) -> ZoneInfo:
    """The zone a person's weekly availability is in: an unknown one is refused (UnknownTimeZone)."""
    return zone_of(person, strict=True)


# --- the pieces ---------------------------------------------------------------------------------


def mentor_availability(session: Session, mentor: Person, start: datetime, end: datetime) -> IntervalSet:
    """The mentor's weekly rules and dated slots over ``[start, end)``, in UTC."""
    try:
        rules = [WeeklyRule(w.weekday, w.start_time, w.end_time, w.time_zone or mentor.time_zone)
                 for w in mentor.weekly_slots]
    except UnknownZone as exc:
        raise UnknownTimeZone(f"{mentor.name}'s weekly availability: {exc}.", "time_zone") from None
    dated = [(ds, de) for ds, de in session.execute(
        select(DatedSlot.start_at, DatedSlot.end_at).where(
            DatedSlot.mentor_id == mentor.id, DatedSlot.start_at < end, DatedSlot.end_at > start
        )
    )]
    return availability_of(rules, dated, start, end)


def availability_of(
    rules: Sequence[WeeklyRule], dated: Sequence[tuple[datetime, datetime]], start: datetime, end: datetime
) -> IntervalSet:
    """Weekly rules expanded and dated slots, united, over ``[start, end)``, in UTC."""
    weekly = expand_weekly(rules, start, end)
    if not dated:
        return weekly
    return weekly.union(IntervalSet(dated).clip(start, end))


# Weekly rules per mentor id, with the ``Person.weekly_rules_version`` they were read under
# (``None``: no weekly slots). Shared by the process's threads; a version is random, so an
# entry is never taken for another database's (or an emptied one's) mentor of the same id.
_rules_memo: dict[int, tuple[int, str | None]] = {}


def mentors_rules(
    session: Session, ids: Collection[int], versions: Mapping[int, int] | None = None
) -> dict[int, str]:
    """Each mentor's weekly rules as text (``freebusy.recurrence.rules_from_text``), for those with any.

    Memoised per mentor under their ``weekly_rules_version`` (changed with every write of their
    weekly slots): one query of two integer columns finds whose rules are new to this process,
    and only theirs are read, the database joining each mentor's slots into one string (the
    memo key of the mentor's grid, ``freebusy.batch.weekly_grid``, parsed only on a miss).
    A slot without a zone is in the mentor's zone. ``versions``: the mentors' versions when the
    caller has just read them with its own query (then there is no query of them here).
    """
    wanted = ids if isinstance(ids, set | dict) else set(ids)
    if versions is None:
        query = select(Person.id, Person.weekly_rules_version)
        query = query.where(Person.id.in_(list(wanted))) if len(wanted) <= IN_LIST_LIMIT else \
            query.where(Person.is_mentor)
        versions = {pid: version for pid, version in session.execute(query) if pid in wanted}
    version_of = versions
    out: dict[int, str] = {}
    stale: list[int] = []
    for pid in wanted:
        known = _rules_memo.get(pid)
        if known is not None and known[0] == version_of.get(pid):
            if known[1] is not None:
                out[pid] = known[1]
        else:
            stale.append(pid)
    if not stale:
        return out
    found = _rules_of(session, stale)
    for pid in stale:
        text = found.get(pid)
        if text is not None:
            out[pid] = text
        version = version_of.get(pid)
        if version:  # 0 (written by plain SQL) or no row: never memoised
            _rules_memo[pid] = (version, text)
    return out


def forget_rules() -> None:
    """Drop the memoised weekly rules (the benchmarks time a cold process with it)."""
    _rules_memo.clear()


def _rules_of(session: Session, ids: Collection[int]) -> dict[int, str]:
    """The weekly rules of ``ids`` (those with any) from the database, one string per mentor."""
    item = (cast(WeeklySlot.weekday, String) + " " + cast(WeeklySlot.start_time, String) + " "
            + cast(WeeklySlot.end_time, String) + " " + WeeklySlot.time_zone)
    query = select(WeeklySlot.mentor_id, func.aggregate_strings(item, ";")).group_by(WeeklySlot.mentor_id)
    if len(ids) <= IN_LIST_LIMIT:
        query = query.where(WeeklySlot.mentor_id.in_(list(ids)))
    wanted = ids if isinstance(ids, set | dict) else set(ids)
    return {mentor_id: text for mentor_id, text in session.execute(query) if mentor_id in wanted}


def mentors_dated(
    session: Session, ids: Collection[int], start: datetime, end: datetime
) -> dict[int, list[tuple[datetime, datetime]]]:
    """Each mentor's dated slots touching ``[start, end)`` (only mentors that have some); one query."""
    query = select(DatedSlot.mentor_id, DatedSlot.start_at, DatedSlot.end_at).where(
        DatedSlot.start_at < end, DatedSlot.end_at > start
    )
    if len(ids) <= IN_LIST_LIMIT:
        query = query.where(DatedSlot.mentor_id.in_(list(ids)))
    wanted = ids if isinstance(ids, set | dict) else set(ids)
    out: dict[int, list[tuple[datetime, datetime]]] = {}
    for mentor_id, ds, de in session.execute(query):
        if mentor_id in wanted:
            out.setdefault(mentor_id, []).append((ds, de))
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
    found = _meetings(session, ids, start, end, buffer, exclude_meeting_id)
    return {pid: IntervalSet(found[pid]).padded(buffer) if pid in found else EMPTY for pid in ids}


def _meetings(
    session: Session,
    ids: Collection[int],
    start: datetime,
    end: datetime,
    buffer: timedelta,
    exclude_meeting_id: int | None = None,
) -> dict[int, list[tuple[datetime, datetime]]]:
    """The spans of active meetings near ``[start, end)`` per person of ``ids`` who has any."""
    if not ids:
        return {}
    query = select(Meeting.mentor_id, Meeting.mentee_id, Meeting.start_at, Meeting.end_at).where(
        Meeting.state.in_(ACTIVE_MEETING_STATES),
        Meeting.start_at < end + buffer,
        Meeting.end_at > start - buffer,
    )
    if len(ids) <= IN_LIST_LIMIT:
        query = query.where(or_(Meeting.mentor_id.in_(list(ids)), Meeting.mentee_id.in_(list(ids))))
    if exclude_meeting_id is not None:
        query = query.where(Meeting.id != exclude_meeting_id)
    spans: dict[int, list[tuple[datetime, datetime]]] = {}
    for mentor_id, mentee_id, s, e in session.execute(query):
        for pid in (mentor_id, mentee_id) if mentor_id != mentee_id else (mentor_id,):
            if pid in ids:
                spans.setdefault(pid, []).append((s, e))
    return spans


def _meeting_spans(
    session: Session,
    index: Mapping[int, int],
    mentee_id: int,
    start: datetime,
    end: datetime,
    buffer: timedelta,
) -> tuple[list[tuple[datetime, datetime]], Spans]:
    """Active meetings near ``[start, end)``: the mentee's as they are, and those of the people in
    ``index`` (id -> owner) as :class:`~freebusy.batch.Spans` widened by ``buffer``, straight
    from the rows (no ``IntervalSet`` per person: ``count_clear`` merges overlaps itself)."""
    found = _meetings(session, {*index, mentee_id}, start, end, buffer)
    mine = found.pop(mentee_id, [])
    pad = to_us(start + buffer) - to_us(start)
    owners: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    for pid, spans in found.items():
        owners += [index[pid]] * len(spans)
        starts += [to_us(s) - pad for s, _ in spans]
        ends += [to_us(e) + pad for _, e in spans]
    if not owners:
        return mine, Spans.empty()
    return mine, Spans(ints(owners), ints(starts), ints(ends))


def calendar_busy(
    session: Session,
    people: Sequence[MentorLike],
    start: datetime,
    end: datetime,
    source: BusySource | None = None,
) -> dict[int, IntervalSet]:
    """What the people's calendars say is busy (empty without a source or a connected calendar)."""
    if source is None and _source_factory is not None:
        source = _source_factory(session)
    if source is None or not people or start >= end:
        return {}
    _note_broken(session, people)
    sets = getattr(source, "busy_sets", None)  # a cached source answers with IntervalSets directly
    try:
        if sets is not None:
            return {int(pid): found for pid, found in sets(list(people), start, end).items() if found}
        answer = source.busy(list(people), start, end)
    except CalendarError as exc:
        _unreadable(exc)
        return {}
    return {int(pid): IntervalSet(intervals).clip(start, end) for pid, intervals in answer.items()}


def _note_broken(session: Session, people: Sequence[MentorLike]) -> None:
    """In a web request: name the people whose calendar connection is broken (their calendar
    is not read, ``scheduling.tenants.TenantBusySource``), so nobody takes them for free."""
    if calendar_reads.in_scope():
        calendar_reads.note_broken(calendar_health.broken_people(session, [int(p.id) for p in people]))


def _unreadable(exc: CalendarError) -> None:
    """A calendar read failed: go on with booked meetings only, and let the page say so."""
    log.warning("calendar busy time unavailable (%s: %s); using booked meetings only",
                type(exc).__name__, exc)
    calendar_reads.note_unread(f"{type(exc).__name__}: {exc}")


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
    mentors: Sequence[MentorLike],
    mentee: Person,
    start: datetime,
    end: datetime,
    *,
    now: datetime | None = None,
    busy: BusySource | BusyMap | None = None,
    rules_versions: Mapping[int, int] | None = None,
) -> dict[int, int]:
    """How many bookable slots the mentee has with each mentor (one batch of queries for all).

    ``rules_versions``: the mentors' ``Person.weekly_rules_version`` as just read by the
    caller's own query of them (see :func:`mentors_rules`), never from ``Person`` objects
    loaded before an edit in the same session.

    Same rules as :func:`bookable_slots` (``tests/test_freebusy_batch.py`` and the
    benchmark check they agree); used to rank mentors ("who is free this week"). All
    mentors are counted at once: grid starts from ``freebusy.batch`` (memoised per
    weekly rules), everyone's busy time as arrays, one binary search per start.
    """
    _aware(start, "from")
    _aware(end, "to")
    now = _now(now)
    ids = [m.id for m in mentors]
    counts = dict.fromkeys(ids, 0)
    if start >= end or not mentors:
        return counts
    if len(counts) < len(ids) or mentee.id in counts:  # each mentor once, never the mentee
        mentors = [m for m in {m.id: m for m in mentors}.values() if m.id != mentee.id]
        ids = [m.id for m in mentors]
    minutes = program.slot_minutes
    not_before = to_us(now + timedelta(hours=program.lead_time_hours))
    starts, owner = _slot_starts(session, mentors, ids, minutes, start, end, not_before, rules_versions)
    if not starts.size:
        return counts
    # Busy time only of the mentors with a start, and of the mentee (last).
    asked = np.flatnonzero(np.bincount(owner, minlength=len(ids))).tolist()
    people: list[MentorLike] = [*(mentors[i] for i in asked), mentee]
    people_ids = [*(ids[i] for i in asked), mentee.id]
    buffer = timedelta(minutes=program.buffer_minutes)
    mentee_booked, booked = _meeting_spans(session, {ids[i]: i for i in asked}, mentee.id, start, end, buffer)
    calendars = _calendar_spans(session, people, people_ids, start, end, busy)
    mentee_busy = IntervalSet(mentee_booked).padded(buffer).union(calendars.of(len(asked)))
    own = calendars.renumbered(ints([*asked, -1])) + booked
    found = count_clear(starts, owner, len(ids), minutes * MINUTE_US, mentee_busy, own)
    counts.update(zip(ids, found.tolist(), strict=True))
    return counts


def _slot_starts(
    session: Session,
    mentors: Sequence[MentorLike],
    ids: Sequence[int],
    minutes: int,
    start: datetime,
    end: datetime,
    not_before: int,
    rules_versions: Mapping[int, int] | None = None,
) -> tuple[Ints, Ints]:
    """Every grid start of every mentor: what ``candidate_starts_us`` gives on their availability.

    Returns the starts and their owner (an index into ``mentors``). Availability (weekly
    rules and dated slots) is cut from the memoised grids of ``freebusy.batch``; the rare
    windows the memo cannot cut exactly are computed as :func:`bookable_slots` does.
    """
    wanted = set(ids)
    rules = mentors_rules(session, wanted, rules_versions)
    dated = mentors_dated(session, wanted, start, end)
    dated_us = {pid: tuple(sorted((to_us(s), to_us(e)) for s, e in spans)) for pid, spans in dated.items()}
    weekly: list[int] = []  # mentors with availability and a zone (else their error is raised below)
    keys: list[GridKey] = []
    by_hand: list[int] = []
    for i, pid in enumerate(ids):
        if pid in rules or pid in dated:
            tz = mentors[i].time_zone
            if tz:
                weekly.append(i)
                keys.append((rules.get(pid, ""), tz, dated_us.get(pid, ())))
            else:
                by_hand.append(i)
    try:
        starts, owner, exact = weekly_starts(keys, minutes, to_us(start), to_us(end), not_before)
    except ValueError:  # an unknown zone (or a malformed rule): named by the exact path below
        starts, owner, exact = ints(()), ints(()), list(range(len(weekly)))
    owner = ints(weekly)[owner]
    by_hand += [weekly[i] for i in exact]
    if not by_hand:
        return starts, owner
    found, owners = [starts], [owner]
    for i in by_hand:
        m = mentors[i]
        grid_zone = zone_named(m.time_zone, strict=True, owner=m.name)
        try:
            rules_of = rules_from_text(rules[m.id], m.time_zone) if m.id in rules else []
        except UnknownZone as exc:
            raise UnknownTimeZone(f"{m.name}'s weekly availability: {exc}.", "time_zone") from None
        availability = availability_of(rules_of, dated.get(m.id, []), start, end)
        mine = ints(candidate_starts_us(availability, minutes, grid_zone, not_before))
        found.append(mine)
        owners.append(np.full(mine.size, i, dtype=np.int64))
    return np.concatenate(found), np.concatenate(owners)


def _calendar_spans(
    session: Session,
    people: Sequence[MentorLike],
    ids: Sequence[int],
    start: datetime,
    end: datetime,
    source: BusySource | BusyMap | None,
) -> Spans:
    """What the people's calendars say is busy, owner ``i`` being ``people[i]`` (whose id is ``ids[i]``).

    As :func:`calendar_busy` (an unreadable calendar counts as nothing known), as arrays.
    """
    index = {pid: i for i, pid in enumerate(ids)}
    if isinstance(source, Mapping):
        return Spans.of_sets((index[pid], found) for pid, found in source.items() if pid in index)
    if source is None and _source_factory is not None:
        source = _source_factory(session)
    spans = getattr(source, "busy_spans", None)  # a cached source answers with arrays directly
    if spans is None:
        found = calendar_busy(session, people, start, end, source)
        return Spans.of_sets((index[pid], busy) for pid, busy in found.items() if pid in index)
    _note_broken(session, people)
    try:
        keys, got = spans(people, start, end)
    except CalendarError as exc:
        _unreadable(exc)
        return Spans.empty()
    if keys == ids:
        return got  # the usual answer: one key (the id) per person, in order
    return got.renumbered(ints(index.get(int(k), -1) for k in keys))


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
    exclude_request_id: int | None = None,
    within_availability: bool = True,
) -> None:
    """Raise the first program rule ``[start, end)`` breaks; return quietly if it is bookable.

    ``exclude_request_id``: the request being booked, whose own holds in the mentor's calendar
    (``scheduling.request_holds``) do not count as busy for it. ``within_availability=False``: a
    counter-proposal, which the other side confirms, need not be inside the mentor's published
    slots (``scheduling.counter_times``); both people must still be free.

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
    if within_availability and not free_text and \
            not mentor_availability(session, mentor, start, end).contains(wanted):
        raise SlotOutsideAvailability(f"{mentor.name} is not available at that time.")
    buffer = timedelta(minutes=program.buffer_minutes)
    booked = meetings_busy(session, [mentor, mentee], start, end, buffer=buffer,
                           exclude_meeting_id=exclude_meeting_id)
    for person in (mentor, mentee):
        if booked[person.id].overlaps(wanted):
            extra = f" (meetings keep {program.buffer_minutes} minutes apart)" if buffer else ""
            raise SlotNotAvailable(f"{person.name} already has a meeting at that time{extra}.")
    cal = _calendar(session, [mentor, mentee], start, end, None, exclude_meeting_id)
    if exclude_request_id is not None and cal:
        own = request_holds.own_hold_spans(session, exclude_request_id)
        cal = {pid: found.subtract(own.get(pid, EMPTY)) for pid, found in cal.items()}
    for person in (mentor, mentee):
        if cal.get(person.id, EMPTY).overlaps(wanted):
            raise SlotNotAvailable(f"{person.name}'s calendar is busy at that time.")
