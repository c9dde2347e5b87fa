"""Request ids, structured JSON logs, request latency metrics and the protected ``/metrics`` page.

Metrics are Prometheus' (``prometheus_client``). Under gunicorn every worker process is its own
registry, so ``PROMETHEUS_MULTIPROC_DIR`` (set before the app is imported; ``gunicorn.conf.py``
does) makes them write to shared files that any process's ``/metrics`` adds up
(``docs/deploy.md``). Timed-work backlog gauges are read from the database at scrape time,
so they are right whichever process answers.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import secrets
import sys
import time
import uuid
from typing import Any

from flask import Flask, Response, abort, current_app, g, has_request_context, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

REQUEST_SECONDS = Histogram(
    "flashmentor_http_request_duration_seconds", "Seconds to answer a request, per endpoint (URL rule)",
    ["method", "endpoint", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
"""An incoming ``X-Request-ID`` is kept when it looks like this (a proxy's id); else a new one is made."""
log = logging.getLogger("flashmentor.request")


def init_observability(app: Flask) -> None:
    """Request id and timing around every request; JSON logs; the ``/metrics`` page."""
    app.before_request(_begin)
    app.after_request(_end)
    app.add_url_rule("/metrics", "metrics", _metrics)
    if app.config.get("LOG_FORMAT") == "json" and not app.config.get("TESTING"):
        use_json_logs(level=app.config.get("LOG_LEVEL", "INFO"))


def request_id() -> str | None:
    """The current request's id (``None`` outside a request)."""
    return g.get("request_id") if has_request_context() else None


def _begin() -> None:
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    g.request_began = time.perf_counter()


def _end(response: Response) -> Response:
    response.headers["X-Request-ID"] = g.get("request_id") or uuid.uuid4().hex
    began = g.get("request_began")
    if began is None:
        return response
    seconds = time.perf_counter() - began
    endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
    REQUEST_SECONDS.labels(request.method, endpoint, str(response.status_code)).observe(seconds)
    log.info("request", extra={"method": request.method, "path": request.path, "endpoint": endpoint,
                               "status": response.status_code, "ms": round(seconds * 1000, 1)})
    return response


# --- /metrics --------------------------------------------------------------------------------


def _metrics() -> Response:
    if not _may_scrape():
        abort(403)
    return Response(scrape(), content_type=CONTENT_TYPE_LATEST)


def _may_scrape() -> bool:
    """A ``Bearer`` token equal to ``METRICS_TOKEN``, or a client address in ``METRICS_ALLOW``."""
    token = current_app.config.get("METRICS_TOKEN") or ""
    given = request.headers.get("Authorization", "")
    if token and secrets.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    try:
        client = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(client in net for net in allowed_networks(current_app.config.get("METRICS_ALLOW", "")))


def allowed_networks(text: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Comma-separated networks (``10.0.0.0/8, ::1``); raises ``ValueError`` on a bad one."""
    return [ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()]


def scrape() -> bytes:
    """The text exposition: this process's metrics (or every process's, in multiprocess mode),
    then the timed-work backlog read now."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        processes = generate_latest(registry)
    else:
        processes = generate_latest(REGISTRY)
    backlog = CollectorRegistry()
    backlog.register(BacklogCollector())
    return processes + generate_latest(backlog)


class BacklogCollector:
    """``flashmentor_timed_work{state=due|overdue|queued|dead}`` from ``worker.failures.backlog``."""

    def collect(self) -> Any:
        from app.db import session_factory
        from worker.failures import backlog

        family = GaugeMetricFamily("flashmentor_timed_work", "Timed work rows by state, read at scrape time",
                                   labels=["state"])
        up = GaugeMetricFamily("flashmentor_timed_work_readable", "1 when the backlog could be read")
        try:
            with session_factory()() as session:
                counts = backlog(session)
        except Exception as exc:  # a scrape must not fail because the database is down
            logging.getLogger(__name__).warning("metrics: backlog unreadable (%s: %s)",
                                                type(exc).__name__, exc)
            up.add_metric([], 0)
            yield up
            return
        for state, n in counts.items():
            family.add_metric([state], n)
        up.add_metric([], 1)
        yield family
        yield up


# --- JSON logs -------------------------------------------------------------------------------

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, request id, any ``extra``."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None)
        if rid:
            out["request_id"] = rid
        out.update({k: v for k, v in vars(record).items() if k not in _STANDARD and k != "request_id"})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record logged while it is served."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = request_id()
        return True


def use_json_logs(*, level: str = "INFO", stream: Any = None) -> logging.Handler:
    """Route the root logger to one JSON handler on stderr (once per process)."""
    root = logging.getLogger()
    for handler in root.handlers:
        if isinstance(handler.formatter, JsonFormatter):
            return handler
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
    root.setLevel(level)
    return handler
