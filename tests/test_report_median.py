"""The health report's median time pending is computed in SQL and equals ``statistics.median``
(odd and even counts; ``percentile_cont`` on PostgreSQL, the middle rows elsewhere)."""

from __future__ import annotations

import statistics
from datetime import timedelta

import pytest
from sqlalchemy import and_
from sqlalchemy.orm import Session

from scheduling.models import MeetingRequest
from scheduling.reports import _middle, _seconds_between, program_health
from tests.factories import NOW, make_mentee, make_mentor, make_program


@pytest.mark.parametrize("hours", [[5.0], [7.5, 1.0], [3.0, 9.0, 1.0], [2.0, 8.0, 4.0, 6.5, 1.25, 30.0]])
def test_median_pending_is_statistics_median(db: Session, hours: list[float]) -> None:
    program = make_program(db)
    mentee, mentor = make_mentee(db), make_mentor(db)
    for h in hours:
        db.add(MeetingRequest(program_id=program.id, mentee_id=mentee.id, mentor_id=mentor.id, topic="t",
                              state="declined", created_at=NOW, answered_at=NOW + timedelta(hours=h)))
    db.add(MeetingRequest(program_id=program.id, mentee_id=mentee.id, mentor_id=mentor.id, topic="open",
                          state="pending", created_at=NOW))  # not answered: not counted
    db.commit()
    report = program_health(db, program, now=NOW + timedelta(days=3))
    assert report["time_pending_hours"]["median"] == pytest.approx(statistics.median(hours), abs=0.01)
    # The fallback (what SQLite runs) gives the same on every database.
    dialect = db.get_bind().dialect.name
    seconds = _seconds_between(dialect, MeetingRequest.created_at, MeetingRequest.answered_at)
    answered = and_(MeetingRequest.program_id == program.id, MeetingRequest.answered_at.is_not(None))
    assert _middle(db, seconds, answered, len(hours)) == pytest.approx(statistics.median(hours) * 3600, abs=1)
    assert _middle(db, seconds, answered, 0) is None
