"""The admin's view of timed work through the API: by what it is doing, retry and drop."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from scheduling.models import TimedWork, WorkState
from tests.factories import NOW, login, make_admin, make_mentee, make_mentor, make_program, make_request, slot
from tests.ports import free_port
from tests.worker_harness import Life, config, life
from worker import startup

__all__ = ["life"]
START = NOW + timedelta(days=8)


def test_admins_see_work_by_state_and_retry_or_drop_what_failed(
    life: Life, client: Any, database_url: str
) -> None:
    db = life.db
    startup.install(config(database_url, life.mail, SMTP_PORT=free_port()), connection=life.connection)
    program = make_program(db, remind_after_days=3)
    request = make_request(db, program=program, mentee=make_mentee(db), mentor=make_mentor(db),
                           times=[slot(START.replace(hour=10))])
    life.run_until(NOW + 5 * timedelta(minutes=1))  # SMTP refuses: the notice fails, a retry is booked

    login(client, make_admin(db))
    failed = client.get("/api/v1/admin/work").get_json()
    [row] = failed["work"]
    assert row["key"] == f"request-{request.id}-created" and row["state"] == "due" and row["attempts"] == 1
    assert "ConnectionRefusedError" in row["error"] and row["retry_at"]
    due = client.get("/api/v1/admin/work?show=due").get_json()["work"]
    keys = {f"request-{request.id}-{what}" for what in ("created", "reminder", "auto-close")}
    assert {w["key"] for w in due} == keys
    assert failed["backlog"]["due"] == 3

    assert client.get("/api/v1/admin/work?show=nonsense").status_code == 422
    assert client.post("/api/v1/admin/work/999999/retry", json={}).status_code == 404
    reminder = db.query(TimedWork).filter_by(key=f"request-{request.id}-reminder").one()
    refused = client.post(f"/api/v1/admin/work/{reminder.id}/drop", json={})
    assert refused.status_code == 409  # it has not failed: nothing to drop
    db.refresh(reminder)
    assert reminder.state == WorkState.DUE

    dropped = client.post(f"/api/v1/admin/work/{row['work_id']}/drop", json={}).get_json()
    assert dropped["state"] == "canceled"
    assert client.get("/api/v1/admin/work").get_json()["work"] == []
    retried = client.post(f"/api/v1/admin/work/{row['work_id']}/retry", json={})
    assert retried.status_code == 409

    login(client, make_mentee(db))
    assert client.get("/api/v1/admin/work").status_code == 403
