"""Whether a person's calendar connection works, and telling them once when it stops working.

A connection breaks when the provider refuses our access (consent revoked, ``invalid_grant``,
401/403 after a fresh token: an :class:`calendars.base.AuthError`) or when its sync fails
:func:`broken_after` times in a row for any other reason (server down for hours, calendar gone).
The person is told once per breakage (a notification whose email is always sent, with a link
to "My calendar"); admins see it on the tenants page; availability names them instead of
treating them as free (``scheduling.availability``). The next sync or connection test that gets
through mends it. Nothing here commits: it is part of the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from calendars.base import AuthError, CalendarError, ConnectionCheck, ConsentMissing
from scheduling import notifications
from scheduling.db import utcnow
from scheduling.models import CalendarAccount, ConnectionHealth, NotificationKind, Person

IN_LIST_LIMIT = 500  # past this many people, filter in Python (as scheduling.availability does)
BROKEN_AFTER = 3  # failed syncs in a row (15 minutes at the default 5-minute round)
REASON_MAX = 1000
CALENDAR_PAGE = "/calendar"
_limits = {"broken_after": BROKEN_AFTER}


def configure(*, broken_after: int) -> None:
    """Start-up (``worker.startup.wire``): failed syncs in a row that break a connection
    (``FLASHMENTOR_CALENDAR_BROKEN_AFTER``); at least 1."""
    _limits["broken_after"] = max(1, int(broken_after))


def broken_after() -> int:
    """How many failed syncs in a row break a connection."""
    return _limits["broken_after"]


def reason_for(exc: CalendarError) -> str:
    """The sentence the person and the admins read."""
    if isinstance(exc, ConsentMissing):
        return f"Access to the calendar is no longer granted: {exc}"
    if isinstance(exc, AuthError):
        return f"The calendar service refused our access (withdrawn or expired): {exc}"
    return f"The calendar could not be read: {type(exc).__name__}: {exc}"


def record_ok(account: CalendarAccount, *, now: datetime | None = None) -> bool:
    """A sync or test got through. Returns True when this mends a broken connection."""
    account.failed_syncs = 0
    account.last_ok_at = now or utcnow()
    if not account.broken:
        return False
    account.health = ConnectionHealth.OK
    account.broken_since = None
    account.broken_reason = ""
    return True


def record_failure(
    session: Session, account: CalendarAccount, exc: CalendarError, *, now: datetime | None = None
) -> bool:
    """A sync failed with ``exc``. Returns True when this breaks the connection (the person is told)."""
    account.failed_syncs = (account.failed_syncs or 0) + 1
    if account.broken:
        return False
    if not isinstance(exc, AuthError) and account.failed_syncs < broken_after():
        return False
    reason = reason_for(exc)
    if not isinstance(exc, AuthError):
        reason = f"{account.failed_syncs} syncs in a row failed. {reason}"
    mark_broken(session, account, reason, now=now)
    return True


def record_check(session: Session, account: CalendarAccount, check: ConnectionCheck) -> None:
    """A connection test of the person's own calendar: success mends; refused access breaks."""
    if check.ok:
        record_ok(account)
    elif check.problem in ("bad_credentials", "no_consent") and not account.broken:
        mark_broken(session, account, check.message)


def mark_broken(
    session: Session, account: CalendarAccount, reason: str, *, now: datetime | None = None
) -> None:
    """Broken from now on, for ``reason``; the person gets one notification (always emailed)."""
    now = now or utcnow()
    account.health = ConnectionHealth.BROKEN
    account.broken_since = now
    account.broken_reason = reason[:REASON_MAX]
    notifications.notify(
        session, account.person_id, NotificationKind.CALENDAR,
        "Your calendar connection stopped working",
        body=(f"{account.broken_reason}\n\nUntil it works again, others may be offered times when you "
              "are busy, and new meetings are not added to your calendar. Open My calendar to test or "
              "reconnect it (or ask your program admin if your organisation connects calendars for you)."),
        link=CALENDAR_PAGE, now=now,
    )


def broken_people(session: Session, person_ids: list[int]) -> list[tuple[int, str]]:
    """(id, name) of those among ``person_ids`` whose calendar connection is broken, by name.

    For many people (a ranking of every mentor) all broken connections are read and
    filtered here: they are few, and an IN list of thousands of bound parameters cost
    ~5 ms of client time and more of the server's on every "who is free" request.
    """
    if not person_ids:
        return []
    query = (
        select(Person.id, Person.name)
        .join(CalendarAccount, CalendarAccount.person_id == Person.id)
        .where(CalendarAccount.health == ConnectionHealth.BROKEN)
        .order_by(Person.name, Person.id)
    )
    if len(person_ids) <= IN_LIST_LIMIT:
        query = query.where(CalendarAccount.person_id.in_(person_ids))
    wanted = set(person_ids)
    return [(int(pid), str(name)) for pid, name in session.execute(query) if pid in wanted]


@dataclass(frozen=True)
class Connection:
    """One person's calendar connection as admins see it."""

    person_id: int
    name: str
    email: str
    broken: bool
    broken_since: datetime | None
    reason: str
    failed_syncs: int
    last_ok_at: datetime | None  # the last sync or test that got through


def connections(session: Session, tenant_id: int) -> list[Connection]:
    """The tenant's connections, broken ones first (longest broken first), then by name."""
    rows = session.execute(
        select(CalendarAccount, Person.name, Person.email)
        .join(Person, Person.id == CalendarAccount.person_id)
        .where(CalendarAccount.tenant_id == tenant_id)
    )
    found = [
        Connection(account.person_id, name, email, account.broken, account.broken_since,
                   account.broken_reason, account.failed_syncs, account.last_ok_at)
        for account, name, email in rows
    ]
    never = datetime.max.replace(tzinfo=UTC)
    return sorted(found, key=lambda c: (not c.broken, c.broken_since or never, c.name.lower(), c.person_id))


def describe(account: CalendarAccount) -> dict[str, Any]:
    """An account's health for the API: state, since, reason, failed syncs, last success."""
    return {
        "health": account.health.value if account.health else ConnectionHealth.OK.value,
        "broken_since": account.broken_since.isoformat() if account.broken_since else None,
        "broken_reason": account.broken_reason or None,
        "failed_syncs": account.failed_syncs or 0,
        "last_ok_at": account.last_ok_at.isoformat() if account.last_ok_at else None,
    }
