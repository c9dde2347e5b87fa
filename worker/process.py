"""The production worker class: runs jobs in its own process, beating for them meanwhile.

RQ's default ``Worker`` forks a work horse per job, so every job pays a fork and a fresh
database connection (about 200 ms for a reminder). Our jobs are short, idempotent
database-and-mail work, so :class:`FlashWorker` runs them in the worker process (RQ's
``SimpleWorker``: the job timeout is still enforced, with ``SIGALRM``) and keeps the
database pool and the imports warm. What ``SimpleWorker`` lacks is the heartbeat while a
job runs, which the relay uses to tell a slow job from one whose worker died
(:func:`worker.relay.recover`): a small thread beats every ``HEARTBEAT_SECONDS``. The
thread only talks to Redis; nothing forks, so it can hold no lock a child would inherit.
"""

from __future__ import annotations

import logging
import threading

from rq import Queue, SimpleWorker
from rq.job import Job
from rq.worker import WorkerStatus

from worker.relay import HEARTBEAT_SECONDS

log = logging.getLogger(__name__)


class FlashWorker(SimpleWorker):
    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("job_monitoring_interval", HEARTBEAT_SECONDS)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._burst = False

    def execute_job(self, job: Job, queue: Queue) -> None:
        done = threading.Event()
        beat = threading.Thread(target=self._beat, args=(job, done), name="job-heartbeat", daemon=True)
        self.prepare_execution(job)
        beat.start()
        try:
            self.perform_job(job, queue)
        finally:
            done.set()
            beat.join(HEARTBEAT_SECONDS)
        self.set_state(WorkerStatus.IDLE)

    def work(self, burst: bool = False, *args: object, **kwargs: object) -> bool:
        self._burst = burst
        return super().work(burst, *args, **kwargs)  # type: ignore[arg-type]

    def subscribe(self) -> None:
        """A burst worker (empty the queue, then exit) opens no command channel: its thread's start
        and stop took ~80 ms a burst, and a burst ends before anyone would send it a command."""
        if not self._burst:
            super().subscribe()

    def unsubscribe(self) -> None:
        """RQ stops its command-channel thread and waits a second for it; redis-py 8.2's
        ``stop()`` itself waits until the thread's next wake-up (up to RQ's 60 s poll),
        which made every stop (and every burst) hang for up to a minute. Bound it."""
        if self.pubsub_thread is not None and self.pubsub is not None:
            self.pubsub.unsubscribe()
            self.pubsub_thread.stop(timeout=1)
            self.pubsub.close()

    def _beat(self, job: Job, done: threading.Event) -> None:
        while not done.wait(self.job_monitoring_interval):
            try:
                self.maintain_heartbeats(job)
            except Exception as exc:  # Redis hiccup: the next beat tries again
                log.warning("heartbeat for %s failed: %s", job.id, exc)
