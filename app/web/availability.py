"""A mentor's availability editor: a week grid of recurring slots, dated one-off slots, or a note.

The grid is a table of checkboxes (one per half hour per weekday, wall time in the
mentor's zone); checked cells next to each other become one weekly slot. Which parts
show follows the program's availability mode. Saving goes through
``scheduling.services.availability_editing``, which validates it all or changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time, timedelta
from typing import Any

from flask import flash, redirect, render_template, request, url_for

from app.db import db
from app.web import bp
from app.web.common import FormErrors, failed, me, parse_local, program, signed_in, span, zone_name
from scheduling.errors import DomainError, ValidationFailed
from scheduling.models import AvailabilityMode, Person
from scheduling.services import availability_editing as avail

STEP = 30  # minutes per grid cell
GRID_FROM, GRID_TO = 6 * 60, 22 * 60  # default rows shown; widened to cover existing slots
DAY_END = 24 * 60
DAYS = avail.WEEKDAYS


@dataclass(frozen=True)
class GridRow:
    minute: int
    label: str
    cells: list[tuple[str, bool, str]]  # (value "weekday-HH:MM", checked, accessible label)


def _hhmm(minute: int) -> str:
    return "23:59" if minute >= DAY_END else f"{minute // 60:02d}:{minute % 60:02d}"


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def grid_for(person: Person, checked: set[str] | None = None) -> list[GridRow]:
    """Rows of half hours; a cell is checked when the mentor's weekly slot covers all of it."""
    spans = [(w.weekday, _minutes(w.start_time),
              _minutes(w.end_time) if w.end_time != time(23, 59) else DAY_END)
             for w in person.weekly_slots]
    lo = min([GRID_FROM, *[s for _, s, _ in spans]]) // STEP * STEP
    hi = max([GRID_TO, *[e for _, _, e in spans]])
    rows = []
    for minute in range(lo, hi, STEP):
        cells = []
        for day in range(7):
            value = f"{day}-{_hhmm(minute)}"
            on = (value in checked) if checked is not None else any(
                d == day and s <= minute and minute + STEP <= e for d, s, e in spans)
            cells.append((value, on, f"{DAYS[day]} {_hhmm(minute)}-{_hhmm(minute + STEP)}"))
        rows.append(GridRow(minute, _hhmm(minute), cells))
    return rows


def slots_from_cells(values: list[str]) -> list[dict[str, Any]]:
    """Checked cells -> weekly slots, adjacent half hours of a day merged into one."""
    by_day: dict[int, set[int]] = {}
    for raw in values:
        try:
            day_s, hhmm = raw.split("-", 1)
            day = int(day_s)
            hours, minutes = hhmm.split(":")
            minute = int(hours) * 60 + int(minutes)
        except ValueError:
            raise ValidationFailed("The week grid sent a cell it does not have.", "weekly") from None
        if not 0 <= day <= 6 or not 0 <= minute < DAY_END or minute % STEP:
            raise ValidationFailed("The week grid sent a cell it does not have.", "weekly")
        by_day.setdefault(day, set()).add(minute)
    slots = []
    for day in sorted(by_day):
        run_start = prev = None
        for minute in sorted(by_day[day]):
            if run_start is None:
                run_start = prev = minute
            elif minute == prev + STEP:  # type: ignore[operator]
                prev = minute
            else:
                slots.append({"weekday": day, "start": _hhmm(run_start), "end": _hhmm(prev + STEP)})  # type: ignore[operator]
                run_start = prev = minute
        if run_start is not None:
            slots.append({"weekday": day, "start": _hhmm(run_start), "end": _hhmm(prev + STEP)})  # type: ignore[operator]
    return slots


def _page(person: Person, errors: FormErrors | None = None, form: dict[str, Any] | None = None,
          checked: set[str] | None = None, status: int = 200) -> Any:
    prog = program()
    dated = [(d, span(d.start_at, d.end_at, person)) for d in avail.upcoming_dated_slots(db(), person)]
    return render_template(
        "web/availability.html", me=person, program=prog,
        free_text=prog.availability_mode == AvailabilityMode.FREE_TEXT,
        grid=grid_for(person, checked), days=DAYS, dated=dated, weekly=avail.weekly_view(person),
        errors=errors or FormErrors(), form=form or {}, zone=zone_name(person),
    ), status


@bp.get("/availability")
@signed_in("mentor")
def availability() -> Any:
    return _page(me())


def _save(action: Any, done: str, field_map: dict[str, str], *, grid: bool = False) -> Any:
    person = me()
    try:
        action(person)
    except DomainError as exc:
        failed(exc)
        db().refresh(person)
        checked = set(request.form.getlist("cell")) if grid else None
        return _page(person, FormErrors().add(exc, field_map), dict(request.form), checked, status=422)
    flash(done, "info")
    return redirect(url_for("web.availability"))


@bp.post("/availability/weekly")
@signed_in("mentor")
def availability_weekly() -> Any:
    def save(person: Person) -> None:
        avail.update_availability(db(), person, weekly=slots_from_cells(request.form.getlist("cell")))

    return _save(save, "Weekly availability saved.", {"weekly_slots": "weekly", "time_zone": "weekly"},
                 grid=True)


@bp.post("/availability/dated")
@signed_in("mentor")
def availability_dated_add() -> Any:
    def add(person: Person) -> None:
        day = request.form.get("dated_date") or ""
        start = parse_local(day, request.form.get("dated_start") or "", person, "dated_start")
        end = parse_local(day, request.form.get("dated_end") or "", person, "dated_end")
        if end <= start and (request.form.get("dated_end") or "") == "00:00":
            end += timedelta(days=1)  # "until midnight"
        avail.add_dated_slot(db(), person, start, end)

    return _save(add, "Dated slot added.", {"dated_slot.start": "dated_start", "dated_slot.end": "dated_end",
                                            "dated_slot": "dated_start"})


@bp.post("/availability/dated/<int:slot_id>/remove")
@signed_in("mentor")
def availability_dated_remove(slot_id: int) -> Any:
    def remove(person: Person) -> None:
        avail.remove_dated_slot(db(), person, slot_id)

    return _save(remove, "Dated slot removed.", {"id": "form"})


@bp.post("/availability/note")
@signed_in("mentor")
def availability_note() -> Any:
    def save(person: Person) -> None:
        avail.set_availability_note(db(), person, request.form.get("note") or "")

    return _save(save, "Availability note saved.", {"note": "note"})
