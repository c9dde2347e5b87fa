"""A mentor's own settings for taking requests: a pause until a date, a monthly cap, and (where the
program lets mentors choose) the kinds of mentoring they offer. All checked first, then saved in one
transaction, so a refused form changes nothing. A pause leaves pending requests as they are; it only
keeps the mentor out of recommendations and the directory and refuses new requests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.orm import Session

from scheduling.errors import ValidationFailed
from scheduling.locks import lock_people
from scheduling.models import MentoringMode, Person, Program
from scheduling.services.transaction import unit_of_work
from scheduling.services.validation import current_time
from scheduling.zones import zone_of

MAX_PAUSE_DAYS = 366
MAX_MONTHLY_CAP = 100


@dataclass(frozen=True)
class MentoringSettings:
    """What the mentor typed: a pause end date (None: taking requests), a cap (None: no own cap)."""

    paused_until: date | None
    monthly_cap: int | None
    offers_one_time: bool = True
    offers_ongoing: bool = True


def pause_end(mentor: Person, day: date) -> datetime:
    """The start of ``day`` in the mentor's zone, as UTC: they take requests again from then."""
    return datetime.combine(day, time(), tzinfo=zone_of(mentor)).astimezone(UTC)


def check(program: Program, mentor: Person, settings: MentoringSettings, *, now: datetime) -> dict[str, str]:
    """Every problem by its field (empty: the settings may be saved)."""
    errors: dict[str, str] = {}
    if settings.paused_until is not None:
        today = now.astimezone(zone_of(mentor)).date()
        if settings.paused_until <= today:
            errors["paused_until"] = "Pick a day after today (or clear the date to take requests now)."
        elif settings.paused_until > today + timedelta(days=MAX_PAUSE_DAYS):
            errors["paused_until"] = f"Pause for at most {MAX_PAUSE_DAYS} days."
    if settings.monthly_cap is not None and not 0 <= settings.monthly_cap <= MAX_MONTHLY_CAP:
        errors["monthly_cap"] = f"Give a number from 0 to {MAX_MONTHLY_CAP}, or leave it empty for no cap."
    if program.mentoring_mode == MentoringMode.MENTOR_CHOICE and not (
            settings.offers_one_time or settings.offers_ongoing):
        errors["modes"] = "Offer at least one kind of mentoring."
    return errors


def save(session: Session, program: Program, mentor: Person, settings: MentoringSettings,
         *, now: datetime | None = None) -> None:
    """Save the mentor's settings (one transaction), or raise the first problem and change nothing."""
    now = current_time(now)
    if not mentor.is_mentor:
        raise ValidationFailed("Only mentors take requests.", "mentor_id")
    errors = check(program, mentor, settings, now=now)
    if errors:
        field, message = next(iter(errors.items()))
        raise ValidationFailed(message, field)
    with unit_of_work(session):
        lock_people(session, mentor.id)  # the cap is counted under the mentor's row lock
        mentor.paused_until = (None if settings.paused_until is None
                               else pause_end(mentor, settings.paused_until))
        mentor.monthly_meeting_cap = settings.monthly_cap
        if program.mentoring_mode == MentoringMode.MENTOR_CHOICE:
            mentor.offers_one_time = settings.offers_one_time
            mentor.offers_ongoing = settings.offers_ongoing
        session.commit()

