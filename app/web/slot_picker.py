"""The slot picker's page: a week of shared free slots at a glance, in the zone the viewer picks.

Which week, which slots and how many come from ``scheduling.slot_weeks`` (the directory's
"this week" count is the same range); this module only groups them by day, labels each
slot in the shown zone with the other person's local time beside it, and reads the
page's own parameters: ``week`` (any day of it), ``tz`` (an IANA name, or ``other`` with
``tz_other``) and ``slot`` (a time chosen beforehand, e.g. on the mentor's page).
Everything is a link or a plain form: the picker needs no JavaScript.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from itertools import groupby
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from app.db import db
from app.web.common import FormErrors, iso, parse_utc
from freebusy.slots import Slot
from scheduling.errors import UnknownTimeZone, ValidationFailed
from scheduling.models import Person, Program
from scheduling.slot_weeks import SlotWeek, first_week_with_slots, week_of, week_slots
from scheduling.zones import zone_named, zone_of

OTHER = "other"  # the zone switcher's "another zone" choice, typed in ``tz_other``


@dataclass(frozen=True)
class SlotChoice:
    value: str  # the UTC start, posted back
    label: str  # in the shown zone
    beside: str  # the other person's local time (or the viewer's own, when shown in the other's zone)


@dataclass(frozen=True)
class DayChoices:
    day: date
    label: str
    anchor: str
    slots: list[SlotChoice]


@dataclass(frozen=True)
class StripDay:
    """One day of the week at a glance: how many shared free times it has."""

    day: date
    weekday: str
    label: str
    anchor: str
    count: int


@dataclass(frozen=True)
class ZoneOption:
    value: str
    label: str


@cache
def zone_names() -> list[str]:
    """Every IANA zone name this machine knows, for the switcher's suggestions."""
    return sorted(n for n in available_timezones() if "/" in n or n == "UTC")


def shown_zone(values: Mapping[str, str], viewer: Person, errors: FormErrors) -> ZoneInfo:
    """The zone the page shows times in: ``tz`` (or the typed ``tz_other``), else the viewer's.

    A name typed while the radio stays on the zone already shown (``shown``) is taken as meant:
    without a script nothing ticks "another zone" for the person. An unknown name is put in
    ``errors`` (field ``tz_other``) and the viewer's zone is shown."""
    raw = (values.get("tz") or "").strip()
    typed = (values.get("tz_other") or "").strip()
    was = values.get("shown")  # the zone the switcher's page showed (its radio was already chosen)
    if raw == OTHER or (typed and raw == was and typed != was):  # a name typed, its radio not ticked
        raw = typed
        if not raw:
            errors.add(ValidationFailed("Type a time zone, such as Asia/Tokyo.", "tz_other"))
            return zone_of(viewer)
    if not raw:
        return zone_of(viewer)
    try:
        return zone_named(raw, strict=True, owner="The zone you asked for")
    except UnknownTimeZone:
        errors.add(ValidationFailed(f"No time zone is called {raw[:80]}: give an IANA name such as "
                                    "Europe/Paris or America/New_York.", "tz_other"))
        return zone_of(viewer)


def hours(slot: Slot, zone: ZoneInfo) -> str:
    """'04:00-04:30 EST' (the end's abbreviation if a clock change falls inside)."""
    s, e = slot.start.astimezone(zone), slot.end.astimezone(zone)
    return f"{s:%H:%M}\u2013{e:%H:%M} {e.tzname() if s.tzname() != e.tzname() else s.tzname()}"


def beside(slot: Slot, shown: ZoneInfo, viewer: Person, other: Person) -> str:
    """The other person's local time ("Tue 01:00-01:30 JST for Grace"); when the page already shows
    their zone, the viewer's own ("... for you"); nothing when that is the shown zone too."""
    theirs, mine = zone_of(other), zone_of(viewer)
    if theirs.key != shown.key:
        zone, who = theirs, other.name
    elif mine.key != shown.key:
        zone, who = mine, "you"
    else:
        return ""
    day = "" if slot.start.astimezone(zone).date() == slot.start.astimezone(shown).date() \
        else f"{slot.start.astimezone(zone):%a} "
    return f"{day}{hours(slot, zone)} for {who}"


def anchor(day: date) -> str:
    return f"day-{day.isoformat()}"


def day_choices(slots: list[Slot], shown: ZoneInfo, viewer: Person, other: Person) -> list[DayChoices]:
    """Slots grouped by their day in the shown zone."""
    days = []
    for day, group in groupby(slots, key=lambda s: s.start.astimezone(shown).date()):
        items = [SlotChoice(iso(s.start), hours(s, shown), beside(s, shown, viewer, other)) for s in group]
        days.append(DayChoices(day, f"{day:%A} {day.day} {day:%b}", anchor(day), items))
    return days


def strip(week: SlotWeek, days: list[DayChoices]) -> list[StripDay]:
    counts = {d.day: len(d.slots) for d in days}
    return [StripDay(d, f"{d:%a}", f"{d:%A} {d.day} {d:%B}", anchor(d), counts.get(d, 0))
            for d in week.days()]


def zone_options(viewer: Person, other: Person) -> list[ZoneOption]:
    mine, theirs = zone_of(viewer).key, zone_of(other).key
    if mine == theirs:
        return [ZoneOption(mine, f"Your zone and {other.name}'s ({mine})")]
    return [ZoneOption(mine, f"Your zone ({mine})"), ZoneOption(theirs, f"{other.name}'s zone ({theirs})")]


def _day(raw: str | None) -> date | None:
    try:
        return date.fromisoformat((raw or "").strip())
    except ValueError:
        return None


def picker_context(
    *,
    prog: Program,
    viewer: Person,
    other: Person,
    mentor: Person,
    mentee: Person,
    values: Mapping[str, str],
    chosen: list[str],
    errors: FormErrors,
    url: Callable[..., str],
    now: datetime,
) -> dict[str, Any]:
    """What ``web/_week_picker.html`` renders: the week, its days, the zone switcher, the lead time.

    ``url(**params)`` is the picker page's own address with ``params`` added (week, tz).
    Without ``week`` the page opens on the week of the time chosen beforehand, else this week,
    or the first later week with a free slot (``moved``).
    """
    zone = shown_zone(values, viewer, errors)
    asked = _day(values.get("week")) if values.get("week") else None
    if asked is None and chosen:
        try:
            asked = parse_utc(chosen[0], "slot").astimezone(zone).date()
        except ValidationFailed:
            asked = None
    moved = False
    if asked is not None or values.get("week"):
        week = week_of(zone, now, asked)
        slots = week_slots(db(), prog, mentor, mentee, week, now)
    else:
        week, slots = first_week_with_slots(db(), prog, mentor, mentee, zone, now)
        moved = not week.first
    days = day_choices(slots, zone, viewer, other)
    tz = "" if zone.key == zone_of(viewer).key else zone.key
    options = zone_options(viewer, other)

    def week_url(monday: date) -> str:
        return url(week=monday.isoformat(), tz=tz or None)

    earliest = now + timedelta(hours=prog.lead_time_hours)
    return {
        "week": week, "monday": week.monday, "days": days, "strip": strip(week, days), "moved": moved,
        "slot_count": len(slots), "chosen": chosen,
        "missing": [c for c in chosen if c not in {s.value for d in days for s in d.slots}],
        "prev_url": None if week.first else week_url(week.monday - timedelta(weeks=1)),
        "next_url": None if week.last else week_url(week.monday + timedelta(weeks=1)),
        "post_url": week_url(week.monday), "zone_url": url(),
        "shown_zone": zone.key, "zone_options": options,
        "other_zone": bool(errors.get("tz_other")) or zone.key not in {o.value for o in options},
        "typed_zone": values.get("tz_other", "") if errors.get("tz_other") else
        (zone.key if zone.key not in {o.value for o in options} else ""),
        "zone_names": zone_names(), "other": other, "lead_hours": prog.lead_time_hours,
        "earliest": f"{earliest.astimezone(zone):%a} {earliest.astimezone(zone).day} "
                    f"{earliest.astimezone(zone):%b}, {earliest.astimezone(zone):%H:%M} "
                    f"{earliest.astimezone(zone).tzname()}",
        "lead_in_week": week.start < earliest,
    }
