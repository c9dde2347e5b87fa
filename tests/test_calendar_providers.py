"""What is particular to one provider: batching limits, auth flavours, paging, the retry
policy itself, and CalDAV's ETag fallback and free-busy REPORT."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests

from calendars.base import (
    AlreadyExists,
    AuthError,
    BusyInterval,
    CalendarError,
    CalendarIdentity,
    ChangeKind,
    ConsentMissing,
    Gone,
    NotFound,
    ProviderUnavailable,
    RateLimited,
)
from calendars.caldav_provider import CalDAVConnector
from calendars.google import GoogleConnector, event_id_for
from calendars.http import RetryPolicy, error_for_status, parse_retry_after
from calendars.microsoft import MicrosoftConnector, admin_consent_url
from tests.calendar_backends import DavBackend, GoogleBackend, GraphBackend
from tests.fakes.dav_servers import DavServer
from tests.fakes.google_server import GoogleFake
from tests.fakes.graph_server import GraphFake, make_app_certificate
from tests.test_calendar_contract import WEEK, spec_for, utc

# --- the shared retry policy ----------------------------------------------------------------------


def test_retry_after_in_seconds_and_as_a_date() -> None:
    now = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


@pytest.mark.parametrize(
    ("status", "reasons", "expected"),
    [
        (401, [], AuthError),
        (403, [], AuthError),
        (403, ["rateLimitExceeded"], RateLimited),
        (403, ["userRateLimitExceeded"], RateLimited),
        (404, [], NotFound),
        (409, [], AlreadyExists),
        (410, [], Gone),
        (429, [], RateLimited),
        (503, [], RateLimited),
        (500, [], ProviderUnavailable),
        (502, [], ProviderUnavailable),
        (400, [], CalendarError),
    ],
)
def test_status_mapping(status: int, reasons: list[str], expected: type) -> None:
    error = error_for_status(status, reasons=reasons, retry_after="3")
    assert type(error) is expected
    if expected is RateLimited:
        assert error.retry_after == 3.0  # type: ignore[union-attr]
    assert error_for_status(200) is None


def test_backoff_is_exponential_with_jitter_and_capped() -> None:
    sleeps: list[float] = []
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 5:
            raise ProviderUnavailable("down")
        return "up"

    policy = RetryPolicy(
        max_attempts=5, base_delay=0.5, max_delay=3.0, sleep=sleeps.append, random=lambda: 1.0
    )
    assert policy.run(flaky) == "up"
    assert sleeps == [0.5, 1.0, 2.0, 3.0]
    half = RetryPolicy(base_delay=1.0, sleep=sleeps.append, random=lambda: 0.5)
    assert half.delay(3, ProviderUnavailable("x")) == 2.0  # full jitter: a fraction of the ceiling


def test_non_retryable_errors_and_long_waits_go_straight_up() -> None:
    sleeps: list[float] = []
    policy = RetryPolicy(sleep=sleeps.append, max_retry_after=60)
    calls: list[int] = []

    def refused() -> None:
        calls.append(1)
        raise AuthError("no")

    with pytest.raises(AuthError):
        policy.run(refused)
    assert calls == [1]

    def slow_down() -> None:
        calls.append(2)
        raise RateLimited("later", retry_after=3600)

    with pytest.raises(RateLimited):
        policy.run(slow_down)  # the worker re-enqueues after an hour instead of sleeping here
    assert calls == [1, 2] and sleeps == []


# --- Google -----------------------------------------------------------------------------------------


@pytest.fixture
def google(google_fake: GoogleFake) -> GoogleBackend:
    google_fake.store.failures.clear()
    return GoogleBackend(google_fake)


def test_google_freebusy_is_batched_at_fifty(google: GoogleBackend) -> None:
    people = [google.new_person() for _ in range(120)]
    unknown = CalendarIdentity("ghost", "ghost@example.com", email="ghost@example.com")
    google.seed(people[77], utc("2030-01-08", "09:00"), utc("2030-01-08", "10:00"))
    before = google.fake.store.count("POST", "/freeBusy")

    busy = google.connector.busy([*people, unknown], *WEEK)

    assert google.fake.store.count("POST", "/freeBusy") - before == 3  # ceil(121 / 50)
    assert set(busy) == {p.person_key for p in people}  # the unreadable calendar is left out
    assert busy[people[77].person_key] == [
        BusyInterval(utc("2030-01-08", "09:00"), utc("2030-01-08", "10:00"))
    ]


def test_google_writes_use_a_base32hex_id_and_send_updates(google: GoogleBackend) -> None:
    mentor, mentee = google.new_person(), google.new_person()
    spec = spec_for(mentor.email, mentee.email, utc("2030-01-09", "10:00"))
    google.fake.send_updates.clear()

    ref = google.connector.create_event(mentor, spec)

    assert ref.event_id == event_id_for(spec.uid)
    assert set(ref.event_id) <= set("0123456789abcdefghijklmnopqrstuv")
    assert google.fake.send_updates == ["all"]
    assert google.state(mentor, ref.event_id)["uid"] == spec.uid  # type: ignore[index]


def test_google_403_rate_limit_and_5xx(google: GoogleBackend) -> None:
    owner = google.new_person()
    body = {"error": {"code": 403, "errors": [{"reason": "rateLimitExceeded"}], "message": "Rate Limit"}}
    google.fake.store.fail_next(1, 403, body)
    google.fake.store.fail_next(1, 500, {"error": {"code": 500, "message": "Backend Error"}})
    assert google.connector.busy([owner], *WEEK) == {owner.person_key: []}
    assert len(google.sleeps) == 2  # both retried, with backoff (no Retry-After given)

    google.fake.store.fail_next(10, 500, {"error": {"code": 500, "message": "Backend Error"}})
    with pytest.raises(ProviderUnavailable):
        google.make(max_attempts=2, base_delay=0.0).busy([owner], *WEEK)
    google.fake.store.failures.clear()

    google.fake.store.fail_next(1, 403, {"error": {"code": 403, "errors": [{"reason": "forbidden"}]}})
    with pytest.raises(AuthError):
        google.connector.busy([owner], *WEEK)


def test_google_sync_follows_pages(google: GoogleBackend) -> None:
    owner = google.new_person()
    baseline = google.connector.changes(owner, None)
    ids = [
        google.seed(owner, utc("2030-01-08", f"{h:02d}:00"), utc("2030-01-08", f"{h:02d}:30"))
        for h in range(8, 13)
    ]
    google.fake.page_size = 2
    try:
        before = google.fake.store.count("GET", "/events")
        batch = google.connector.changes(owner, baseline.cursor)
    finally:
        google.fake.page_size = 250
    assert sorted(c.event_id for c in batch.changes) == sorted(ids)
    assert google.fake.store.count("GET", "/events") - before == 3


def test_google_per_user_oauth(google_fake: GoogleFake) -> None:
    google_fake.oauth_clients["client-1"] = "client-secret"
    google_fake.refresh_tokens["refresh-abc"] = "oauth-user@example.com"
    google_fake.store.add_calendar("oauth-user@example.com")
    connector = GoogleConnector(
        oauth_client={
            "client_id": "client-1",
            "client_secret": "client-secret",
            "token_uri": google_fake.token_uri,
        },
        api_endpoint=google_fake.api_endpoint,
        policy=RetryPolicy(sleep=lambda s: None),
    )
    me = CalendarIdentity("u", "oauth-user@example.com", secret="refresh-abc", email="oauth-user@example.com")
    assert connector.busy([me], *WEEK) == {"u": []}
    revoked = CalendarIdentity(
        "u", "oauth-user@example.com", secret="revoked", email="oauth-user@example.com"
    )
    with pytest.raises(AuthError):
        connector.busy([revoked], *WEEK)


def test_google_missing_delegation_is_consent_missing(google: GoogleBackend) -> None:
    owner = google.new_person()
    google.fake.delegation_granted = False
    try:
        with pytest.raises(ConsentMissing):
            google.make().busy([owner], *WEEK)
    finally:
        google.fake.delegation_granted = True


# --- Microsoft ----------------------------------------------------------------------------------------


@pytest.fixture
def graph(graph_fake: GraphFake) -> GraphBackend:
    graph_fake.store.failures.clear()
    graph_fake.consented = True
    return GraphBackend(graph_fake)


def test_graph_get_schedule_is_batched_and_split_below_42_days(graph: GraphBackend) -> None:
    people = [graph.new_person() for _ in range(45)]
    graph.seed(people[30], utc("2030-02-20", "09:00"), utc("2030-02-20", "10:00"))
    before = graph.fake.store.count("POST", "/getSchedule")

    busy = graph.connector.busy(people, utc("2030-01-07", "00:00"), utc("2030-03-08", "00:00"))  # 60 days

    assert graph.fake.store.count("POST", "/getSchedule") - before == 3 * 2  # ceil(45/20) batches x 2 windows
    assert busy[people[30].person_key] == [
        BusyInterval(utc("2030-02-20", "09:00"), utc("2030-02-20", "10:00"))
    ]
    assert len(busy) == 45


def test_graph_certificate_credentials(graph: GraphBackend) -> None:
    pem, thumbprint, public = make_app_certificate()
    graph.fake.cert_thumbprints[thumbprint] = public
    owner = graph.new_person()
    connector = MicrosoftConnector(
        tenant_id=graph.fake.tenant_id,
        client_id=graph.fake.client_id,
        certificate_key=pem,
        certificate_thumbprint=thumbprint,
        authority_host=graph.fake.base_url,
        graph_url=graph.fake.graph_url,
        verify=graph.fake.ca_file,
    )
    assert connector.busy([owner], *WEEK) == {owner.person_key: []}
    other_pem, _thumb, _pub = make_app_certificate()  # a key the app registration does not hold
    wrong = MicrosoftConnector(
        tenant_id=graph.fake.tenant_id,
        client_id=graph.fake.client_id,
        certificate_key=other_pem,
        certificate_thumbprint=thumbprint,
        authority_host=graph.fake.base_url,
        graph_url=graph.fake.graph_url,
        verify=graph.fake.ca_file,
    )
    with pytest.raises(AuthError):
        wrong.busy([owner], *WEEK)


def test_graph_unknown_tenant_and_missing_consent(graph: GraphBackend) -> None:
    owner = graph.new_person()
    lost = MicrosoftConnector(
        tenant_id="nope",
        client_id=graph.fake.client_id,
        client_secret="x",
        authority_host=graph.fake.base_url,
        graph_url=graph.fake.graph_url,
        verify=graph.fake.ca_file,
    )
    with pytest.raises(AuthError, match="tenant"):
        lost.busy([owner], *WEEK)
    graph.fake.consented = False
    with pytest.raises(ConsentMissing):
        graph.connector.busy([owner], *WEEK)


def test_graph_delta_follows_next_links(graph: GraphBackend) -> None:
    owner = graph.new_person()
    baseline = graph.connector.changes(owner, None)
    ids = [
        graph.seed(owner, utc("2030-01-08", f"{h:02d}:00"), utc("2030-01-08", f"{h:02d}:30"))
        for h in range(8, 13)
    ]
    graph.fake.page_size = 2
    try:
        batch = graph.connector.changes(owner, baseline.cursor)
    finally:
        graph.fake.page_size = 50
    assert sorted(c.event_id for c in batch.changes) == sorted(ids)
    assert all(c.kind == ChangeKind.MOVED for c in batch.changes)
    assert "$deltatoken" in (batch.cursor or "")


def test_graph_never_sends_the_token_elsewhere(graph: GraphBackend) -> None:
    owner = graph.new_person()
    with pytest.raises(CalendarError, match="refusing"):
        graph.connector.changes(owner, "https://attacker.example/v1.0/users/x/calendarView/delta")


def test_graph_create_sends_transaction_id_for_idempotency(graph: GraphBackend) -> None:
    mentor, mentee = graph.new_person(), graph.new_person()
    spec = spec_for(mentor.email, mentee.email, utc("2030-01-09", "10:00"))
    ref = graph.connector.create_event(mentor, spec)
    assert graph.fake.store.get(mentor.email, ref.event_id).transaction_id == spec.uid  # type: ignore[union-attr]


def test_admin_consent_url() -> None:
    url = admin_consent_url(
        "contoso.onmicrosoft.com", "app-1", "https://fm.example.com/admin/consent", state="t1"
    )
    assert url == (
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/adminconsent?client_id=app-1"
        "&redirect_uri=https%3A%2F%2Ffm.example.com%2Fadmin%2Fconsent&state=t1"
    )


# --- CalDAV -------------------------------------------------------------------------------------------


@pytest.fixture(params=["radicale", "xandikos"])
def dav(request: pytest.FixtureRequest) -> DavBackend:
    server: DavServer = request.getfixturevalue(f"{request.param}_server")
    return DavBackend(server)


def test_caldav_etag_fallback_finds_new_moved_and_deleted_events(dav: DavBackend) -> None:
    connector = dav.make(dav.server.base_url, use_sync_token=False)
    owner = dav.new_person()
    baseline = connector.changes(owner, None)
    assert '"etags"' in (baseline.cursor or "")
    handle = dav.seed(owner, utc("2030-01-08", "09:00"), utc("2030-01-08", "10:00"))
    created = connector.changes(owner, baseline.cursor)
    assert [c.event_id for c in created.changes] == [handle]

    dav.move(owner, handle, utc("2030-01-08", "11:00"), utc("2030-01-08", "12:00"))
    moved = connector.changes(owner, created.cursor)
    assert [(c.kind, c.start) for c in moved.changes] == [(ChangeKind.MOVED, utc("2030-01-08", "11:00"))]
    assert connector.changes(owner, moved.cursor).changes == []

    dav.delete(owner, handle)
    deleted = connector.changes(owner, moved.cursor)
    assert [(c.kind, c.event_id) for c in deleted.changes] == [(ChangeKind.CANCELED, handle)]


def test_caldav_free_busy_report_agrees_with_the_query(dav: DavBackend) -> None:
    owner = dav.new_person()
    dav.seed(owner, utc("2030-01-08", "09:00"), utc("2030-01-08", "10:00"), rrule="FREQ=DAILY;COUNT=2")
    dav.seed(owner, utc("2030-01-08", "12:00"), utc("2030-01-08", "13:00"), transparent=True)
    report = dav.make(dav.server.base_url, freebusy_report=True)
    assert (
        report.busy([owner], *WEEK)
        == dav.connector.busy([owner], *WEEK)
        == {
            owner.person_key: [
                BusyInterval(utc("2030-01-08", "09:00"), utc("2030-01-08", "10:00")),
                BusyInterval(utc("2030-01-09", "09:00"), utc("2030-01-09", "10:00")),
            ]
        }
    )


def test_caldav_per_person_credentials_win_over_the_shared_account(radicale_server: DavServer) -> None:
    dav = DavBackend(radicale_server)
    requests.request("MKCALENDAR", radicale_server.base_url + "bob/own/", auth=("bob", "builder"))
    connector = CalDAVConnector(radicale_server.base_url, username="alice", password="wonderland")
    bob = CalendarIdentity("bob", "bob/own/", username="bob", secret="builder", email="bob@example.com")
    assert connector.busy([bob], *WEEK) == {"bob": []}
    not_bob = CalendarIdentity("x", "bob/own/", email="x@example.com")  # alice may not read bob's calendar
    with pytest.raises((AuthError, NotFound)):
        connector.busy([not_bob], *WEEK)
    assert dav.count(dav.new_person()) == 0


def test_caldav_all_day_without_dtend_lasts_the_day(dav: DavBackend) -> None:
    owner = dav.new_person("America/Los_Angeles")
    url = dav.url(owner, "allday.ics")
    body = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:t\r\nBEGIN:VEVENT\r\nUID:allday\r\nDTSTAMP:20300101T000000Z\r\n"
        "DTSTART;VALUE=DATE:20300110\r\nSUMMARY:off\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    assert dav.http.put(url, data=body, headers={"Content-Type": "text/calendar"}).status_code == 201
    assert dav.connector.busy([owner], *WEEK)[owner.person_key] == [
        BusyInterval(utc("2030-01-10", "08:00"), utc("2030-01-11", "08:00"))
    ]


def test_a_google_service_account_key_is_read_once_a_process_and_again_after_rotation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Reading the RSA key costs ~40 ms of CPU and a connector is built per job: it was paid per job."""
    from google.oauth2 import service_account

    from calendars import google as google_module
    from calendars.base import CalendarIdentity
    from calendars.google import GoogleConnector
    from tests.fakes.google_server import make_service_account

    parsed: list[str] = []
    real = service_account.Credentials.from_service_account_info

    def counting(info: dict[str, str], **kw: object) -> service_account.Credentials:
        parsed.append(info["private_key_id"])
        return real(info, **kw)

    monkeypatch.setattr(service_account.Credentials, "from_service_account_info", counting)
    google_module._service_account.cache_clear()
    info, _ = make_service_account("https://oauth2.example.com/token")
    ada, bob = (CalendarIdentity(e, e, email=e) for e in ("ada@example.com", "bob@example.com"))
    creds = [GoogleConnector(service_account_info=info)._credentials(who) for who in (ada, bob, ada)]
    assert [c._subject for c in creds] == [ada.email, bob.email, ada.email]
    assert parsed == [info["private_key_id"]]
    rotated, _ = make_service_account("https://oauth2.example.com/token")
    after = GoogleConnector(service_account_info=rotated)._credentials(ada)
    assert after.signer_email == rotated["client_email"]
    assert parsed == [info["private_key_id"], rotated["private_key_id"]]
    google_module._service_account.cache_clear()
