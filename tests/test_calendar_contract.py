"""One contract for every calendar provider: Radicale and Xandikos (real CalDAV servers),
Google Calendar and Microsoft Graph (loopback servers speaking their documented shapes).

The connector under test is the real product code; only the server differs.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from calendars.base import (
    Attendee,
    AuthError,
    BusyInterval,
    ChangeKind,
    EventSpec,
    RateLimited,
)
from tests.calendar_backends import BACKENDS, Backend, DavBackend, GoogleBackend, GraphBackend, local

pytestmark = pytest.mark.no_database  # no SQL: the PostgreSQL pass leaves it out

WEEK = (datetime(2030, 1, 7, tzinfo=UTC), datetime(2030, 1, 14, tzinfo=UTC))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each contract test once per provider; the servers (``tests/servers.py``) start once per
    run and each test gets fresh calendars."""
    name = request.param
    if name in ("radicale", "xandikos"):
        return DavBackend(request.getfixturevalue(f"{name}_server"))
    if name == "google":
        fake = request.getfixturevalue("google_fake")
        fake.store.failures.clear()
        fake.store.expired_tokens_before = 0
        return GoogleBackend(fake)
    fake = request.getfixturevalue("graph_fake")
    fake.store.failures.clear()
    fake.store.expired_tokens_before = 0
    fake.consented = True
    return GraphBackend(fake)


def utc(day: str, hhmm: str) -> datetime:
    return local(day, hhmm, "UTC")


def spec_for(
    owner_email: str, guest_email: str, start: datetime, *, uid: str = "", minutes: int = 30
) -> EventSpec:
    return EventSpec(
        uid=uid or f"meeting-{start:%Y%m%d%H%M}-{owner_email}@flashmentor.test",
        summary="Flash mentoring: career advice",
        description="Booked through Flashmentor.",
        start=start,
        end=start + timedelta(minutes=minutes),
        organizer=Attendee(owner_email, "Mentor"),
        attendees=(Attendee(guest_email, "Mentee"),),
        location="Video call",
    )


# --- busy -----------------------------------------------------------------------------------------


def test_busy_expands_recurrences_and_reads_all_day_in_the_owners_zone(backend: Backend) -> None:
    owner = backend.new_person("Europe/Berlin")
    other = backend.new_person("UTC")
    backend.seed(owner, utc("2030-01-07", "10:00"), utc("2030-01-07", "11:00"))
    # 14:00 New York wall time, three days running (19:00 UTC in January)
    backend.seed(
        owner,
        local("2030-01-08", "14:00", "America/New_York"),
        local("2030-01-08", "14:30", "America/New_York"),
        rrule="FREQ=DAILY;COUNT=3",
        time_zone="America/New_York",
    )
    backend.seed(owner, date(2030, 1, 12), date(2030, 1, 13))  # all day Saturday, Berlin time
    backend.seed(other, utc("2030-01-09", "08:00"), utc("2030-01-09", "09:00"))

    busy = backend.connector.busy([owner, other], *WEEK)

    assert busy[owner.person_key] == [
        BusyInterval(utc("2030-01-07", "10:00"), utc("2030-01-07", "11:00")),
        BusyInterval(utc("2030-01-08", "19:00"), utc("2030-01-08", "19:30")),
        BusyInterval(utc("2030-01-09", "19:00"), utc("2030-01-09", "19:30")),
        BusyInterval(utc("2030-01-10", "19:00"), utc("2030-01-10", "19:30")),
        BusyInterval(utc("2030-01-11", "23:00"), utc("2030-01-12", "23:00")),
    ]
    assert busy[other.person_key] == [BusyInterval(utc("2030-01-09", "08:00"), utc("2030-01-09", "09:00"))]


def test_transparent_and_cancelled_events_do_not_make_anyone_busy(backend: Backend) -> None:
    owner = backend.new_person()
    backend.seed(owner, utc("2030-01-07", "12:00"), utc("2030-01-07", "13:00"), transparent=True)
    backend.seed(owner, utc("2030-01-07", "15:00"), utc("2030-01-07", "16:00"), cancelled=True)
    backend.seed(owner, utc("2030-01-07", "17:00"), utc("2030-01-07", "18:00"))

    busy = backend.connector.busy([owner], *WEEK)

    assert busy[owner.person_key] == [BusyInterval(utc("2030-01-07", "17:00"), utc("2030-01-07", "18:00"))]


def test_busy_is_clipped_to_the_asked_range(backend: Backend) -> None:
    owner = backend.new_person()
    backend.seed(owner, utc("2030-01-07", "08:00"), utc("2030-01-07", "12:00"))

    busy = backend.connector.busy([owner], utc("2030-01-07", "10:00"), utc("2030-01-07", "11:00"))

    assert busy[owner.person_key] == [BusyInterval(utc("2030-01-07", "10:00"), utc("2030-01-07", "11:00"))]


# --- writes ---------------------------------------------------------------------------------------


def test_create_update_cancel_round_trip(backend: Backend) -> None:
    mentor, mentee = backend.new_person(), backend.new_person()
    spec = spec_for(mentor.email, mentee.email, utc("2030-01-09", "10:00"))

    ref = backend.connector.create_event(mentor, spec)
    stored = backend.state(mentor, ref.event_id)
    assert stored is not None and not stored["cancelled"]
    assert mentee.email.lower() in stored["attendees"]
    assert backend.connector.busy([mentor], *WEEK)[mentor.person_key] == [
        BusyInterval(utc("2030-01-09", "10:00"), utc("2030-01-09", "10:30"))
    ]

    moved = replace(spec, start=utc("2030-01-10", "15:00"), end=utc("2030-01-10", "15:30"), sequence=1)
    ref2 = backend.connector.update_event(mentor, ref, moved)
    assert ref2.event_id == ref.event_id
    stored = backend.state(mentor, ref.event_id)
    assert stored is not None and stored["start"] == utc("2030-01-10", "15:00")
    assert backend.connector.busy([mentor], *WEEK)[mentor.person_key] == [
        BusyInterval(utc("2030-01-10", "15:00"), utc("2030-01-10", "15:30"))
    ]

    backend.connector.cancel_event(mentor, ref2, replace(moved, sequence=2))
    stored = backend.state(mentor, ref.event_id)
    assert stored is None or stored["cancelled"]
    assert backend.connector.busy([mentor], *WEEK)[mentor.person_key] == []
    backend.connector.cancel_event(mentor, ref2, replace(moved, sequence=3))  # twice is harmless


def test_create_is_idempotent(backend: Backend) -> None:
    mentor, mentee = backend.new_person(), backend.new_person()
    spec = spec_for(mentor.email, mentee.email, utc("2030-01-09", "10:00"))

    first = backend.connector.create_event(mentor, spec)
    again = backend.connector.create_event(mentor, spec)  # a retried job

    assert again.event_id == first.event_id
    assert backend.count(mentor) == 1


# --- change detection -----------------------------------------------------------------------------


def _by_event(changes: list, event_id: str) -> list:
    return [c for c in changes if c.event_id == event_id]


def test_changes_report_moved_deleted_and_declined_events(backend: Backend) -> None:
    mentor, mentee = backend.new_person(), backend.new_person()
    connector = backend.connector
    baseline = connector.changes(mentor, None)
    ref = connector.create_event(mentor, spec_for(mentor.email, mentee.email, utc("2030-01-09", "10:00")))
    invite = backend.seed(
        mentor, utc("2030-01-10", "10:00"), utc("2030-01-10", "11:00"), organizer="boss@example.com"
    )
    after_create = connector.changes(mentor, baseline.cursor)
    assert _by_event(after_create.changes, ref.event_id)

    backend.move(mentor, ref.event_id, utc("2030-01-09", "13:00"), utc("2030-01-09", "13:30"))
    moved = connector.changes(mentor, after_create.cursor)
    [change] = _by_event(moved.changes, ref.event_id)
    assert change.kind == ChangeKind.MOVED
    assert (change.start, change.end) == (utc("2030-01-09", "13:00"), utc("2030-01-09", "13:30"))
    assert not _by_event(moved.changes, invite)  # untouched events are not reported again

    backend.decline(mentor, invite)
    declined = connector.changes(mentor, moved.cursor)
    [change] = _by_event(declined.changes, invite)
    assert change.kind == ChangeKind.DECLINED

    backend.delete(mentor, ref.event_id)
    deleted = connector.changes(mentor, declined.cursor)
    [change] = _by_event(deleted.changes, ref.event_id)
    assert change.kind == ChangeKind.CANCELED

    assert connector.changes(mentor, deleted.cursor).changes == []


def test_an_expired_cursor_falls_back_to_a_full_listing(backend: Backend) -> None:
    mentor, mentee = backend.new_person(), backend.new_person()
    ref = backend.connector.create_event(
        mentor, spec_for(mentor.email, mentee.email, utc("2030-01-09", "10:00"))
    )
    cursor = backend.connector.changes(mentor, None).cursor
    assert cursor
    if backend.name in ("radicale", "xandikos"):
        cursor = '{"token": "http://example.com/ns/sync/never-issued"}'
    else:
        backend.expire_cursors()

    batch = backend.connector.changes(mentor, cursor)

    assert [c.kind for c in _by_event(batch.changes, ref.event_id)] == [ChangeKind.MOVED]
    assert batch.cursor and batch.cursor != cursor


# --- errors ---------------------------------------------------------------------------------------


def test_bad_credentials_raise_auth_error(backend: Backend) -> None:
    owner = backend.new_person()
    with pytest.raises(AuthError):
        backend.bad_credentials().busy([owner], *WEEK)


def test_throttling_is_retried_honouring_retry_after(backend: Backend) -> None:
    owner = backend.new_person()
    backend.seed(owner, utc("2030-01-07", "10:00"), utc("2030-01-07", "11:00"))
    with backend.throttled(2, 429, {"Retry-After": "7"}) as connector:
        busy = connector.busy([owner], *WEEK)
        assert busy[owner.person_key] == [
            BusyInterval(utc("2030-01-07", "10:00"), utc("2030-01-07", "11:00"))
        ]
        assert backend.sleeps == [7.0, 7.0]  # two retries, each after the server's Retry-After
        assert backend.pending_failures() == 0


def test_persistent_throttling_ends_in_rate_limited_with_the_servers_delay(backend: Backend) -> None:
    owner = backend.new_person()
    with backend.throttled(50, 503, {"Retry-After": "2"}, max_attempts=3) as connector:
        with pytest.raises(RateLimited) as info:
            connector.busy([owner], *WEEK)
        assert info.value.retry_after == 2.0
        assert backend.sleeps == [2.0, 2.0]  # three attempts, then the worker gets the error
        assert backend.pending_failures() == 47
