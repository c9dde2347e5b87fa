"""A mentor edits when they can meet: weekly slots, dated one-off slots, a note.

Weekly slots are wall-clock times in a zone (the mentor's own unless another
valid one is given), so "Tuesdays 09:00-11:00 London" stays 09:00 in London
across daylight-saving changes; the zone is stored on each slot. Dated slots are
absolute instants (stored in UTC). Each function validates everything first and
commits once, so a refused edit leaves the old availability in place.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling.db import get_row
from scheduling.errors import NotAMentor, NotFound, ValidationFailed
from scheduling.models import DatedSlot, Person, WeeklySlot
from scheduling.services.people import check_time_zone
from scheduling.services.safe_text import storable
from scheduling.services.transaction import unit_of_work
from scheduling.services.validation import current_time
from scheduling.zones import zone_of

MAX_WEEKLY_SLOTS = 70
MAX_DATED_SLOTS = 200
MAX_DATED_LENGTH = timedelta(hours=24)
MAX_DATED_AHEAD = timedelta(days=366)
NOTE_MAX = 2000
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
UNSET: Any = object()


@dataclass(frozen=True)
class WeeklyInput:
    weekday: int
    start: time
    end: time
    time_zone: str


def _require_mentor(person: Person) -> None:
    if not person.is_mentor:
        raise NotAMentor("Only mentors have availability to edit.")


def parse_hhmm(value: object, field: str) -> time:
    if not isinstance(value, str) or not _HHMM.match(value.strip()):
        raise ValidationFailed(f"{field} must be a time as HH:MM (00:00 to 23:59), got {value!r}.", field)
    hours, minutes = value.strip().split(":")
    return time(int(hours), int(minutes))


def check_weekly(entries: object, default_zone: str, field: str = "weekly_slots") -> list[WeeklyInput]:
    """Parse ``[{"weekday": 0, "start": "09:00", "end": "11:00", "time_zone"?: ...}]``.

    Slots on the same weekday in the same zone must not overlap (touching is fine).
    """
    if not isinstance(entries, list):
        raise ValidationFailed(f"{field} must be a list.", field)
    if len(entries) > MAX_WEEKLY_SLOTS:
        raise ValidationFailed(f"At most {MAX_WEEKLY_SLOTS} weekly slots.", field)
    parsed: list[WeeklyInput] = []
    for i, entry in enumerate(entries):
        where = f"{field}[{i}]"
        if not isinstance(entry, Mapping):
            raise ValidationFailed("A weekly slot is {weekday, start, end[, time_zone]}.", where)
        unknown = set(entry) - {"weekday", "start", "end", "time_zone", "id"}
        if unknown:
            raise ValidationFailed(f"Unknown key {sorted(unknown)[0]!r} in a weekly slot.", where)
        weekday = entry.get("weekday")
        if isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6:
            raise ValidationFailed("weekday must be 0 (Monday) to 6 (Sunday).", f"{where}.weekday")
        start = parse_hhmm(entry.get("start"), f"{where}.start")
        end = parse_hhmm(entry.get("end"), f"{where}.end")
        if not start < end:
            raise ValidationFailed("The end must be after the start (slots cannot cross midnight; "
                                   "split them in two).", f"{where}.end")
        zone = entry.get("time_zone")
        zone = default_zone if zone in (None, "") else check_time_zone(zone, f"{where}.time_zone")
        parsed.append(WeeklyInput(weekday, start, end, zone))

    ordered = sorted(enumerate(parsed), key=lambda p: (p[1].time_zone, p[1].weekday, p[1].start))
    for (_, a), (j, b) in itertools.pairwise(ordered):
        if a.time_zone == b.time_zone and a.weekday == b.weekday and b.start < a.end:
            raise ValidationFailed(
                f"Two slots overlap on {WEEKDAYS[b.weekday]}: {a.start:%H:%M}-{a.end:%H:%M} and "
                f"{b.start:%H:%M}-{b.end:%H:%M}.",
                f"{field}[{j}]",
            )
    return parsed


def _as_aware(value: object, field: str) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValidationFailed(f"Not an ISO-8601 date-time: {value!r}.", field) from None
    if not isinstance(value, datetime):
        raise ValidationFailed("Give a date-time such as 2030-01-09T10:00:00+01:00.", field)
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationFailed("The time needs a UTC offset or zone (naive times are ambiguous).", field)
    return value


def check_dated(
    start: object, end: object, *, now: datetime, field: str = "dated_slot"
) -> tuple[datetime, datetime]:
    """An aware, future, non-empty range of at most a day, within a year from now."""
    start_at = _as_aware(start, f"{field}.start")
    end_at = _as_aware(end, f"{field}.end")
    if not start_at < end_at:
        raise ValidationFailed("The end must be after the start.", f"{field}.end")
    if start_at <= now:
        raise ValidationFailed("A dated slot must start in the future.", f"{field}.start")
    if end_at - start_at > MAX_DATED_LENGTH:
        raise ValidationFailed("A dated slot lasts at most 24 hours.", f"{field}.end")
    if start_at > now + MAX_DATED_AHEAD:
        raise ValidationFailed("A dated slot can be at most a year ahead.", f"{field}.start")
    return start_at, end_at


def _overlaps(ranges: Sequence[tuple[datetime, datetime]]) -> int | None:
    """Index (in the given order) of a range overlapping an earlier-starting one, or None."""
    ordered = sorted(range(len(ranges)), key=lambda i: ranges[i])
    for a, b in itertools.pairwise(ordered):
        if ranges[b][0] < ranges[a][1]:
            return b
    return None


def _apply_weekly(session: Session, mentor: Person, parsed: list[WeeklyInput]) -> None:
    for old in list(mentor.weekly_slots):
        mentor.weekly_slots.remove(old)
    session.flush()
    for w in parsed:
        mentor.weekly_slots.append(
            WeeklySlot(weekday=w.weekday, start_time=w.start, end_time=w.end, time_zone=w.time_zone)
        )


def _current_dated(session: Session, mentor: Person) -> list[DatedSlot]:
    return list(session.scalars(select(DatedSlot).where(DatedSlot.mentor_id == mentor.id)
                                .order_by(DatedSlot.start_at)))


def _check_dated_list(
    session: Session, mentor: Person, entries: object, *, now: datetime, field: str = "dated_slots"
) -> list[tuple[datetime, datetime]]:
    """Parse a full list of dated slots; an entry equal to an existing slot is kept even if it began."""
    if not isinstance(entries, list):
        raise ValidationFailed(f"{field} must be a list.", field)
    if len(entries) > MAX_DATED_SLOTS:
        raise ValidationFailed(f"At most {MAX_DATED_SLOTS} dated slots.", field)
    existing = {(d.start_at, d.end_at) for d in _current_dated(session, mentor)}
    ranges: list[tuple[datetime, datetime]] = []
    for i, entry in enumerate(entries):
        where = f"{field}[{i}]"
        if not isinstance(entry, Mapping):
            raise ValidationFailed("A dated slot is {start, end}.", where)
        unknown = set(entry) - {"start", "end", "id", "start_local", "end_local"}
        if unknown:
            raise ValidationFailed(f"Unknown key {sorted(unknown)[0]!r} in a dated slot.", where)
        start = _as_aware(entry.get("start"), f"{where}.start")
        end = _as_aware(entry.get("end"), f"{where}.end")
        if (start, end) in existing and end > now:
            ranges.append((start, end))
        else:
            ranges.append(check_dated(start, end, now=now, field=where))
    clash = _overlaps(ranges)
    if clash is not None:
        raise ValidationFailed("This dated slot overlaps another one.", f"{field}[{clash}]")
    return ranges


def _apply_dated(session: Session, mentor: Person, ranges: list[tuple[datetime, datetime]]) -> None:
    for old in _current_dated(session, mentor):
        session.delete(old)
    session.flush()
    for start, end in ranges:
        session.add(DatedSlot(mentor_id=mentor.id, start_at=start, end_at=end))


def check_note(note: object, field: str = "note") -> str:
    if note is None:
        return ""
    if not isinstance(note, str):
        raise ValidationFailed("The availability note must be text.", field)
    note = storable(note, field).strip()
    if len(note) > NOTE_MAX:
        raise ValidationFailed(f"The availability note has at most {NOTE_MAX} characters.", field)
    return note


# ---------------------------------------------------------------- public services


def replace_weekly_slots(
    session: Session, mentor: Person, slots: object, *, time_zone: str | None = None
) -> list[WeeklySlot]:
    """Make the mentor's weekly slots exactly ``slots`` (zone: ``time_zone`` or the mentor's)."""
    _require_mentor(mentor)
    zone = check_time_zone(time_zone) if time_zone else mentor.time_zone
    parsed = check_weekly(slots, zone)
    with unit_of_work(session):
        _apply_weekly(session, mentor, parsed)
        session.commit()
    return list(mentor.weekly_slots)


def add_dated_slot(
    session: Session, mentor: Person, start: object, end: object, *, now: datetime | None = None
) -> DatedSlot:
    """A one-off slot; it may not overlap another dated slot of the mentor."""
    _require_mentor(mentor)
    start_at, end_at = check_dated(start, end, now=current_time(now))
    for other in _current_dated(session, mentor):
        if other.start_at < end_at and start_at < other.end_at:
            raise ValidationFailed("This overlaps another dated slot of yours.", "dated_slot.start")
    if len(_current_dated(session, mentor)) >= MAX_DATED_SLOTS:
        raise ValidationFailed(f"At most {MAX_DATED_SLOTS} dated slots.", "dated_slot")
    with unit_of_work(session):
        slot = DatedSlot(mentor_id=mentor.id, start_at=start_at, end_at=end_at)
        session.add(slot)
        session.commit()
    return slot


def remove_dated_slot(session: Session, mentor: Person, slot_id: int) -> None:
    """Delete one of the mentor's own dated slots (someone else's is simply not found)."""
    slot = get_row(session, DatedSlot, slot_id)
    if slot is None or slot.mentor_id != mentor.id:
        raise NotFound("No such dated slot of yours.", "id")
    with unit_of_work(session):
        session.delete(slot)
        session.commit()


def set_availability_note(session: Session, person: Person, note: object) -> Person:
    """The free-text availability ("Tuesday mornings, ask me") for free-text programs."""
    _require_mentor(person)
    checked = check_note(note)
    with unit_of_work(session):
        person.availability_note = checked
        session.commit()
    return person


def update_availability(
    session: Session,
    mentor: Person,
    *,
    weekly: object = UNSET,
    dated: object = UNSET,
    note: object = UNSET,
    time_zone: str | None = None,
    now: datetime | None = None,
) -> Person:
    """Replace any of weekly slots, dated slots and note together; all or nothing."""
    _require_mentor(mentor)
    moment = current_time(now)
    zone = check_time_zone(time_zone) if time_zone else mentor.time_zone
    parsed_weekly = None if weekly is UNSET else check_weekly(weekly, zone)
    parsed_dated = None if dated is UNSET else _check_dated_list(session, mentor, dated, now=moment)
    checked_note = None if note is UNSET else check_note(note)
    with unit_of_work(session):
        if parsed_weekly is not None:
            _apply_weekly(session, mentor, parsed_weekly)
        if parsed_dated is not None:
            _apply_dated(session, mentor, parsed_dated)
        if checked_note is not None:
            mentor.availability_note = checked_note
        session.commit()
    session.refresh(mentor)
    return mentor


def upcoming_dated_slots(session: Session, mentor: Person, *, now: datetime | None = None) -> list[DatedSlot]:
    """The mentor's dated slots that have not ended yet, earliest first."""
    moment = current_time(now)
    return [d for d in _current_dated(session, mentor) if d.end_at > moment]


def weekly_view(mentor: Person) -> list[dict[str, Any]]:
    return [
        {"id": w.id, "weekday": w.weekday, "day": WEEKDAYS[w.weekday], "start": f"{w.start_time:%H:%M}",
         "end": f"{w.end_time:%H:%M}", "time_zone": w.time_zone}
        for w in sorted(mentor.weekly_slots, key=lambda w: (w.weekday, w.start_time, w.time_zone))
    ]


def dated_view(slot: DatedSlot, viewer: Person) -> dict[str, Any]:
    """A dated slot in UTC and in the viewer's own zone."""
    zone = zone_of(viewer)
    return {
        "id": slot.id,
        "start": slot.start_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "end": slot.end_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "start_local": slot.start_at.astimezone(zone).isoformat(),
        "end_local": slot.end_at.astimezone(zone).isoformat(),
        "time_zone": str(zone),
    }
