"""The request state machine as a table: every action from every state, allowed and refused.

A refused transition raises ``invalid_transition`` naming the current state and
changes nothing: same state, same rows, no events published.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from scheduling.db import make_session_factory
from scheduling.errors import DomainError, Forbidden
from scheduling.events import MeetingScheduled, RequestAnswered
from scheduling.models import (
    DeclineReason,
    Initiator,
    Meeting,
    MeetingRequest,
    MeetingState,
    Message,
    Person,
    ProposedTime,
    RequestState,
)
from scheduling.services import requests as svc
from tests.factories import (
    NOW,
    Cast,
    at,
    captured_events,
    count_rows,
    make_cast,
    make_request,
    slot,
)

WED_10 = at("2030-01-09", "10:00")
THU_10 = at("2030-01-10", "10:00")
S = RequestState
TABLES = (MeetingRequest, ProposedTime, Meeting, Message)


World = Cast


@pytest.fixture
def w(db: Session) -> World:
    return make_cast(db)


def new_request(db: Session, w: World, **kw: Any) -> MeetingRequest:
    return make_request(
        db,
        program=w.program,
        mentee=w.mentee,
        mentor=w.mentor,
        times=kw.pop("times", [slot(WED_10), slot(WED_10 + timedelta(hours=2))]),
        **kw,
    )


def in_state(db: Session, w: World, state: RequestState) -> MeetingRequest:
    """A request brought into ``state`` by the services themselves."""
    req = new_request(db, w)
    mentor, mentee = w.mentor, w.mentee
    if state == S.ACCEPTED:
        svc.accept(db, req, actor=mentor, now=NOW)
    elif state == S.COUNTERED:
        svc.counter(db, req, actor=mentor, start=THU_10, end=THU_10 + timedelta(minutes=30), now=NOW)
    elif state == S.DECLINED:
        svc.decline(db, req, actor=mentor, reason=DeclineReason.NO_TIME, now=NOW)
    elif state == S.EXPIRED:
        svc.expire(db, req, now=NOW)
    elif state == S.WITHDRAWN:
        svc.withdraw(db, req, actor=mentee, now=NOW)
    assert req.state == state
    return req


Action = Callable[[Session, MeetingRequest, Person | None], Any]

ACTIONS: dict[str, tuple[str | None, Action]] = {
    # name: (who does it, how)
    "accept": ("mentor", lambda db, r, a: svc.accept(db, r, actor=a, now=NOW)),
    "counter": (
        "mentor",
        lambda db, r, a: svc.counter(
            db,
            r,
            actor=a,
            start=THU_10 + timedelta(hours=1),
            end=THU_10 + timedelta(hours=1, minutes=30),
            now=NOW,
        ),
    ),
    "confirm": ("mentee", lambda db, r, a: svc.confirm_counter(db, r, actor=a, now=NOW)),
    "decline": ("mentor", lambda db, r, a: svc.decline(db, r, actor=a, reason="not_my_expertise", now=NOW)),
    "withdraw": ("mentee", lambda db, r, a: svc.withdraw(db, r, actor=a, now=NOW)),
    "expire": (None, lambda db, r, a: svc.expire(db, r, now=NOW)),
    "close": ("admin", lambda db, r, a: svc.expire(db, r, now=NOW, by_admin=a)),
}

ALLOWED: dict[tuple[RequestState, str], RequestState] = {
    (S.PENDING, "accept"): S.ACCEPTED,
    (S.PENDING, "counter"): S.COUNTERED,
    (S.PENDING, "decline"): S.DECLINED,
    (S.PENDING, "withdraw"): S.WITHDRAWN,
    (S.PENDING, "expire"): S.EXPIRED,
    (S.PENDING, "close"): S.EXPIRED,
    (S.COUNTERED, "confirm"): S.ACCEPTED,
    (S.COUNTERED, "withdraw"): S.WITHDRAWN,
    (S.COUNTERED, "expire"): S.EXPIRED,
    (S.COUNTERED, "close"): S.EXPIRED,
}

TABLE = [(state, action) for state in RequestState for action in ACTIONS]


@pytest.mark.parametrize(("state", "action"), TABLE, ids=[f"{s.value}-{a}" for s, a in TABLE])
def test_transition_table(db: Session, w: World, state: RequestState, action: str) -> None:
    req = in_state(db, w, state)
    role, run = ACTIONS[action]
    actor = w.person(role) if role else None
    before = count_rows(db, *TABLES)
    target = ALLOWED.get((state, action))
    with captured_events() as seen:
        if target is None:
            with pytest.raises(DomainError) as info:
                run(db, req, actor)
            assert info.value.code == "invalid_transition"
            assert info.value.status == 409
            assert state.value in info.value.message
        else:
            run(db, req, actor)
    db.expire_all()
    stored = db.get(MeetingRequest, req.id)
    assert stored is not None
    if target is None:
        assert stored.state == state
        assert count_rows(db, *TABLES) == before
        assert seen == []
    else:
        assert stored.state == target
        answered = [e for e in seen if isinstance(e, RequestAnswered)]
        assert answered == [RequestAnswered(req.id, target.value)]
        booked = [e for e in seen if isinstance(e, MeetingScheduled)]
        assert len(booked) == (1 if target == S.ACCEPTED else 0)
        assert stored.closed_at == (None if target == S.COUNTERED else NOW)


WRONG_ACTORS = [
    (S.PENDING, "accept", "mentee", "forbidden"),
    (S.PENDING, "accept", "stranger", "not_participant"),
    (S.PENDING, "accept", "admin", "not_participant"),
    (S.PENDING, "counter", "mentee", "forbidden"),
    (S.PENDING, "decline", "mentee", "forbidden"),
    (S.PENDING, "decline", "stranger", "not_participant"),
    (S.PENDING, "withdraw", "mentor", "forbidden"),
    (S.PENDING, "withdraw", "stranger", "not_participant"),
    (S.COUNTERED, "confirm", "mentor", "forbidden"),
    (S.COUNTERED, "confirm", "admin", "not_participant"),
    (S.COUNTERED, "withdraw", "mentor", "forbidden"),
    (S.PENDING, "close", "mentor", "forbidden"),
    (S.PENDING, "close", "mentee", "forbidden"),
]


@pytest.mark.parametrize(
    ("state", "action", "role", "code"), WRONG_ACTORS, ids=[f"{a}-by-{r}" for _, a, r, _ in WRONG_ACTORS]
)
def test_only_the_right_side_may_act(
    db: Session, w: World, state: RequestState, action: str, role: str, code: str
) -> None:
    req = in_state(db, w, state)
    before = count_rows(db, *TABLES)
    with captured_events() as seen, pytest.raises(Forbidden) as info:
        ACTIONS[action][1](db, req, w.person(role))
    assert info.value.code == code
    assert info.value.status == 403
    db.expire_all()
    assert db.get(MeetingRequest, req.id).state == state  # type: ignore[union-attr]
    assert count_rows(db, *TABLES) == before
    assert seen == []


def test_accepting_an_expired_request_names_the_state(db: Session, w: World) -> None:
    req = in_state(db, w, S.EXPIRED)
    with pytest.raises(DomainError, match="Cannot accept a request that is expired"):
        svc.accept(db, req, actor=w.mentor, now=NOW)


# --- accept -------------------------------------------------------------------------------------


def test_accept_books_the_chosen_time(db: Session, w: World) -> None:
    req = new_request(db, w, mode="in_person", location="Room 7")
    second = req.proposed_times[1]
    with captured_events() as seen:
        meeting = svc.accept(db, req, actor=w.mentor, proposed_time_id=second.id, now=NOW)
    db.expire_all()
    stored = db.scalars(select(Meeting)).one()
    assert stored.id == meeting.id
    assert (stored.start_at, stored.end_at) == (second.start_at, second.end_at)
    assert stored.state == MeetingState.SCHEDULED
    assert (stored.mentor_id, stored.mentee_id, stored.request_id) == (w.mentor.id, w.mentee.id, req.id)
    assert (stored.topic, stored.mode.value, stored.location) == ("Career advice", "in_person", "Room 7")
    assert re.fullmatch(r"meeting-[0-9a-f-]{36}@flashmentor", stored.uid)
    assert stored.sequence == 0
    assert stored.request.answered_at == NOW
    assert seen == [RequestAnswered(req.id, "accepted"), MeetingScheduled(meeting.id)]


def test_accept_by_index_and_unique_uids(db: Session, w: World) -> None:
    a = new_request(db, w)
    b = new_request(db, w, times=[slot(THU_10)])
    m1 = svc.accept(db, a, actor=w.mentor, time_index=1, now=NOW)
    m2 = svc.accept(db, b, actor=w.mentor, now=NOW)
    assert m1.start_at == WED_10 + timedelta(hours=2)
    assert m2.start_at == THU_10
    assert m1.uid != m2.uid


@pytest.mark.parametrize("choice", [{"time_index": 2}, {"time_index": -1}, {"proposed_time_id": 999_999}])
def test_accept_refuses_a_time_that_was_not_proposed(
    db: Session, w: World, choice: dict[str, int]
) -> None:
    req = new_request(db, w)
    with pytest.raises(DomainError) as info:
        svc.accept(db, req, actor=w.mentor, now=NOW, **choice)
    assert (info.value.code, info.value.field) == ("validation_failed", "time_id")
    assert count_rows(db, Meeting) == {"Meeting": 0}


def test_accept_rechecks_the_lead_time(db: Session, w: World) -> None:
    req = new_request(db, w, times=[slot(WED_10)])
    with pytest.raises(DomainError) as info:
        svc.accept(db, req, actor=w.mentor, now=WED_10 - timedelta(hours=2))
    assert info.value.code == "lead_time_too_short"
    with pytest.raises(DomainError) as info:
        svc.accept(db, req, actor=w.mentor, now=WED_10 + timedelta(hours=1))
    assert info.value.code == "time_in_past"
    db.expire_all()
    assert db.get(MeetingRequest, req.id).state == S.PENDING  # type: ignore[union-attr]


def test_accept_refuses_a_time_booked_since_the_request(db: Session, w: World) -> None:
    """Two mentees asked for the same time; the mentor can only accept one of them."""
    first = new_request(db, w, times=[slot(WED_10)])
    second = make_request(
        db, program=w.program, mentee=w.stranger, mentor=w.mentor, times=[slot(WED_10)]
    )
    svc.accept(db, first, actor=w.mentor, now=NOW)
    before = count_rows(db, *TABLES)
    with captured_events() as seen, pytest.raises(DomainError) as info:
        svc.accept(db, second, actor=w.mentor, now=NOW)
    assert info.value.code in ("slot_not_available", "meeting_overlap")
    assert info.value.status == 409
    assert count_rows(db, *TABLES) == before
    assert seen == []
    db.expire_all()
    assert db.get(MeetingRequest, second.id).state == S.PENDING  # type: ignore[union-attr]


# --- counter, confirm, decline ------------------------------------------------------------------


def test_counter_then_confirm_books_the_counter_time(db: Session, w: World) -> None:
    req = new_request(db, w)
    svc.counter(
        db,
        req,
        actor=w.mentor,
        start=THU_10,
        end=THU_10 + timedelta(minutes=30),
        message="Thursday suits me better",
        now=NOW,
    )
    assert req.state == S.COUNTERED
    assert req.answered_at == NOW
    counter = svc.counter_time(req)
    assert counter is not None and counter.proposed_by == Initiator.MENTOR
    assert counter.start_at == THU_10
    assert [m.body for m in db.scalars(select(Message))] == ["Thursday suits me better"]
    assert svc.allowed_actions(req, w.mentee) == ["confirm", "withdraw"]
    assert svc.allowed_actions(req, w.mentor) == []
    meeting = svc.confirm_counter(db, req, actor=w.mentee, now=NOW)
    assert (meeting.start_at, req.state) == (THU_10, S.ACCEPTED)


@pytest.mark.parametrize(
    ("start", "minutes", "code", "field"),
    [
        (WED_10, 30, "validation_failed", "start"),  # already proposed: accept it instead
        (at("2030-01-01", "10:00"), 30, "time_in_past", "start"),  # off-slot is allowed: test_counter_times
        (THU_10, 60, "bad_slot_length", "start"),
        (THU_10.replace(tzinfo=None), 30, "validation_failed", "start"),
        (at("2030-01-07", "12:00"), 30, "lead_time_too_short", "start"),
    ],
)
def test_a_counter_time_follows_the_booking_rules(
    db: Session, w: World, start: Any, minutes: int, code: str, field: str
) -> None:
    req = new_request(db, w)
    before = count_rows(db, *TABLES)
    with pytest.raises(DomainError) as info:
        svc.counter(
            db,
            req,
            actor=w.mentor,
            start=start,
            end=start + timedelta(minutes=minutes),
            message="hi",
            now=NOW,
        )
    assert (info.value.code, info.value.field) == (code, field)
    assert count_rows(db, *TABLES) == before
    db.expire_all()
    assert db.get(MeetingRequest, req.id).state == S.PENDING  # type: ignore[union-attr]


def test_decline_keeps_reason_and_message(db: Session, w: World) -> None:
    req = new_request(db, w)
    svc.decline(db, req, actor=w.mentor, reason="other", message="On leave all month", now=NOW)
    db.expire_all()
    stored = db.get(MeetingRequest, req.id)
    assert stored is not None
    assert (stored.state, stored.decline_reason, stored.decline_message) == (
        S.DECLINED,
        DeclineReason.OTHER,
        "On leave all month",
    )
    assert stored.answered_at == NOW


@pytest.mark.parametrize(
    ("reason", "message", "field"),
    [
        ("other", "", "message"),
        ("busy-ish", "x", "reason"),
        (None, "", "reason"),
        ("no_time", "x" * 2001, "message"),
    ],
)
def test_decline_needs_a_known_reason(
    db: Session, w: World, reason: Any, message: str, field: str
) -> None:
    req = new_request(db, w)
    with pytest.raises(DomainError) as info:
        svc.decline(db, req, actor=w.mentor, reason=reason, message=message, now=NOW)
    assert (info.value.code, info.value.field) == ("validation_failed", field)
    db.expire_all()
    assert db.get(MeetingRequest, req.id).state == S.PENDING  # type: ignore[union-attr]


def test_a_mentor_initiated_request_is_answered_by_the_mentee(db: Session, w: World) -> None:
    w.program.mentors_may_create = True
    db.commit()
    req = new_request(db, w, initiated_by="mentor")
    assert svc.allowed_actions(req, w.mentee) == ["accept", "counter", "decline"]
    assert svc.allowed_actions(req, w.mentor) == ["withdraw"]
    with pytest.raises(Forbidden):
        svc.accept(db, req, actor=w.mentor, now=NOW)
    meeting = svc.accept(db, req, actor=w.mentee, now=NOW)
    assert meeting.mentor_id == w.mentor.id


def test_auto_close_due_date(db: Session, w: World) -> None:
    req = new_request(db, w)
    assert svc.auto_close_due_at(req) == NOW + timedelta(days=14)
    later = NOW + timedelta(days=2)
    svc.counter(db, req, actor=w.mentor, start=THU_10, end=THU_10 + timedelta(minutes=30), now=later)
    assert svc.auto_close_due_at(req) == later + timedelta(days=14)  # now waiting on the mentee
    w.program.auto_close_after_days = None
    assert svc.auto_close_due_at(req) is None


# --- concurrency (PostgreSQL row lock) ----------------------------------------------------------


def test_two_concurrent_accepts_for_one_mentor_cannot_both_win(
    db: Session, w: World, engine: Engine
) -> None:
    """While one transaction holds the mentor's row, a second accept waits, then sees the booking."""
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks are a PostgreSQL feature; SQLite serialises whole-database writes")
    first = new_request(db, w, times=[slot(WED_10)])
    second = make_request(
        db, program=w.program, mentee=w.stranger, mentor=w.mentor, times=[slot(WED_10)]
    )
    factory = make_session_factory(engine)
    holder, racer = factory(), factory()
    outcome: dict[str, Any] = {}

    def race() -> None:
        req = racer.get(MeetingRequest, second.id)
        mentor = racer.get(Person, w.mentor.id)
        try:
            outcome["meeting"] = svc.accept(racer, req, actor=mentor, now=NOW)  # type: ignore[arg-type]
        except DomainError as exc:
            outcome["error"] = exc

    try:
        req = holder.get(MeetingRequest, first.id)
        mentor = holder.get(Person, w.mentor.id)
        holder.execute(select(Person.id).where(Person.id == w.mentor.id).with_for_update())
        thread = threading.Thread(target=race)
        thread.start()
        time.sleep(0.5)
        assert thread.is_alive(), "the second accept did not wait for the mentor's row lock"
        svc.accept(holder, req, actor=mentor, now=NOW)  # type: ignore[arg-type]
        thread.join(10)
        assert not thread.is_alive()
    finally:
        holder.close()
        racer.close()
    assert "meeting" not in outcome
    assert outcome["error"].code in ("slot_not_available", "meeting_overlap")
    assert count_rows(db, Meeting) == {"Meeting": 0 + 1}
