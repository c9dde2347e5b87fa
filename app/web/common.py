"""What every page module shares: sign-in guards, the program, times in the viewer's zone, form errors.

Pages are thin: they read the form, call a ``scheduling`` service, and on a
``DomainError`` render the same form again with the message next to the field the
domain named. The domain is the only place that decides what input is valid.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import redirect, request, url_for
from werkzeug.wrappers import Response

from app.auth import current_person
from app.db import db
from scheduling.errors import DomainError, NotFound
from scheduling.models import Person, Program
from scheduling.services.program import get_program
from scheduling.zones import zone_of

F = TypeVar("F", bound=Callable[..., Any])


def me() -> Person:
    """The signed-in person (routes are guarded by :func:`signed_in`, so there always is one)."""
    person = current_person()
    if person is None:  # the guard redirects first; this only protects a route without it
        raise NotFound("Sign in first.")
    return person


def signed_in(*roles: str) -> Callable[[F], F]:
    """Send visitors to the sign-in page (and back afterwards); refuse people without one of ``roles``."""

    def decorator(fn: F) -> F:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            person = current_person()
            if person is None:
                return redirect(url_for("web.signin", next=request.full_path.rstrip("?")))
            if roles and not set(roles) & set(person.roles):
                from flask import abort

                abort(403, description=f"This page is for the {' or '.join(roles)} role.")
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def program() -> Program:
    return get_program(db())


def zone(person: Person) -> tzinfo:
    return zone_of(person)


# --- times, always in the viewer's zone, zone named ---------------------------------------------


def local(moment: datetime | None, viewer: Person) -> datetime | None:
    return None if moment is None else moment.astimezone(zone(viewer))


def when(moment: datetime | None, viewer: Person) -> str:
    """'Wed 9 Jan 2030, 10:00 GMT'."""
    at = local(moment, viewer)
    if at is None:
        return ""
    return f"{at:%a} {at.day} {at:%b %Y}, {at:%H:%M} {at.tzname()}"


def span(start: datetime, end: datetime, viewer: Person) -> str:
    """'Wed 9 Jan 2030, 10:00-10:30 GMT' (the end's zone abbreviation if a clock change falls inside)."""
    s, e = local(start, viewer), local(end, viewer)
    assert s is not None and e is not None
    end_text = f"{e:%H:%M}" if s.date() == e.date() else f"{e:%a} {e.day} {e:%b}, {e:%H:%M}"
    abbrev = s.tzname() if s.tzname() == e.tzname() else f"{s.tzname()}/{e.tzname()}"
    return f"{s:%a} {s.day} {s:%b %Y}, {s:%H:%M}\u2013{end_text} {abbrev}"


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def parse_week(raw: str | None, viewer: Person, today: date) -> date:
    """The Monday of the week asked for (``YYYY-MM-DD`` any day of it), else of this week."""
    if raw:
        try:
            return week_start(date.fromisoformat(raw))
        except ValueError:
            pass
    return week_start(today)


def local_midnight(day: date, viewer: Person) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone(viewer)).astimezone(UTC)


def parse_local(day: str, hhmm: str, viewer: Person, field: str) -> datetime:
    """A date and a wall time typed by the viewer, read in the viewer's zone, as UTC."""
    from scheduling.errors import ValidationFailed

    try:
        d = date.fromisoformat((day or "").strip())
    except ValueError:
        raise ValidationFailed("Give a date (YYYY-MM-DD).", field) from None
    try:
        t = time.fromisoformat((hhmm or "").strip())
    except ValueError:
        raise ValidationFailed("Give a time (HH:MM).", field) from None
    return datetime.combine(d, t, tzinfo=zone(viewer)).astimezone(UTC)


def chosen_slots(chosen: list[str], minutes: int, most: int) -> list[tuple[datetime, datetime]]:
    """The slots ticked in a week picker (``slot`` checkboxes) as ``(start, end)`` pairs."""
    from scheduling.errors import ValidationFailed

    if not chosen:
        raise ValidationFailed("Choose at least one time.", "slot")
    if len(chosen) > most:
        raise ValidationFailed(f"Choose at most {most} times.", "slot")
    starts = [parse_utc(raw, "slot") for raw in chosen]
    return [(s, s + timedelta(minutes=minutes)) for s in starts]


def parse_utc(raw: str | None, field: str) -> datetime:
    """A slot start as posted back by our own pages (ISO with offset)."""
    from scheduling.errors import ValidationFailed

    try:
        moment = datetime.fromisoformat((raw or "").strip())
    except ValueError:
        raise ValidationFailed("Choose a time from the list.", field) from None
    if moment.tzinfo is None:
        raise ValidationFailed("Choose a time from the list.", field)
    return moment.astimezone(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- form errors --------------------------------------------------------------------------------


class FormErrors(dict[str, str]):
    """Messages by form field; ``form`` holds one not tied to a field."""

    def add(self, exc: DomainError, field_map: Mapping[str, str] | None = None) -> FormErrors:
        field = exc.field or "form"
        if field_map:
            for prefix, target in field_map.items():
                if field == prefix or field.startswith(prefix + ".") or field.startswith(prefix + "["):
                    field = target
                    break
        self[field] = exc.message
        return self


def failed(exc: DomainError) -> None:
    """A refused action changed nothing; make sure the page's session holds nothing half-done."""
    db().rollback()


def back(endpoint: str, **values: Any) -> Response:
    return redirect(url_for(endpoint, **values))


def safe_next(target: str | None) -> str | None:
    """A same-site relative path to follow after sign-in, else None (no open redirect).

    Browsers drop tab, CR and LF inside a URL and treat ``\\`` as ``/``, so ``/\t/evil``
    would become ``//evil`` (another host): any control character, whitespace or
    backslash refuses the target, as does anything with a scheme or a host.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def zone_name(viewer: Person) -> str:
    return str(zone(viewer))
