"""Domain events, published only after the transaction that caused them commits.

Services call :func:`record` with the session they changed. Just before the commit,
the follow-up work the events call for is written as rows in the same transaction
(:func:`scheduling.timed_work.plan_for_events`); subscribers (the busy cache, the web's
nudge of the relay) are called after commit, and events of a rolled-back transaction
are dropped. So ``scheduling`` stays free of RQ, no follow-up exists for a change that
never happened, and none is lost for one that did.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class DomainEvent:
    pass


@dataclass(frozen=True)
class RequestCreated(DomainEvent):
    request_id: int


@dataclass(frozen=True)
class RequestAnswered(DomainEvent):
    """The request left ``pending`` (accepted, countered, declined, expired, withdrawn)."""

    request_id: int
    state: str


@dataclass(frozen=True)
class MeetingScheduled(DomainEvent):
    meeting_id: int


@dataclass(frozen=True)
class MeetingRescheduled(DomainEvent):
    meeting_id: int


@dataclass(frozen=True)
class MeetingCanceled(DomainEvent):
    meeting_id: int


@dataclass(frozen=True)
class MeetingFinished(DomainEvent):
    """Completed or marked not held by the survey."""

    meeting_id: int


@dataclass(frozen=True)
class ActionPlanRecorded(DomainEvent):
    """Either side recorded (or rewrote) the meeting's agreed next step."""

    meeting_id: int


@dataclass(frozen=True)
class CalendarConnected(DomainEvent):
    """A person connected (or reconnected) their calendar through a tenant."""

    person_id: int
    tenant_id: int


Subscriber = Callable[[DomainEvent], Any]
_subscribers: list[Subscriber] = []
_KEY = "flashmentor_events"


def subscribe(fn: Subscriber) -> Subscriber:
    if fn not in _subscribers:
        _subscribers.append(fn)
    return fn


def unsubscribe(fn: Subscriber) -> None:
    if fn in _subscribers:
        _subscribers.remove(fn)


def record(session: Session, ev: DomainEvent) -> None:
    session.info.setdefault(_KEY, []).append(ev)


@dataclass(frozen=True)
class WorkPlanned(DomainEvent):
    """Timed work rows were committed (ids); the web app relays those due now at once."""

    work_ids: tuple[int, ...]


@event.listens_for(Session, "before_commit")
def _plan(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a SAVEPOINT released: the outer transaction has not committed anything yet
    from scheduling import timed_work  # it imports this module's event types

    pending = [ev for ev in session.info.get(_KEY, ()) if not isinstance(ev, WorkPlanned)]
    if pending:
        from scheduling import notifications, video  # in-app copies; video meetings' links

        video.assign_links(session, pending)
        notifications.for_events(session, pending)
        timed_work.plan_for_events(session, pending)
    if timed_work.has_planned(session):
        session.flush()
        ids = timed_work.planned_ids(session)
        timed_work.forget_planned(session)
        record(session, WorkPlanned(tuple(ids)))


@event.listens_for(Session, "after_commit")
def _publish(session: Session) -> None:
    if session.in_nested_transaction():
        return  # only the outermost commit makes the change real
    pending = session.info.pop(_KEY, [])
    for ev in pending:
        for fn in list(_subscribers):
            fn(ev)


@event.listens_for(Session, "after_rollback")
def _drop(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a SAVEPOINT rolled back; the outer transaction (and its events) goes on
    session.info.pop(_KEY, None)
    session.info.pop("flashmentor_planned_work", None)
