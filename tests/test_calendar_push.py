"""Push notifications from Google (watch channels) and Microsoft Graph (subscriptions): the
handshake, the token checks, and a notification that makes the meeting follow what the
mentor did in their own calendar (read back from the loopback fakes by the real sync)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from calendars.google import event_id_for
from scheduling import tenants
from scheduling.models import CalendarEventLink, Meeting, MeetingState, Person
from tests.factories import make_mentee, make_mentor
from tests.fakes.google_server import GoogleFake, make_service_account
from tests.test_calendar_jobs import make_meeting
from worker import calendar_jobs

FAST = {"retry": {"max_attempts": 2, "base_delay": 0.0}}
# Graph's delta window is 30 days back and a year ahead of the real clock: stay inside it.
SOON = (datetime.now(UTC) + timedelta(days=10)).replace(hour=10, minute=0, second=0, microsecond=0)


@pytest.fixture(autouse=True)
def _inline_sync() -> Iterator[None]:
    calendar_jobs.set_push_handler(None)
    yield
    calendar_jobs.set_push_handler(None)


@pytest.fixture
def google(db: Session, google_fake: GoogleFake) -> Any:
    info, key = make_service_account(google_fake.token_uri)
    google_fake.register_service_account(info, key)
    google_fake.delegation_granted = True
    google_fake.store.failures.clear()
    return tenants.create_tenant(
        db, name="Google push", provider="google", secret=json.dumps(info),
        config={"domain": "example.com", "api_endpoint": google_fake.api_endpoint, **FAST},
    )


@pytest.fixture
def microsoft(db: Session, graph_fake: Any) -> Any:
    graph_fake.consented = True
    return tenants.create_tenant(
        db, name="Graph push", provider="microsoft", secret=graph_fake.client_secret,
        config={"tenant_id": graph_fake.tenant_id, "client_id": graph_fake.client_id,
                "authority_host": graph_fake.base_url, "graph_url": graph_fake.graph_url,
                "ca_bundle": graph_fake.ca_file, **FAST},
    )


def pair(db: Session, fake: Any, tenant: Any) -> tuple[Person, Person]:
    people = []
    for maker in (make_mentor, make_mentee):
        email = f"push-{uuid.uuid4().hex[:8]}@example.com"
        person = maker(db, email=email)
        fake.store.add_calendar(email)
        tenants.connect_account(db, person=person, tenant=tenant)
        people.append(person)
    return people[0], people[1]


def booked(db: Session, fake: Any, tenant: Any) -> tuple[Meeting, Person]:
    """A meeting written to the mentor's calendar, with the tenant's sync cursors set after it."""
    mentor, mentee = pair(db, fake, tenant)
    meeting = make_meeting(db, mentor, mentee, start=SOON)
    assert calendar_jobs.write_meeting_events(meeting.id, session=db).created == [mentor.id]
    assert calendar_jobs.sync_tenant(tenant.id, session=db).applied == []  # our own write
    return meeting, mentor


def google_push(client: Any, tenant: Any, *, state: str = "exists", token: str | None = None) -> Any:
    headers = {
        "X-Goog-Channel-ID": f"fm-{tenant.id}-{uuid.uuid4().hex}",
        "X-Goog-Channel-Token": tenants.push_token(tenant) if token is None else token,
        "X-Goog-Resource-ID": "resource-1",
        "X-Goog-Resource-State": state,
        "X-Goog-Message-Number": "2",
    }
    return client.post(f"/api/v1/calendar-push/google/{tenant.id}", headers=headers)


def graph_push(client: Any, tenant: Any, client_state: str | None = None) -> Any:
    note = {
        "subscriptionId": str(uuid.uuid4()),
        "clientState": tenants.push_token(tenant) if client_state is None else client_state,
        "changeType": "updated",
        "resource": "Users/someone/Events/AAMk1",
        "tenantId": "contoso",
    }
    return client.post(f"/api/v1/calendar-push/microsoft/{tenant.id}", data=json.dumps({"value": [note]}),
                       content_type="application/json")


# --- Google ------------------------------------------------------------------------------------------


def test_google_notification_applies_the_mentors_decline_with_their_note(
    client: Any, db: Session, google_fake: GoogleFake, google: Any
) -> None:
    meeting, mentor = booked(db, google_fake, google)
    google_fake.store.respond(mentor.email, event_id_for(meeting.uid), mentor.email, "declined",
                              comment="Off sick that day, sorry")

    assert google_push(client, google, state="sync").status_code == 200  # channel opened: no sync
    db.refresh(meeting)
    assert meeting.state == MeetingState.SCHEDULED

    assert google_push(client, google).status_code == 200
    db.refresh(meeting)
    assert meeting.state == MeetingState.CANCELED
    assert meeting.cancel_reason.startswith(f"{mentor.name} declined the meeting in their calendar.")
    assert "Off sick that day, sorry" in meeting.cancel_reason


def test_google_notification_applies_a_move(
    client: Any, db: Session, google_fake: GoogleFake, google: Any
) -> None:
    meeting, mentor = booked(db, google_fake, google)
    later = SOON + timedelta(days=1, hours=2)
    google_fake.store.change(mentor.email, event_id_for(meeting.uid), start=later,
                             end=later + timedelta(minutes=30))

    assert google_push(client, google).status_code == 200

    db.refresh(meeting)
    assert (meeting.state, meeting.start_at) == (MeetingState.RESCHEDULED, later)


def test_google_notification_with_a_wrong_token_changes_nothing(
    client: Any, db: Session, google_fake: GoogleFake, google: Any, microsoft: Any
) -> None:
    meeting, mentor = booked(db, google_fake, google)
    google_fake.store.delete(mentor.email, event_id_for(meeting.uid))

    response = google_push(client, google, token="not-the-token")
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "bad_push_token"
    assert google_push(client, google, token=tenants.push_token(microsoft)).status_code == 403
    assert client.post(f"/api/v1/calendar-push/google/{google.id}").status_code == 400  # not a channel
    assert google_push(client, microsoft).status_code == 404  # not a Google tenant
    db.refresh(meeting)
    assert meeting.state == MeetingState.SCHEDULED

    assert google_push(client, google).status_code == 200
    db.refresh(meeting)
    assert meeting.state == MeetingState.CANCELED and "removed the meeting" in meeting.cancel_reason


def test_notifications_go_to_the_pluggable_handler(
    client: Any, db: Session, google_fake: GoogleFake, google: Any, microsoft: Any
) -> None:
    seen: list[int] = []
    calendar_jobs.set_push_handler(seen.append)
    meeting, mentor = booked(db, google_fake, google)
    google_fake.store.delete(mentor.email, event_id_for(meeting.uid))

    assert google_push(client, google).status_code == 200
    assert graph_push(client, microsoft).status_code == 202

    assert seen == [google.id, microsoft.id]
    db.refresh(meeting)
    assert meeting.state == MeetingState.SCHEDULED  # the handler (RQ) syncs later, not the request


# --- Microsoft Graph ---------------------------------------------------------------------------------


def test_graph_validation_handshake_echoes_the_token(client: Any, microsoft: Any, google: Any) -> None:
    token = "Validation: Testing client application reachability for subscription Request-Id: 1c2a"
    response = client.post(f"/api/v1/calendar-push/microsoft/{microsoft.id}",
                           query_string={"validationToken": token}, data="", content_type="text/plain")
    assert response.status_code == 200
    assert response.mimetype == "text/plain" and response.get_data(as_text=True) == token
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    base = "/api/v1/calendar-push/microsoft"
    refused = client.post(f"{base}/{google.id}", query_string={"validationToken": "x"})
    assert refused.status_code == 404
    empty = client.post(f"{base}/{microsoft.id}", query_string={"validationToken": ""})
    assert empty.status_code == 400


def test_graph_notification_applies_a_move_and_checks_the_client_state(
    client: Any, db: Session, graph_fake: Any, microsoft: Any
) -> None:
    meeting, mentor = booked(db, graph_fake, microsoft)
    [link] = db.query(CalendarEventLink).filter_by(meeting_id=meeting.id).all()
    later = SOON + timedelta(days=2)
    graph_fake.store.change(mentor.email, link.event_id, start=later, end=later + timedelta(minutes=30))

    assert graph_push(client, microsoft, client_state="forged").status_code == 403
    bad = client.post(f"/api/v1/calendar-push/microsoft/{microsoft.id}", data="{}",
                      content_type="application/json")
    assert bad.status_code == 400
    db.refresh(meeting)
    assert meeting.start_at == SOON

    assert graph_push(client, microsoft).status_code == 202
    db.refresh(meeting)
    assert (meeting.state, meeting.start_at) == (MeetingState.RESCHEDULED, later)


def test_push_tokens_survive_a_key_rotation(db: Session, microsoft: Any, monkeypatch: Any) -> None:
    import os

    from cryptography.fernet import Fernet

    old = tenants.push_token(microsoft)
    keys = f"{Fernet.generate_key().decode()},{os.environ[tenants.PUSH_KEYS_ENV]}"
    monkeypatch.setenv(tenants.PUSH_KEYS_ENV, keys)
    assert tenants.push_token(microsoft) != old
    assert tenants.check_push_token(microsoft, old)
    assert tenants.check_push_token(microsoft, tenants.push_token(microsoft))
    assert not tenants.check_push_token(microsoft, "")
    assert not tenants.check_push_token(microsoft, old[:-1] + ("1" if old.endswith("0") else "0"))
