"""A real worker killed with SIGKILL (worker and work horse) in the middle of a calendar write
against Radicale: a new worker finds the job abandoned (RQ's started-registry cleanup, or
else the relay's heartbeat check) and the event lands, once. And one killed in the middle of
a batch of reminders: those sent before the kill are not sent again, the rest once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from aiosmtpd.controller import Controller
from sqlalchemy.orm import Session

from scheduling import tenants, timed_work
from scheduling.models import TimedWork, WorkState
from scheduling.services import requests as svc
from tests.factories import NOW, at, make_mentee, make_mentor, make_program, make_request, slot
from tests.fakes.dav_servers import DavServer
from tests.fakes.smtp_server import SmtpServer, _Handler
from tests.fakes.throttle_proxy import Proxy, throttle_proxy
from tests.ports import free_port
from tests.redis_process import RedisProcess, redis_process
from tests.test_lifecycle import stored_events
from tests.worker_harness import QUEUE, config
from worker import startup

__all__ = ["redis_process"]
ROOT = Path(__file__).resolve().parent.parent
START = at("2030-01-15", "10:00")
RECOVERY_DEADLINE = 60  # seconds from a new worker's start to the event in Radicale (docs/reliability.md)
LOG = open(os.environ.get("WORKER_LOG", os.devnull), "ab")  # noqa: SIM115


@pytest.fixture
def proxy(radicale_server: DavServer) -> Iterator[Proxy]:
    with throttle_proxy(radicale_server.base_url) as p:
        yield p


def start_worker(database_url: str, redis: RedisProcess, mail: SmtpServer) -> subprocess.Popen[bytes]:
    """``flask --app wsgi worker`` as production runs it, in a process group of its own."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis.url,
        "FLASHMENTOR_QUEUE": QUEUE,
        "FLASHMENTOR_CALENDAR_SYNC_SECONDS": "0",
        "FLASHMENTOR_CALENDAR_PUSH_SECONDS": "0",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(mail.port),
    }
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"], cwd=ROOT, env=env,
                            start_new_session=True, stdout=LOG, stderr=subprocess.STDOUT)


def kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)


def test_a_worker_killed_mid_write_is_recovered_once(
    db: Session, database_url: str, redis_process: RedisProcess, smtp: SmtpServer,
    radicale_server: DavServer, proxy: Proxy, app: Any,
) -> None:
    tenant = tenants.create_tenant(
        db, name=f"DAV {uuid.uuid4().hex[:6]}", provider="caldav", secret=radicale_server.password,
        config={"url": proxy.base_url, "username": radicale_server.username,
                "retry": {"max_attempts": 2, "base_delay": 0.0}},
    )
    path = f"{radicale_server.username}/crash-{uuid.uuid4().hex[:8]}/"
    requests.request("MKCALENDAR", radicale_server.base_url + path,
                     auth=(radicale_server.username, radicale_server.password))
    mentor = make_mentor(db, name="Grace Mentor")
    tenants.connect_account(db, person=mentor, tenant=tenant, external_id=path)
    request = make_request(db, program=make_program(db), mentee=make_mentee(db), mentor=mentor,
                           times=[slot(START)])

    startup.install(config(database_url, smtp), connection=redis_process.client())
    first = start_worker(database_url, redis_process, smtp)
    second: subprocess.Popen[Any] | None = None
    try:
        proxy.hold_next(1, method="PUT")  # the calendar write's PUT hangs ...
        meeting = svc.accept(db, request, actor=mentor, now=NOW)
        assert proxy.held.wait(60), "the worker never started the calendar write"
        kill_group(first)  # ... and the worker and its work horse die in the middle of it
        proxy.release(drop=True)

        second = start_worker(database_url, redis_process, smtp)
        started = time.monotonic()
        while not stored_events(radicale_server, radicale_server.base_url + path):
            assert time.monotonic() - started < RECOVERY_DEADLINE, "no event within the deadline"
            time.sleep(0.5)
        [event] = stored_events(radicale_server, radicale_server.base_url + path)
        assert f"UID:{meeting.uid}" in event

        key = f"meeting-{meeting.id}-calendar-{meeting.sequence}"
        while True:
            db.expire_all()
            row = db.query(TimedWork).filter_by(key=key).one()
            if row.state == WorkState.DONE:
                break
            assert time.monotonic() - started < 2 * RECOVERY_DEADLINE, (row.state, row.last_error)
            time.sleep(0.2)
        assert len(stored_events(radicale_server, radicale_server.base_url + path)) == 1
    finally:
        startup.uninstall()
        kill_group(first)
        if second is not None:
            second.send_signal(signal.SIGTERM)  # warm shutdown
            try:
                second.wait(20)
            except subprocess.TimeoutExpired:
                kill_group(second)


@dataclass
class _HoldOne(_Handler):
    """Accepts every message but the first one to ``hold_to``: that one hangs until released
    (the worker is killed meanwhile), and is never accepted."""

    hold_to: str = ""
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.hold_to in [a.lower() for a in envelope.rcpt_tos]:
            self.hold_to = ""  # once: the new worker's try is accepted
            self.held.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            return "451 try again later"
        return await super().handle_DATA(server, session, envelope)


def test_a_worker_killed_mid_batch_sends_the_rest_once_and_the_done_ones_not_again(
    db: Session, database_url: str, redis_process: RedisProcess, app: Any,
) -> None:
    """Five reminders in one batch; the worker dies sending the third: the first two stay done
    (not sent again), the third and the two after it are sent once by a new worker."""
    program = make_program(db)
    made = [(make_mentor(db), make_mentee(db)) for _ in range(5)]
    requests_ = [make_request(db, program=program, mentee=mentee, mentor=mentor, times=[slot(START)])
                 for mentor, mentee in made]
    now = datetime.now(UTC)
    rows = [timed_work.plan_manual_reminder(db, r.id, now=now + timedelta(milliseconds=i))
            for i, r in enumerate(requests_)]
    db.commit()  # no relay in this process: the worker's relay hands the five over, in one batch

    handler = _HoldOne(hold_to=made[2][0].email.lower())
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    mail = SmtpServer("127.0.0.1", port, handler)
    first = start_worker(database_url, redis_process, mail)
    second: subprocess.Popen[Any] | None = None
    try:
        assert handler.held.wait(60), "the worker never got to the third reminder"
        kill_group(first)
        handler.release.set()
        db.expire_all()
        batch = {row.handed_job_id for row in db.query(TimedWork).filter(
            TimedWork.id.in_([r.id for r in rows]))}
        assert len(batch) == 1 and batch.pop().startswith("fm-batch-")  # one job ran them all

        second = start_worker(database_url, redis_process, mail)
        started = time.monotonic()
        while True:
            db.expire_all()
            states = [db.get(TimedWork, r.id).state for r in rows]  # type: ignore[union-attr]
            if states == [WorkState.DONE] * 5:
                break
            assert time.monotonic() - started < 90, states
            time.sleep(0.5)
        subject = "Reminder: {} is waiting for your answer"
        sent = [[m.subject for m in mail.to(mentor.email)].count(subject.format(mentee.name))
                for mentor, mentee in made]
        assert sent == [1] * 5
        handed = [(row.relays, row.attempts) for row in db.query(TimedWork).filter(
            TimedWork.id.in_([r.id for r in rows])).order_by(TimedWork.due_at)]
        assert handed[:2] == [(0, 0)] * 2  # done before the kill: never handed over again
    finally:
        kill_group(first)
        handler.release.set()
        if second is not None:
            second.send_signal(signal.SIGTERM)
            try:
                second.wait(20)
            except subprocess.TimeoutExpired:
                kill_group(second)
        controller.stop()


def test_the_production_worker_beats_while_a_job_runs(redis_process: RedisProcess) -> None:
    """No fork per job, but the relay still sees a live job's heartbeat move."""
    from rq import Queue

    from worker.process import FlashWorker

    connection = redis_process.client()
    queue = Queue("beat", connection=connection)
    job = queue.enqueue("time.sleep", 3)
    FlashWorker([queue], connection=connection, job_monitoring_interval=0.5).work(burst=True)
    job.refresh()
    assert job.get_status() == "finished"
    assert job.started_at is not None and job.last_heartbeat is not None
    assert (job.last_heartbeat - job.started_at).total_seconds() >= 0.5


def channels_while_running() -> list[str]:
    """A job: the pub/sub channels open on its Redis while it runs."""
    from rq import get_current_job

    job = get_current_job()
    assert job is not None
    return sorted(c.decode() for c in job.connection.pubsub_channels())


def test_a_burst_of_the_production_worker_opens_no_command_channel(redis_process: RedisProcess) -> None:
    """A burst ends when its queue is empty: its command channel cost only a thread's start and stop
    (~80 ms a burst). A long-running worker has one (the next test sees it while its job runs)."""
    from rq import Queue

    from worker.process import FlashWorker

    connection = redis_process.client()
    queue = Queue("burst", connection=connection)
    job = queue.enqueue(channels_while_running)
    FlashWorker([queue], connection=connection).work(burst=True)
    result = job.latest_result()
    assert result is not None and result.return_value == []


def test_the_production_worker_stops_without_waiting_out_its_command_channel(
    redis_process: RedisProcess,
) -> None:
    """redis-py's pubsub thread sleeps up to RQ's 60 s poll; stopping must not wait it out
    (it did: a stop hung for up to a minute, one time in a few). Each worker runs until its job
    is done, then is told to shut down over its command channel (RQ's ``send_shutdown_command``),
    in a process of its own: RQ installs signal handlers, which needs a main thread."""
    script = (
        "import threading, time\n"
        "from redis import Redis\n"
        "from rq import Queue\n"
        "from rq.command import send_shutdown_command\n"
        f"from {WORKER_CLASS[0]} import {WORKER_CLASS[1]} as Worker\n"
        f"connection = Redis.from_url({redis_process.url!r})\n"
        "queue = Queue(f'stop-{__import__(\"os\").getpid()}', connection=connection)\n"
        "job = queue.enqueue('tests.test_worker_crash.channels_while_running')\n"
        "worker = Worker([queue], connection=connection)\n"
        "told = []\n"
        "def tell() -> None:\n"
        "    while not job.is_finished:\n"
        "        time.sleep(0.02)\n"
        "    told.append(time.monotonic())\n"
        "    send_shutdown_command(connection, worker.name)\n"
        "threading.Thread(target=tell, daemon=True).start()\n"
        "worker.work()\n"
        "print(worker.pubsub_channel_name in job.latest_result().return_value)\n"
        "print('stopped after', time.monotonic() - told[0])\n"
    )
    # Ten workers at once, each stopping once (the hang came one stop in a few). A waited-out poll
    # is the rest of RQ's 60 s, so each stop is timed from inside its process: ten interpreters
    # starting at once on a loaded machine take longer than that to import, which is no hang.
    workers = [subprocess.Popen([sys.executable, "-c", script], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
               for _ in range(10)]
    try:
        outputs = [w.communicate(timeout=300)[0] for w in workers]
    finally:
        for w in workers:
            w.kill()
    last_lines = [out.strip().splitlines()[-2:] for out in outputs]
    assert [lines[0] for lines in last_lines] == ["True"] * 10, outputs  # each had its channel
    stops = [lines[1].split() for lines in last_lines]
    assert [words[:2] for words in stops] == [["stopped", "after"]] * 10
    assert max(float(words[2]) for words in stops) < 30, stops


WORKER_CLASS = ("worker.process", "FlashWorker")  # the production class (module, name)
