"""No route answers bad input with a server error.

Every POST/PUT/PATCH/DELETE route of the app (pages, admin pages and the JSON API) gets
junk from each kind of person on the demo program: empty bodies, wrong types, huge and
odd strings, ids that do not exist. Each answer must be a redirect or a 4xx, never a
5xx, and nothing may be half-written (the database still passes its own checks).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling import demo, tenants
from scheduling.models import Meeting, MeetingRequest, Person
from tests.factories import login

JUNK_VALUES: list[Any] = ["", "x" * 5000, "-1", "2**40", "9999999999", "null", "<script>", "\x00", "1e309",
                          "2026-13-45T25:61", "Europe/Nowhere"]
JUNK_JSON: list[Any] = [None, [], {}, "text", 12, {"times": "x", "start": 5, "reason": [], "answers": "no"},
                        {"topic": None, "mentor_id": "abc", "mentee_id": -3, "skills": {"a": "b"}},
                        {"person_id": 2**40, "tenant_id": 2**40, "program_id": 2**40, "time_id": 2**40}]
FIELDS = ("topic", "description", "mode", "location", "slot", "time_id", "start", "end", "date0", "time0",
          "reason", "message", "body", "q", "name", "email", "time_zone", "lead_time_hours", "slot_minutes",
          "tenant_id", "external_id", "secret", "provider", "mentor_id", "mentee_id", "csv", "level", "skill")


QUERY = ("week", "from", "to", "offset", "limit", "state", "all", "q", "skill", "department", "title",
         "time_zone", "free", "mentor", "mentee", "older_than_days", "role", "days", "page")


def _routes(app: Any, *, reads: bool = False) -> list[tuple[str, str, list[str]]]:
    out = []
    for rule in app.url_map.iter_rules():
        methods = {"GET"} if reads else (rule.methods or set()) - {"GET", "HEAD", "OPTIONS"}
        for method in sorted(methods & (rule.methods or set())):
            if rule.rule.startswith(("/signin", "/signout", "/static", "/api/v1/auth/")):  # stay signed in
                continue
            out.append((method, rule.rule, list(rule.arguments)))
    # deleting routes last, so the rows they remove are still there for every other route
    return sorted(out, key=lambda r: r[0] == "DELETE" or r[1].endswith(("/delete", "/remove")))


def _fill(rule: str, ids: dict[str, int]) -> list[str]:
    """The rule with its ids filled: one real id, one that does not exist."""
    paths = []
    for pick in (lambda name: ids.get(name, 1), lambda name: 2**31 - 1):
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m, p=pick: str(p(m.group(1))), rule)  # type: ignore[misc]
        path = path.replace("any(accept, decline)", "accept")
        paths.append(path)
    return paths


@pytest.fixture
def demo_ids(db: Session) -> dict[str, Any]:
    demo.load_demo(db)
    request = db.scalars(select(MeetingRequest)).first()
    meeting = db.scalars(select(Meeting)).first()
    people = {p.email: p for p in db.scalars(select(Person))}
    assert request is not None and meeting is not None
    # a tenant nothing answers for (closed loopback port), so its routes get past "no such tenant"
    nowhere = {"url": "https://127.0.0.1:9/", "timeout": 1, "retry": {"max_attempts": 1}}
    tenant = tenants.create_tenant(db, name="Nowhere", provider="caldav", config=nowhere)
    return {
        "ids": {"request_id": request.id, "meeting_id": meeting.id, "mentor_id": request.mentor_id,
                "mentee_id": request.mentee_id, "person_id": request.mentee_id, "tenant_id": tenant.id},
        "people": {role: people[email] for role, email in demo.LOGINS.items()},
    }


@pytest.mark.parametrize("role", ["mentee", "mentor", "admin"])
def test_junk_never_makes_a_server_error(app: Any, client: Any, db: Session, demo_ids: dict[str, Any],
                                         role: str) -> None:
    login(client, demo_ids["people"][role])
    failures = []
    statuses: set[int] = set()
    for method, rule, _ in _routes(app):
        for path in _fill(rule, demo_ids["ids"]):
            attempts: list[dict[str, Any]] = (
                [{"json": body} for body in JUNK_JSON] if path.startswith("/api/")
                else [{"data": {}}] + [{"data": {f: v for f in FIELDS}} for v in JUNK_VALUES]
            )
            for kwargs in attempts:
                res = client.open(path, method=method, **kwargs)
                statuses.add(res.status_code)
                if res.status_code >= 500:
                    failures.append((method, path, str(kwargs)[:80], res.status_code))
                db.rollback()
    assert failures == []
    assert 422 in statuses and 404 in statuses  # signed in all along, and the junk reached the checks
    with client.session_transaction() as s:
        assert s["person_id"] == demo_ids["people"][role].id


@pytest.mark.parametrize("role", ["mentee", "mentor", "admin"])
def test_junk_queries_never_make_a_server_error(app: Any, client: Any, db: Session, demo_ids: dict[str, Any],
                                                role: str) -> None:
    login(client, demo_ids["people"][role])
    failures = []
    for _, rule, _ in _routes(app, reads=True):
        if rule.startswith("/static"):
            continue
        for path in _fill(rule, demo_ids["ids"]):
            for value in [*JUNK_VALUES, "2026-02-30", "-5", "0"]:
                res = client.get(path, query_string={name: value for name in QUERY})
                if res.status_code >= 500:
                    failures.append((path, value[:20], res.status_code))
                db.rollback()
    assert failures == []


def test_a_nul_in_a_query_or_form_is_refused_by_name(app: Any, client: Any, db: Session) -> None:
    res = client.get("/api/v1/mentors", query_string={"q": "a\x00"})
    assert res.status_code == 422
    assert res.get_json()["error"] == {"code": "validation_failed", "field": "q",
                                       "message": "q contains characters that cannot be stored."}
    res = client.post("/signin", data={"email": "\x00@example.com", "password": "x"})
    assert res.status_code == 422
    assert "email contains characters that cannot be stored." in res.get_data(as_text=True)


@pytest.mark.parametrize("junk", ["\\u0000", "\\ud800"])
def test_json_no_database_can_store_is_refused_by_name(app: Any, client: Any, db: Session, junk: str) -> None:
    body = '{"email": "a@b.c", "password": {"nested": ["xJUNK"]}}'.replace("JUNK", junk)
    res = client.post("/api/v1/auth/login", data=body, content_type="application/json")
    assert res.status_code == 422 and res.get_json()["error"]["field"] == "password.nested[0]"
