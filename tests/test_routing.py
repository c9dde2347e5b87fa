"""Admin routing: ranked preferences, assignment through the normal request rules."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduling.errors import (
    AdminRoutingOff,
    AdminRoutingRequired,
    DomainError,
    Forbidden,
    InvalidTransition,
    PendingLimitReached,
    SlotNotAvailable,
)
from scheduling.models import MeetingRequest, Person, Program, RequestState, RoutingState
from scheduling.services import routing as svc
from tests.factories import NOW, at, make_admin, make_mentee, make_mentor, make_program, make_request, slot


@dataclass
class World:
    """An admin-routed program, its mentee and two mentors."""

    program: Program
    mentee: Person
    first: Person
    second: Person
    admin: Person


@pytest.fixture
def routed(db: Session) -> World:
    return World(
        program=make_program(db, admin_routed=True, max_pending_requests=2),
        mentee=make_mentee(db),
        first=make_mentor(db),
        second=make_mentor(db),
        admin=make_admin(db),
    )


def prefs(db: Session, w: World, **kw: object):  # type: ignore[no-untyped-def]
    return svc.submit_preferences(
        db, w.program, w.mentee, [w.first.id, w.second.id], topic="Pricing", now=NOW, **kw
    )  # type: ignore[arg-type]


def requests(db: Session) -> int:
    return db.scalar(select(func.count(MeetingRequest.id))) or 0


def test_mentee_cannot_ask_directly_but_admin_assignment_asks_the_mentor(db: Session, routed: World) -> None:
    with pytest.raises(AdminRoutingRequired):
        make_request(db, program=routed.program, mentee=routed.mentee, mentor=routed.first)
    routing = prefs(db, routed)
    assert [c.mentor_id for c in routing.choices] == [routed.first.id, routed.second.id]
    req = svc.assign(
        db, routing, routed.admin, routed.second.id, times=[slot(at("2030-01-09", "10:00"))], now=NOW
    )
    assert req.state == RequestState.PENDING and req.mentor_id == routed.second.id
    assert routing.state == RoutingState.ASSIGNED and routing.request_id == req.id
    with pytest.raises(InvalidTransition):
        svc.assign(db, routing, routed.admin, routed.first.id, now=NOW)


def test_default_times_are_the_first_shared_slots(db: Session, routed: World) -> None:
    req = svc.assign(db, prefs(db, routed), routed.admin, routed.first.id, now=NOW)
    # 24 h lead time from Monday 09:00 UTC: Tuesday 09:00 onwards, in the mentor's workweek.
    assert [p.start_at for p in req.proposed_times] == [
        at("2030-01-08", h) for h in ("09:00", "09:30", "10:00")
    ]


def test_a_refused_assignment_changes_nothing(db: Session, routed: World) -> None:
    routing = prefs(db, routed)
    with pytest.raises(DomainError) as err:  # inside the lead time
        svc.assign(
            db, routing, routed.admin, routed.first.id, times=[slot(at("2030-01-07", "12:00"))], now=NOW
        )
    assert err.value.code == "lead_time_too_short"
    idle = make_mentor(db, weekly=[])
    routing2 = svc.submit_preferences(db, routed.program, routed.mentee, [idle.id], topic="x", now=NOW)
    with pytest.raises(SlotNotAvailable):
        svc.assign(db, routing2, routed.admin, idle.id, now=NOW)
    db.expire_all()
    assert routing.state == RoutingState.OPEN and routing.assigned_mentor_id is None
    assert requests(db) == 0
    with pytest.raises(Forbidden):
        svc.assign(db, routing, routed.mentee, routed.first.id, now=NOW)


def test_preference_rules(db: Session, routed: World) -> None:
    program, mentee, first = routed.program, routed.mentee, routed.first
    bad = [
        ([], "mentor_ids"),
        ([first.id, first.id], "mentor_ids"),
        ([mentee.id], "mentor_ids[0]"),
        ([first.id, 99999], "mentor_ids[1]"),
        ([make_mentor(db).id for _ in range(6)], "mentor_ids"),
    ]
    for ids, field in bad:
        with pytest.raises(DomainError) as err:
            svc.submit_preferences(db, program, mentee, ids, topic="x", now=NOW)
        assert err.value.field == field
    prefs(db, routed)
    prefs(db, routed)
    with pytest.raises(PendingLimitReached):
        prefs(db, routed)
    withdrawn = svc.routings(db, program, mentee)[0]
    svc.withdraw_preferences(db, withdrawn, mentee, now=NOW)
    prefs(db, routed)  # room again
    assert [r.state for r in svc.routings(db, program, routed.admin)].count(RoutingState.OPEN) == 2
    assert svc.routings(db, program, make_mentee(db)) == []
    program.admin_routed = False
    db.commit()
    with pytest.raises(AdminRoutingOff):
        prefs(db, routed)
