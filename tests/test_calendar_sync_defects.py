"""Issue 13's low defects in following calendars, each against the loopback fakes, which behave
like the real services here: Google leaves deleted events out of a full listing unless
``showDeleted`` is set; Graph's delta round keeps the window it started with; Graph answers 401
for an access token it no longer takes.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from calendars.base import AuthError, CalendarIdentity, ChangeKind
from calendars.http import RetryPolicy
from calendars.microsoft import MicrosoftConnector
from scheduling import tenants
from scheduling.models import MeetingState
from tests.fakes.google_server import GoogleFake, make_service_account
from tests.fakes.graph_server import GraphFake
from tests.test_calendar_truth import FAST, meeting_of, on_google, pair
from worker import calendar_jobs

T0 = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)


def graph_connector(fake: GraphFake, clock: Any) -> MicrosoftConnector:
    fake.consented = True
    fake.store.failures.clear()
    return MicrosoftConnector(
        tenant_id=fake.tenant_id, client_id=fake.client_id, client_secret=fake.client_secret,
        authority_host=fake.base_url, graph_url=fake.graph_url, verify=fake.ca_file,
        policy=RetryPolicy(max_attempts=1, sleep=lambda _: None), clock=clock,
    )


def graph_person(fake: GraphFake) -> CalendarIdentity:
    email = f"slide-{uuid.uuid4().hex[:8]}@example.com"
    fake.store.add_calendar(email)
    return CalendarIdentity(email, email, email=email)


def test_graph_tracking_window_slides_with_time(graph_fake: GraphFake) -> None:
    now = [T0]
    connector = graph_connector(graph_fake, lambda: now[0])
    owner = graph_person(graph_fake)
    cursor = connector.changes(owner, None).cursor
    far = T0 + timedelta(days=366, hours=1)  # just beyond the first round's window (365 days ahead)
    event = graph_fake.seed(owner.email, start=far, end=far + timedelta(minutes=30))

    now[0] = T0 + timedelta(hours=12)  # same day: the round goes on, the event is not in it yet
    batch = connector.changes(owner, cursor)
    assert batch.changes == []
    now[0] = T0 + timedelta(days=2)  # the window has slid past it
    batch = connector.changes(owner, batch.cursor)
    assert [(c.event_id, c.kind, c.start) for c in batch.changes] == [(event.id, ChangeKind.MOVED, far)]

    graph_fake.store.delete(owner.email, event.id)  # the new round follows it from here
    batch = connector.changes(owner, batch.cursor)
    assert [(c.event_id, c.kind) for c in batch.changes] == [(event.id, ChangeKind.CANCELED)]


def test_graph_old_round_is_read_to_its_end_before_a_new_one(graph_fake: GraphFake) -> None:
    """A deletion made just before the window moves is not lost with the old round."""
    now = [T0]
    connector = graph_connector(graph_fake, lambda: now[0])
    owner = graph_person(graph_fake)
    soon = T0 + timedelta(days=3)
    event = graph_fake.seed(owner.email, start=soon, end=soon + timedelta(minutes=30))
    cursor = connector.changes(owner, None).cursor
    graph_fake.store.delete(owner.email, event.id)
    now[0] = T0 + timedelta(days=5)
    batch = connector.changes(owner, cursor)
    assert (event.id, ChangeKind.CANCELED) in [(c.event_id, c.kind) for c in batch.changes]


def test_graph_401_is_retried_once_with_a_new_token(graph_fake: GraphFake) -> None:
    connector = graph_connector(graph_fake, lambda: T0)
    owner = graph_person(graph_fake)
    connector.changes(owner, None)
    asked = graph_fake.token_requests
    graph_fake.tokens.clear()  # Graph no longer takes the cached token (revoked, keys rolled)

    connector.changes(owner, None)  # no AuthError
    assert graph_fake.token_requests == asked + 1

    graph_fake.client_secret, secret = "rotated-away", graph_fake.client_secret
    graph_fake.tokens.clear()
    try:  # a new token cannot be had either: the error stands, after one new sign-in
        connector.changes(owner, None)
        raise AssertionError("expected AuthError")
    except AuthError:
        pass
    finally:
        graph_fake.client_secret = secret
    assert graph_fake.token_requests == asked + 2


def test_google_full_resync_after_410_sees_deletions(db: Session, google_fake: GoogleFake) -> None:
    info, key = make_service_account(google_fake.token_uri)
    google_fake.register_service_account(info, key)
    google_fake.delegation_granted = True
    google_fake.store.failures.clear()
    tenant = tenants.create_tenant(
        db, name=f"Google {uuid.uuid4().hex[:6]}", provider="google", secret=json.dumps(info),
        config={"domain": "example.com", "api_endpoint": google_fake.api_endpoint, **FAST},
    )
    mentor, mentee = pair(db)
    on_google(db, google_fake, tenant, mentor)
    meeting = meeting_of(db, mentor, mentee)
    calendar_jobs.write_meeting_events(meeting.id, session=db)
    assert calendar_jobs.sync_tenant(tenant.id, session=db).applied == []
    [event] = google_fake.store.live_events(mentor.email)

    google_fake.store.delete(mentor.email, event.id)  # deleted in the gap...
    google_fake.store.expired_tokens_before = google_fake.store.version + 1  # ...and the token expired

    assert calendar_jobs.sync_tenant(tenant.id, session=db).applied == [(meeting.id, "canceled")]
    db.refresh(meeting)
    assert meeting.state == MeetingState.CANCELED
