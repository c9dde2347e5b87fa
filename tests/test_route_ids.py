"""An id in a URL past what a database column holds is a 404 on every route, never a 500.

``POST /admin/recommendations/9223372036854775808/remove`` was a 500 on PostgreSQL
(bigint out of range). Every ``<int:...>`` route is tried, signed in as an admin.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from scheduling.db import MAX_ID
from tests.factories import login, make_admin, make_program

TOO_BIG = str(2**63)


def _filled(rule: str, value: str) -> str:
    return re.sub(r"<(?:int:)?[^>]+>", value, rule)


def test_every_int_route_answers_404_for_an_id_out_of_range(app: Flask, client: Any, db: Session) -> None:
    make_program(db)
    admin = make_admin(db)
    admin.is_mentor = admin.is_mentee = True
    db.commit()
    login(client, admin)
    tried = []
    for rule in app.url_map.iter_rules():
        if "<int:" not in rule.rule:
            continue
        path = _filled(rule.rule, TOO_BIG)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            resp = client.open(path, method=method, json={}) if rule.rule.startswith("/api/") \
                else client.open(path, method=method, data={})
            tried.append((method, path, resp.status_code))
    assert len(tried) > 50
    assert [t for t in tried if t[2] not in (404, 405)] == []  # 405: only another method matches


def test_the_largest_id_still_reaches_the_route(client: Any, db: Session) -> None:
    make_program(db)
    login(client, make_admin(db))
    resp = client.post(f"/admin/recommendations/{MAX_ID}/remove", data={})
    assert resp.status_code in (302, 404)  # the route ran: no such recommendation


def test_one_past_the_column_range_is_a_404(client: Any, db: Session) -> None:
    make_program(db)
    login(client, make_admin(db))
    assert client.post(f"/admin/recommendations/{MAX_ID + 1}/remove", data={}).status_code == 404
