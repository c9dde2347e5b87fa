"""Races over real HTTP: the app under gunicorn (4 workers x 4 threads) on PostgreSQL, hit by many
client threads at once, released together by a barrier.

What must hold: a limit counted under its lock is never exceeded, two people changing one meeting
at the same moment never get a server error (a lost race is a 409 with a code), and one mentor's
active meetings never overlap. SQLite serialises every write on its database lock, so these
races only exist, and are only tested, on PostgreSQL.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from scheduling.models import (
    ACTIVE_MEETING_STATES,
    Meeting,
    MeetingRequest,
    MeetingState,
    Person,
    RequestState,
)
from scheduling.services import requests as request_service
from tests.factories import PASSWORD, at, make_mentee, make_mentor, make_program, make_request, slot
from tests.gunicorn_server import Gunicorn, gunicorn

WED_10 = at("2030-01-09", "10:00")
pytestmark = pytest.mark.slow  # a gunicorn and some hundred HTTP requests: ~20 s on PostgreSQL


@pytest.fixture(scope="module")
def server(engine: Engine, database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks are a PostgreSQL feature; SQLite serialises whole-database writes")
    log = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    with gunicorn(database_url, log) as running:
        yield running


Call = Callable[[], requests.Response]


def all_at_once(calls: list[Call]) -> list[requests.Response]:
    """Run every call in its own thread, released together, and return the replies in order."""
    barrier = threading.Barrier(len(calls))

    def run(call: Call) -> requests.Response:
        barrier.wait(30)
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def codes(replies: list[requests.Response]) -> Counter[tuple[int, str | None]]:
    """(status, error code) of each reply, counted; a 5xx shows its body so a failure explains itself."""
    out: Counter[tuple[int, str | None]] = Counter()
    for reply in replies:
        assert reply.status_code < 500, f"server error {reply.status_code}: {reply.text[:500]}"
        code = reply.json().get("error", {}).get("code") if reply.status_code >= 400 else None
        out[reply.status_code, code] += 1
    return out


def iso(moment: datetime) -> str:
    return moment.isoformat()


def test_fifty_concurrent_creates_leave_exactly_the_pending_limit(server: Gunicorn, db: Session) -> None:
    program = make_program(db, max_pending_requests=3)
    mentor, mentee = make_mentor(db), make_mentee(db)
    mentee_cookies = server.login(mentee.email, PASSWORD)
    days = [WED_10 + timedelta(days=7 * week + day) for week in range(10) for day in range(3)]
    body = [{"mentor_id": mentor.id, "topic": f"Question {i}",
             "times": [{"start": iso(day), "end": iso(day + timedelta(minutes=30))}]}
            for i, day in enumerate(days[i % len(days)] for i in range(50))]

    replies = all_at_once([lambda b=b: server.post("/api/v1/requests", mentee_cookies, b) for b in body])

    assert codes(replies) == {(201, None): 3, (409, "pending_limit_reached"): 47}
    pending = db.scalar(select(func.count(MeetingRequest.id)).where(
        MeetingRequest.mentee_id == mentee.id, MeetingRequest.state == RequestState.PENDING))
    assert pending == 3
    assert program.max_pending_requests == 3


def booked(
    db: Session, program_kw: dict[str, Any], starts: list[datetime]
) -> tuple[Person, Person, list[Meeting]]:
    """One mentor and one mentee with a scheduled meeting at each start, booked by the services."""
    program = make_program(db, **program_kw)
    mentor, mentee = make_mentor(db), make_mentee(db)
    meetings = []
    for start in starts:
        req = make_request(db, program=program, mentee=mentee, mentor=mentor, times=[slot(start)])
        meetings.append(request_service.accept(db, req, actor=mentor, now=start - timedelta(days=7)))
    return mentor, mentee, meetings


@pytest.mark.parametrize("round_", [1, 2, 3])  # one round hit the old deadlock about every other run
def test_cancel_against_reschedule_never_errors_and_ends_consistent(
    server: Gunicorn, db: Session, round_: int
) -> None:
    """The mentee cancels while the mentor moves the same meeting, 20 meetings at once: each pair
    runs one after the other in some order, so the cancel always wins and the move either came
    first (and is kept in the canceled meeting) or found the meeting canceled (409)."""
    monday = at("2030-01-14", "10:00")
    starts = [monday + timedelta(days=7 * week + day) for week in range(4) for day in range(5)]
    mentor, mentee, meetings = booked(db, {"max_pending_requests": 100}, starts)
    mentee_cookies = server.login(mentee.email, PASSWORD)
    mentor_cookies = server.login(mentor.email, PASSWORD)
    calls: list[Call] = []
    for m in meetings:
        moved = m.start_at + timedelta(hours=4)
        assert moved.hour == 14  # still inside the mentor's 09:00-17:00
        calls.append(lambda m=m: server.post(f"/api/v1/meetings/{m.id}/cancel", mentee_cookies,
                                             {"reason": "Something came up"}))
        calls.append(lambda m=m, moved=moved: server.post(
            f"/api/v1/meetings/{m.id}/reschedule", mentor_cookies,
            {"start": iso(moved), "end": iso(moved + timedelta(minutes=30))}))

    replies = all_at_once(calls)

    outcome = codes(replies)
    assert set(outcome) <= {(200, None), (409, "invalid_transition")}, outcome
    db.expire_all()
    for i, (m, start) in enumerate(zip(meetings, starts, strict=True)):
        cancel, move = replies[2 * i], replies[2 * i + 1]
        row = db.get(Meeting, m.id)
        assert row is not None
        assert cancel.status_code == 200, cancel.text
        assert row.state == MeetingState.CANCELED
        moved_first = move.status_code == 200
        assert row.start_at == (start + timedelta(hours=4) if moved_first else start)
        assert row.sequence == 1 + moved_first  # one version per change that was applied


def test_hundred_concurrent_accepts_book_no_overlapping_meetings(server: Gunicorn, db: Session) -> None:
    """One mentor accepts 100 requests whose times overlap in chains (every 15 minutes, 30 long)."""
    program = make_program(db, max_pending_requests=100)
    mentor = make_mentor(db)
    mentees = [make_mentee(db) for _ in range(25)]
    starts = [WED_10 - timedelta(hours=1) + timedelta(minutes=15 * k) for k in range(30)]  # 09:00..16:15
    requests_ = [make_request(db, program=program, mentee=mentees[i % 25], mentor=mentor,
                              times=[slot(starts[i % 30])]) for i in range(100)]
    mentor_cookies = server.login(mentor.email, PASSWORD)

    replies = all_at_once([lambda r=r: server.post(f"/api/v1/requests/{r.id}/accept", mentor_cookies, {})
                           for r in requests_])

    outcome = codes(replies)
    assert set(outcome) <= {(200, None), (409, "slot_not_available"), (409, "meeting_overlap")}, outcome
    active = db.scalars(select(Meeting).where(Meeting.mentor_id == mentor.id,
                                              Meeting.state.in_(ACTIVE_MEETING_STATES))
                        .order_by(Meeting.start_at)).all()
    assert len(active) == outcome[200, None] > 0
    for earlier, later in itertools.pairwise(active):
        assert earlier.end_at <= later.start_at, (earlier.id, later.id)
    for mentee in mentees:
        own = [m for m in active if m.mentee_id == mentee.id]
        for earlier, later in itertools.pairwise(own):
            assert earlier.end_at <= later.start_at
