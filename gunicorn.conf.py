"""Gunicorn settings for production (``gunicorn -c gunicorn.conf.py wsgi:app``); see docs/deploy.md.

Every value can be overridden from the environment (``GUNICORN_*`` below) or the command line.
Why these values:

- ``gthread`` workers, ``threads`` 4: a request mostly waits on PostgreSQL, Redis or a calendar
  (reads bounded by ``FLASHMENTOR_CALENDAR_READ_BUDGET``), so threads keep a process busy while one
  waits; a password check (CPU in ``hashlib.scrypt``, which releases the GIL) holds one thread, never
  a whole process, and at most ``FLASHMENTOR_PASSWORD_CHECKS`` run at once per process (the rest get 503).
- ``workers`` = 2 x cores (``GUNICORN_WORKERS``): Python runs one thread at a time per process.
- ``preload_app`` + ``gc.freeze()``: the app is imported once in the master; its objects are moved to
  a permanent GC generation before forking, so the collector in each worker never touches (and
  copies) those pages: workers share them copy-on-write (lower RSS per worker, docs/deploy.md).
- ``timeout`` 60 s: longer than the calendar budget plus a database statement; a worker stuck past
  it is killed and replaced. ``graceful_timeout`` 30 s: on SIGTERM requests in flight finish.
- ``max_requests`` with jitter: workers are recycled now and then, so a slow leak cannot grow forever.
"""

from __future__ import annotations

import gc
import os
from typing import Any

env = os.environ.get

bind = env("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(env("GUNICORN_WORKERS", str(2 * (os.cpu_count() or 1))))
worker_class = "gthread"
threads = int(env("GUNICORN_THREADS", "4"))
preload_app = True
timeout = int(env("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(env("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = int(env("GUNICORN_KEEPALIVE", "5"))
max_requests = int(env("GUNICORN_MAX_REQUESTS", "5000"))
max_requests_jitter = int(env("GUNICORN_MAX_REQUESTS_JITTER", "500"))
backlog = 2048
accesslog = None  # the app logs one JSON line per request (app/observability.py), with its id
errorlog = "-"
forwarded_allow_ips = env("FORWARDED_ALLOW_IPS", "127.0.0.1")


def when_ready(server: Any) -> None:
    """The app is loaded (``preload_app``) and no worker is forked yet: freeze what exists."""
    gc.collect()
    gc.freeze()


def child_exit(server: Any, worker: Any) -> None:
    """A worker's live-gauge files go with it (counters and histograms stay in the totals)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
