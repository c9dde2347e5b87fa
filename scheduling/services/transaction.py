"""The one-transaction-per-service rule, and what happens when two services race.

Row locks are taken in one order (:mod:`scheduling.locks`). Should the database still
abort a transaction because of a concurrent one (a deadlock, or a serialization failure:
SQLSTATE 40P01 / 40001), :func:`retry_lost_races` runs the whole service again, a few
times, and then refuses with :class:`ConcurrentChange` (409), never a server error.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from scheduling.errors import ConcurrentChange
from scheduling.locks import lock_people

__all__ = ["ATTEMPTS", "lock_people", "lost_race", "retry_lost_races", "unit_of_work"]

log = logging.getLogger(__name__)
LOST_RACE_STATES = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected
ATTEMPTS = 3
_DEPTH = "flashmentor_service_depth"
P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def unit_of_work(session: Session) -> Iterator[None]:
    """Roll back on any exception so a refused action leaves the database (and locks) as it was."""
    try:
        yield
    except BaseException:
        session.rollback()
        raise


def lost_race(error: BaseException) -> bool:
    """Whether the database aborted this transaction only because of a concurrent one."""
    return isinstance(error, DBAPIError) and getattr(error.orig, "sqlstate", None) in LOST_RACE_STATES


def retry_lost_races(fn: Callable[Concatenate[Session, P], R]) -> Callable[Concatenate[Session, P], R]:
    """Run the service again (from a rolled-back session) when it lost a race, then give up with a 409.

    Only the outermost service retries: one called by another is part of that one's
    transaction, which is what has to run again. Arguments are ORM rows the rollback
    expired, so a second run reads them afresh.
    """

    @functools.wraps(fn)
    def service(session: Session, /, *args: P.args, **kwargs: P.kwargs) -> R:
        if session.info.get(_DEPTH):
            return fn(session, *args, **kwargs)
        session.info[_DEPTH] = 1
        try:
            for attempt in range(1, ATTEMPTS + 1):
                try:
                    return fn(session, *args, **kwargs)
                except DBAPIError as exc:
                    if not lost_race(exc):
                        raise
                    session.rollback()
                    log.warning("%s lost a race (attempt %d of %d): %s", fn.__name__, attempt, ATTEMPTS,
                                getattr(exc.orig, "sqlstate", "?"))
                    time.sleep(random.uniform(0.005, 0.05) * attempt)  # let the winner finish first
            raise ConcurrentChange("Someone changed this at the same moment; nothing was changed. Try again.")
        finally:
            session.info.pop(_DEPTH, None)

    return service
