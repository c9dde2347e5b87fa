"""Metrics move when the thing happens (a request, a provider call, a busy-cache read, a job, the
backlog), /metrics is protected, and every request carries an id into and out of the JSON logs."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session

from calendars.base import NotFound, ProviderUnavailable
from calendars.http import RetryPolicy
from freebusy.cache import BusyCache
from freebusy.intervals import Interval
from scheduling.db import utcnow
from scheduling.models import TimedWork, WorkKind, WorkState
from tests.factories import make_mentee, make_mentor, make_program, make_request, slot
from tests.worker_harness import Life, life

__all__ = ["life"]


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scraped(client: Any, **kwargs: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.data
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for s in family.samples
    }


def test_request_latency_is_counted_per_endpoint(client: Any) -> None:
    labels = {"method": "GET", "endpoint": "/api/v1/people/<int:person_id>", "status": "401"}
    before = sample("flashmentor_http_request_duration_seconds_count", **labels)
    assert client.get("/api/v1/people/1").status_code == 401
    assert client.get("/api/v1/people/2").status_code == 401
    assert sample("flashmentor_http_request_duration_seconds_count", **labels) == before + 2
    unmatched = {"method": "GET", "endpoint": "unmatched", "status": "404"}
    before = sample("flashmentor_http_request_duration_seconds_count", **unmatched)
    client.get("/no/such/page")
    assert sample("flashmentor_http_request_duration_seconds_count", **unmatched) == before + 1


def test_metrics_answer_loopback_and_the_token_only(app: Any, client: Any) -> None:
    remote = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics", environ_base=remote).status_code == 403
    app.config["METRICS_TOKEN"] = "s3cret-token"
    assert client.get("/metrics", environ_base=remote,
                      headers={"Authorization": "Bearer wrong"}).status_code == 403
    ok = client.get("/metrics", environ_base=remote, headers={"Authorization": "Bearer s3cret-token"})
    assert ok.status_code == 200
    assert b"flashmentor_http_request_duration_seconds" in ok.data
    assert client.get("/metrics").status_code == 200  # the test client is 127.0.0.1
    app.config["METRICS_ALLOW"] = "10.0.0.0/8"
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200


def test_backlog_gauges_are_read_at_scrape_time(client: Any, db: Session) -> None:
    now = utcnow()
    rows = [
        (WorkState.DUE, now + timedelta(hours=1)),
        (WorkState.DUE, now - timedelta(hours=1)),  # overdue (and due)
        (WorkState.DUE, now - timedelta(hours=2)),
        (WorkState.QUEUED, now),
        (WorkState.DEAD, now - timedelta(days=1)),
    ]
    for i, (state, due) in enumerate(rows):
        db.add(TimedWork(key=f"metrics-test-{i}", kind=WorkKind.REQUEST_REMINDER, args=[i], due_at=due,
                         state=state))
    db.commit()
    got = scraped(client)
    state = {k[1][0][1]: v for k, v in got.items() if k[0] == "flashmentor_timed_work"}
    assert state == {"due": 3, "overdue": 2, "queued": 1, "dead": 1}
    assert got[("flashmentor_timed_work_readable", ())] == 1
    db.query(TimedWork).filter(TimedWork.state == WorkState.DEAD).delete()
    db.commit()
    assert scraped(client)[("flashmentor_timed_work", (("state", "dead"),))] == 0


def test_provider_calls_errors_and_latency_per_provider() -> None:
    policy = RetryPolicy(sleep=lambda _: None, random=lambda: 0.0)
    outcomes: list[Exception | None] = [ProviderUnavailable("502"), None]

    def flaky() -> str:
        error = outcomes.pop(0)
        if error is not None:
            raise error
        return "ok"

    ok = sample("flashmentor_provider_calls_total", provider="microsoft", outcome="ok")
    bad = sample("flashmentor_provider_calls_total", provider="microsoft", outcome="error")
    errors = sample("flashmentor_provider_errors_total", provider="microsoft", error="ProviderUnavailable")
    timed = sample("flashmentor_provider_call_duration_seconds_count", provider="microsoft")
    assert policy.run(flaky, what="Graph getSchedule") == "ok"
    assert sample("flashmentor_provider_calls_total", provider="microsoft", outcome="ok") == ok + 1
    assert sample("flashmentor_provider_calls_total", provider="microsoft", outcome="error") == bad + 1
    assert sample("flashmentor_provider_errors_total", provider="microsoft",
                  error="ProviderUnavailable") == errors + 1
    assert sample("flashmentor_provider_call_duration_seconds_count", provider="microsoft") == timed + 2

    gone = sample("flashmentor_provider_errors_total", provider="caldav", error="NotFound")

    def missing() -> None:
        raise NotFound("no such calendar")

    with pytest.raises(NotFound):
        policy.run(missing, what="CalDAV read")
    assert sample("flashmentor_provider_errors_total", provider="caldav", error="NotFound") == gone + 1


class Source:
    def __init__(self) -> None:
        self.calls = 0

    def busy(self, keys: Any, start: datetime, end: datetime) -> dict[Any, list[Interval]]:
        self.calls += 1
        return {k: [Interval(start + timedelta(hours=1), start + timedelta(hours=2))] for k in keys}


def test_busy_cache_hits_and_misses_are_counted() -> None:
    cache, source = BusyCache(), Source()
    start = datetime(2030, 1, 7, tzinfo=UTC)  # a Monday; 3 days stay inside one 7-day block or two
    end = start + timedelta(days=3)
    hits, misses = sample("flashmentor_busy_cache_lookups_total", result="hit"), \
        sample("flashmentor_busy_cache_lookups_total", result="miss")
    cache.get_or_fetch(source, [1, 2], start, end)
    first_misses = sample("flashmentor_busy_cache_lookups_total", result="miss") - misses
    assert first_misses >= 2 and source.calls == 1
    assert sample("flashmentor_busy_cache_lookups_total", result="hit") == hits
    cache.get_or_fetch(source, [1, 2], start, end)
    assert source.calls == 1
    assert sample("flashmentor_busy_cache_lookups_total", result="hit") == hits + first_misses
    assert sample("flashmentor_busy_cache_lookups_total", result="miss") == misses + first_misses


def test_job_duration_is_observed_per_work_kind(life: Life) -> None:
    db = life.db
    program = make_program(db)
    mentor, mentee = make_mentor(db, name="Grace Mentor"), make_mentee(db, name="Ada Mentee")
    kind = {"kind": WorkKind.REQUEST_CREATED.value, "outcome": "ok"}
    before = sample("flashmentor_job_duration_seconds_count", **kind)
    make_request(db, program=program, mentee=mentee, mentor=mentor,
                 times=[slot(utcnow() + timedelta(days=3))])
    life.run_until(utcnow())
    assert sample("flashmentor_job_duration_seconds_count", **kind) == before + 1


def test_request_id_goes_in_and_out_and_into_json_logs(client: Any) -> None:
    from app.observability import JsonFormatter, RequestIdFilter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("flashmentor.request")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        given = client.get("/api/v1/people/7", headers={"X-Request-ID": "edge-42.a"})
        made = client.get("/api/v1/people/7")
        odd = client.get("/api/v1/people/7", headers={"X-Request-ID": "bad id <script>"})
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert given.headers["X-Request-ID"] == "edge-42.a"
    assert len(made.headers["X-Request-ID"]) == 32
    assert odd.headers["X-Request-ID"] not in ("", "bad id <script>")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["request_id"] for line in lines] == [
        "edge-42.a", made.headers["X-Request-ID"], odd.headers["X-Request-ID"]]
    assert lines[0]["endpoint"] == "/api/v1/people/<int:person_id>"
    assert lines[0]["status"] == 401 and lines[0]["level"] == "INFO" and lines[0]["message"] == "request"
