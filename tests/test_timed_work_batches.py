"""Batched hand-over: several due rows of one kind go to one RQ job (worker.relay,
worker.run.run_batch), and each row still runs, fails, retries and is recovered on its own."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from rq.job import Job, JobStatus
from sqlalchemy import event, select

from scheduling import timed_work
from scheduling.events import unsubscribe
from scheduling.models import MeetingRequest, Person, TimedWork, WorkKind, WorkState
from tests.factories import NOW, login, make_admin, make_mentee, make_mentor, make_program, make_request, slot
from tests.worker_harness import Life, life
from worker import relay, run, runtime, startup
from worker.jobs import JOBS

__all__ = ["life"]
M = timedelta(minutes=1)
START = NOW + timedelta(days=7)
SUBJECT = "Reminder: {} is waiting for your answer"


def waiting_requests(life: Life, count: int) -> list[tuple[Person, Person, MeetingRequest]]:
    """``count`` pending requests, each to its own mentor; their own notices already sent."""
    program = make_program(life.db)
    made = []
    for _ in range(count):
        mentor, mentee = make_mentor(life.db), make_mentee(life.db)
        made.append((mentor, mentee, make_request(life.db, program=program, mentee=mentee, mentor=mentor,
                                                  times=[slot(START)])))
    life.run_until(NOW + M)
    life.mail.clear()
    return made


def reminder_fails_for(
    monkeypatch: pytest.MonkeyPatch, broken: int, before: Callable[[int], None] | None = None
) -> Callable[..., Any]:
    """The reminder job raises for request ``broken`` (after ``before(broken)``) and reminds the
    others as usual; returns the real job."""
    remind = JOBS[WorkKind.REQUEST_REMINDER]

    def fails_for_one(request_id: int, manual: bool = False) -> Any:
        if request_id == broken:
            if before is not None:
                before(request_id)
            raise RuntimeError("mail server said no")
        return remind(request_id, manual)

    monkeypatch.setitem(JOBS, WorkKind.REQUEST_REMINDER, fails_for_one)
    return remind


def remind_all(life: Life, made: list[tuple[Person, Person, MeetingRequest]]) -> list[TimedWork]:
    """An admin's "remind now" for each request, due one second apart, not yet handed over."""
    rows = [timed_work.plan(life.db, WorkKind.REQUEST_REMINDER, f"request-{r.id}-manual-reminder-1",
                            due_at=NOW + M + timedelta(seconds=i), args=[r.id, True])
            for i, (_, _, r) in enumerate(made)]
    unsubscribe(startup.relay_planned)  # no nudge: the relays below hand them over
    life.db.commit()
    return rows


def reminders_to(life: Life, person: Person, asker: Person) -> int:
    return life.mail_to(person.email).count(SUBJECT.format(asker.name))


def refreshed(life: Life, rows: list[TimedWork]) -> list[TimedWork]:
    life.db.expire_all()
    return [life.db.get(TimedWork, row.id) for row in rows]  # type: ignore[misc]


def test_rows_of_one_kind_go_in_one_job_and_each_is_sent_once(life: Life) -> None:
    made = waiting_requests(life, 5)
    rows = remind_all(life, made)
    assert relay.relay_due(runtime.session_factory()(), life.queue, now=NOW + 2 * M, batch_size=3) == 5
    rows = refreshed(life, rows)
    first, second = f"fm-batch-{rows[0].key}", f"fm-batch-{rows[3].key}"
    assert [row.handed_job_id for row in rows] == [first] * 3 + [second] * 2
    assert sorted(life.queue.job_ids) == sorted([first, second])
    life.run_until(NOW + 2 * M)
    assert [reminders_to(life, mentor, mentee) for mentor, mentee, _ in made] == [1] * 5
    done = [(row.state, row.attempts, row.relays) for row in refreshed(life, rows)]
    assert done == [(WorkState.DONE, 0, 0)] * 5


def test_batch_size_one_is_one_job_per_row(life: Life) -> None:
    rows = remind_all(life, waiting_requests(life, 3))
    relay.relay_due(runtime.session_factory()(), life.queue, now=NOW + 2 * M, batch_size=1)
    rows = refreshed(life, rows)
    assert sorted(life.queue.job_ids) == sorted(row.job_id for row in rows)
    assert [row.batch_job_id for row in rows] == [None] * 3


def test_one_failing_row_retries_alone_and_the_rest_of_its_batch_is_sent(
    life: Life, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = waiting_requests(life, 4)
    remind = reminder_fails_for(monkeypatch, made[1][2].id)
    rows = remind_all(life, made)
    life.run_until(NOW + 2 * M)
    rows = refreshed(life, rows)
    assert [row.state for row in rows] == [WorkState.DONE, WorkState.DUE, WorkState.DONE, WorkState.DONE]
    failed = rows[1]
    assert (failed.attempts, failed.relays) == (1, 1)
    retry_in = (failed.due_at - (NOW + 2 * M)).total_seconds()  # the clock ticks on
    assert timed_work.MAIL_RETRY[0] <= retry_in < timed_work.MAIL_RETRY[0] + 10
    assert "RuntimeError: mail server said no" in failed.last_error
    assert "Traceback" in failed.last_error  # a batch keeps each row's traceback on the row
    assert [reminders_to(life, mentor, mentee) for mentor, mentee, _ in made] == [1, 0, 1, 1]

    monkeypatch.setitem(JOBS, WorkKind.REQUEST_REMINDER, remind)
    life.run_until(failed.due_at + M)  # the retry goes alone (it failed before) and is sent
    assert [reminders_to(life, mentor, mentee) for mentor, mentee, _ in made] == [1, 1, 1, 1]
    assert refreshed(life, [failed])[0].state == WorkState.DONE


def test_admins_see_the_traceback_of_a_row_that_failed_inside_a_batch(
    life: Life, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch job itself succeeded, so RQ kept no traceback: the row's own error is shown."""
    made = waiting_requests(life, 3)
    reminder_fails_for(monkeypatch, made[1][2].id)
    rows = remind_all(life, made)
    life.run_until(NOW + 2 * M)
    failed = refreshed(life, rows)[1]
    assert failed.batch_job_id is not None and failed.state == WorkState.DUE

    login(client, make_admin(life.db))
    [row] = client.get("/api/v1/admin/work").get_json()["work"]
    assert row["work_id"] == failed.id and row["error"] == "RuntimeError: mail server said no"
    assert row["traceback"].startswith("Traceback") and "in fails_for_one" in row["traceback"]
    page = client.get("/admin/jobs/failed").get_data(as_text=True)
    assert "<summary>Traceback</summary>" in page and "in fails_for_one" in page


def test_a_batch_runs_its_jobs_on_held_connections_not_a_pool_check_out_per_row(
    life: Life, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = waiting_requests(life, 6)
    broken = made[2][2].id

    def writes_without_commit(request_id: int) -> None:  # work it never commits must not reach the next row
        with runtime.session_scope() as db:
            db.get(MeetingRequest, request_id).reminders_sent = 99  # type: ignore[union-attr]
            db.flush()

    reminder_fails_for(monkeypatch, broken, before=writes_without_commit)
    rows = remind_all(life, made)
    assert relay.relay_due(runtime.session_factory()(), life.queue, now=NOW + 2 * M, batch_size=6) == 6
    rows = refreshed(life, rows)
    engine = runtime.session_factory().kw["bind"]
    check_outs: list[object] = []

    def checked_out(*_: Any) -> None:
        check_outs.append(1)

    event.listen(engine.pool, "checkout", checked_out)
    try:
        counts = run.run_batch(WorkKind.REQUEST_REMINDER.value, [[row.id, row.relays] for row in rows])
    finally:
        event.remove(engine.pool, "checkout", checked_out)
    assert counts == {"ran": 5, "failed": 1, "skipped": 0}
    # the bookkeeping connection, the jobs' one, and a fresh one after the failed row: not one per row
    assert len(check_outs) <= 3
    rows = refreshed(life, rows)
    assert [row.state for row in rows] == [WorkState.DONE] * 2 + [WorkState.DUE] + [WorkState.DONE] * 3
    assert [reminders_to(life, mentor, mentee) for mentor, mentee, _ in made] == [1, 1, 0, 1, 1, 1]
    assert life.db.get(MeetingRequest, broken).reminders_sent == 0  # type: ignore[union-attr]


def test_a_row_over_its_own_timeout_fails_alone(life: Life, monkeypatch: pytest.MonkeyPatch) -> None:
    made = waiting_requests(life, 3)
    slow = made[0][2].id
    remind = JOBS[WorkKind.REQUEST_REMINDER]

    def hangs_for_one(request_id: int, manual: bool = False) -> Any:
        if request_id == slow:
            time.sleep(5)
        return remind(request_id, manual)

    monkeypatch.setitem(JOBS, WorkKind.REQUEST_REMINDER, hangs_for_one)
    monkeypatch.setattr(run, "timeout", lambda kind: 1)
    rows = remind_all(life, made)
    began = time.monotonic()
    life.run_until(NOW + 2 * M)
    assert time.monotonic() - began < 4
    rows = refreshed(life, rows)
    assert [row.state for row in rows] == [WorkState.DUE, WorkState.DONE, WorkState.DONE]
    assert "JobTimeoutException" in rows[0].last_error and rows[0].attempts == 1
    assert [reminders_to(life, mentor, mentee) for mentor, mentee, _ in made] == [0, 1, 1]


def test_rows_retimed_or_canceled_after_hand_over_are_skipped_when_the_batch_runs(life: Life) -> None:
    made = waiting_requests(life, 3)
    rows = remind_all(life, made)
    relay.relay_due(runtime.session_factory()(), life.queue, now=NOW + 2 * M)
    [batch] = life.queue.job_ids
    life.db.expire_all()  # the test's session does not expire on commit; the relay's changes
    timed_work.plan(life.db, WorkKind.REQUEST_REMINDER, rows[0].key, due_at=NOW + 3 * M,
                    args=[made[0][2].id, True])  # re-timed: its old hand-over is stale
    life.db.get(TimedWork, rows[1].id).state = WorkState.CANCELED  # type: ignore[union-attr]
    life.db.commit()
    life.run_until(NOW + 2 * M)
    assert Job.fetch(batch, connection=life.connection).return_value() == {"ran": 1, "failed": 0,
                                                                           "skipped": 2}
    assert [reminders_to(life, mentor, mentee) for mentor, mentee, _ in made] == [0, 0, 1]
    life.run_until(NOW + 3 * M)  # the re-timed one at its new time, once
    assert [reminders_to(life, mentor, mentee) for mentor, mentee, _ in made] == [1, 0, 1]


def test_a_vanished_batch_is_handed_over_again_and_sent_once(life: Life) -> None:
    made = waiting_requests(life, 4)
    rows = remind_all(life, made)
    relay.relay_due(runtime.session_factory()(), life.queue, now=NOW + 2 * M)
    life.connection.flushall()
    later = NOW + 2 * M + relay.LEASE + M
    assert sorted(relay.recover(runtime.session_factory()(), life.connection, now=later)) == sorted(
        row.key for row in rows)
    rows = refreshed(life, rows)
    assert [(row.state, row.relays, row.attempts) for row in rows] == [(WorkState.DUE, 1, 0)] * 4
    life.run_until(later)
    assert [reminders_to(life, mentor, mentee) for mentor, mentee, _ in made] == [1] * 4


def test_a_batch_whose_worker_died_mid_way_re_hands_only_the_rows_not_done(life: Life) -> None:
    """The worker ran two rows of the batch, then died: those two stay done (not sent again),
    the rest are handed over again and sent once."""
    made = waiting_requests(life, 4)
    rows = remind_all(life, made)
    relay.relay_due(runtime.session_factory()(), life.queue, now=NOW + 2 * M)
    [batch] = life.queue.job_ids
    job = Job.fetch(batch, connection=life.connection)
    job.set_status(JobStatus.STARTED)
    job.heartbeat(NOW + 2 * M + relay.LEASE, ttl=60)  # its worker beat for it, then died
    for row in rows[:2]:  # what the dead worker got through, as run_batch runs them
        assert run.run_batch(WorkKind.REQUEST_REMINDER.value, [[row.id, row.relays]]) == {
            "ran": 1, "failed": 0, "skipped": 0}
    life.queue.remove(batch)  # its worker is gone: nobody will run it

    soon = NOW + 2 * M + relay.LEASE + relay.HEARTBEAT_GRACE / 2
    assert relay.recover(runtime.session_factory()(), life.connection, now=soon) == []  # still beating
    later = NOW + 2 * M + relay.LEASE + relay.HEARTBEAT_GRACE + M
    assert relay.recover(runtime.session_factory()(), life.connection, now=later) == [r.key for r in rows[2:]]
    life.run_until(later)
    assert [reminders_to(life, mentor, mentee) for mentor, mentee, _ in made] == [1] * 4
    states = [(row.state, row.relays) for row in refreshed(life, rows)]
    assert states == [(WorkState.DONE, 0)] * 2 + [(WorkState.DONE, 1)] * 2
    done = life.db.scalars(select(TimedWork.key).where(TimedWork.state != WorkState.DONE,
                                                       TimedWork.key.in_([r.key for r in rows])))
    assert list(done) == []
