"""Calendar tenants: validation, secrets encrypted at rest and never returned, connection tests
that say what failed, linking people, busy time per tenant, and the admin API and CLI."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from calendars.base import BusyInterval
from scheduling import crypto, tenants
from scheduling.errors import Conflict, ValidationFailed
from scheduling.models import CalendarAccount, CalendarTenant, PushSubscription
from tests.factories import NOW, count_rows, login, make_admin, make_mentee, make_mentor, make_person
from tests.fakes.dav_servers import DavServer
from tests.fakes.google_server import GoogleFake, make_service_account
from tests.ports import free_port

FAST = {"retry": {"max_attempts": 2, "base_delay": 0.01}}
WEEK = (datetime(2030, 1, 7, tzinfo=UTC), datetime(2030, 1, 14, tzinfo=UTC))


@pytest.fixture
def sa(google_fake: GoogleFake) -> dict[str, str]:
    info, key = make_service_account(google_fake.token_uri)
    google_fake.register_service_account(info, key)
    google_fake.delegation_granted = True
    return info


def google_tenant(db: Session, fake: GoogleFake, info: dict[str, str], name: str = "Acme Google") -> Any:
    return tenants.create_tenant(
        db,
        name=name,
        provider="google",
        config={"domain": "example.com", "api_endpoint": fake.api_endpoint, **FAST},
        secret=json.dumps(info),
    )


def caldav_tenant(db: Session, server: DavServer, password: str | None = None, url: str | None = None) -> Any:
    return tenants.create_tenant(
        db,
        name="Radicale",
        provider="caldav",
        config={"url": url or server.base_url, "username": server.username, **FAST},
        secret=password or server.password,
    )


# --- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "config", "secret", "field"),
    [
        ("google", {"domain": "example.com"}, "{not json", "secret"),
        ("google", {"domain": "example.com"}, json.dumps({"client_email": "a@b"}), "secret"),
        ("google", {}, json.dumps({"client_email": "a@b", "private_key": "-----BEGIN KEY"}), "domain"),
        ("google", {"domain": "example.com", "auth": "oauth"}, "client-secret", "client_id"),
        ("google", {"domain": "example.com", "auth": "oauth", "client_id": "c",
                    "token_uri": "http://oauth.example.com/token"}, "client-secret", "token_uri"),
        ("google", {"domain": "example.com", "auth": "oauth", "client_id": "c",
                    "auth_uri": "javascript:alert(1)"}, "client-secret", "auth_uri"),
        ("microsoft", {"client_id": "c"}, "s", "tenant_id"),
        ("microsoft", {"tenant_id": "t", "client_id": "c"}, None, "secret"),
        (
            "microsoft",
            {"tenant_id": "t", "client_id": "c"},
            "-----BEGIN PRIVATE KEY-----",
            "certificate_thumbprint",
        ),
        ("microsoft", {"tenant_id": "t", "client_id": "c", "graph_url": "http://x"}, "s", "graph_url"),
        ("caldav", {"url": "ftp://dav.example.com"}, None, "url"),
        ("caldav", {"url": "https://dav.example.com", "username": "shared"}, None, "secret"),
        ("exchange", {}, None, "provider"),
    ],
)
def test_bad_settings_are_refused_and_nothing_is_stored(
    db: Session, provider: str, config: dict, secret: str | None, field: str
) -> None:
    with pytest.raises(ValidationFailed) as info:
        tenants.create_tenant(db, name="T", provider=provider, config=config, secret=secret)
    assert info.value.field == field
    assert count_rows(db, CalendarTenant) == {"CalendarTenant": 0}


def test_names_are_unique(db: Session, sa: dict[str, str], google_fake: GoogleFake) -> None:
    google_tenant(db, google_fake, sa)
    with pytest.raises(Conflict):
        google_tenant(db, google_fake, sa)


def test_secrets_are_encrypted_at_rest(db: Session, radicale_server: DavServer) -> None:
    tenant = caldav_tenant(db, radicale_server)
    person = make_person(db)
    tenants.connect_account(
        db, person=person, tenant=tenant, external_id="alice/cal/", username="bob", secret="per-user-password"
    )

    raw_tenant = db.execute(text("SELECT secret FROM calendar_tenants")).scalar_one()
    raw_account = db.execute(text("SELECT secret FROM calendar_accounts")).scalar_one()
    assert radicale_server.password not in raw_tenant
    assert "per-user-password" not in raw_account
    assert crypto.decrypt(raw_tenant) == radicale_server.password
    assert crypto.decrypt(raw_account) == "per-user-password"


def test_update_keeps_the_secret_unless_given_and_resets_cursors(
    db: Session, radicale_server: DavServer
) -> None:
    tenant = caldav_tenant(db, radicale_server)
    tenant.sync_state = {"account:1": "cursor"}
    db.commit()
    tenants.update_tenant(db, tenant, config={"freebusy_report": True})
    assert tenant.secret == radicale_server.password and tenant.config["freebusy_report"] is True
    assert tenant.sync_state == {"account:1": "cursor"}
    tenants.update_tenant(db, tenant, secret="new-password")
    assert tenant.secret == "new-password" and tenant.sync_state == {}
    with pytest.raises(ValidationFailed):
        tenants.update_tenant(db, tenant, config={"url": "not a url"})
    db.refresh(tenant)
    assert tenant.config["url"] == radicale_server.base_url


# --- connection tests -----------------------------------------------------------------------------


def test_connection_check_google(db: Session, sa: dict[str, str], google_fake: GoogleFake) -> None:
    tenant = google_tenant(db, google_fake, sa)
    person = make_person(db, email="probe@example.com")
    google_fake.store.add_calendar("probe@example.com")
    tenants.connect_account(db, person=person, tenant=tenant)

    assert tenants.test_connection(db, tenant).ok

    google_fake.delegation_granted = False
    check = tenants.test_connection(db, tenant)
    assert (check.ok, check.problem) == (False, "no_consent")
    google_fake.delegation_granted = True

    stranger = make_person(db, email="nocal@example.com")
    tenants.connect_account(db, person=stranger, tenant=tenant)
    check = tenants.test_connection(db, tenant, person=stranger)
    assert (check.ok, check.problem) == (False, "wrong_calendar")

    other, _ = make_service_account(google_fake.token_uri)
    tenants.update_tenant(db, tenant, secret=json.dumps({**other, "client_email": sa["client_email"]}))
    check = tenants.test_connection(db, tenant)
    assert (check.ok, check.problem) == (False, "bad_credentials")


def test_connection_check_caldav(db: Session, radicale_server: DavServer) -> None:
    import requests

    requests.request(
        "MKCALENDAR",
        radicale_server.base_url + "alice/probe/",
        auth=(radicale_server.username, radicale_server.password),
    )
    tenant = caldav_tenant(db, radicale_server)
    person = make_person(db)
    tenants.connect_account(db, person=person, tenant=tenant, external_id="alice/probe/")
    assert tenants.test_connection(db, tenant).ok

    tenants.connect_account(db, person=person, tenant=tenant, external_id="alice/no-such-calendar/")
    assert tenants.test_connection(db, tenant).problem == "wrong_calendar"

    tenants.update_tenant(db, tenant, secret="wrong")
    assert tenants.test_connection(db, tenant).problem == "bad_credentials"

    tenants.update_tenant(db, tenant, config={"url": f"http://127.0.0.1:{free_port()}/"}, secret="x")
    check = tenants.test_connection(db, tenant)
    assert check.problem == "unreachable", check.message


def test_connection_check_microsoft_without_consent(db: Session, graph_fake: Any) -> None:
    tenant = tenants.create_tenant(
        db,
        name="Contoso",
        provider="microsoft",
        config={
            "tenant_id": graph_fake.tenant_id,
            "client_id": graph_fake.client_id,
            "authority_host": graph_fake.base_url,
            "graph_url": graph_fake.graph_url,
            "ca_bundle": graph_fake.ca_file,
            **FAST,
        },
        secret=graph_fake.client_secret,
    )
    person = make_person(db, email="ms-probe@example.com")
    graph_fake.store.add_calendar(person.email)
    tenants.connect_account(db, person=person, tenant=tenant)
    graph_fake.consented = True
    assert tenants.test_connection(db, tenant).ok
    graph_fake.consented = False
    try:
        assert tenants.test_connection(db, tenant).problem == "no_consent"
    finally:
        graph_fake.consented = True


# --- accounts and busy time -----------------------------------------------------------------------


def test_connect_account_validates_and_replaces(
    db: Session, sa: dict[str, str], google_fake: GoogleFake, radicale_server: DavServer
) -> None:
    google = google_tenant(db, google_fake, sa)
    person = make_person(db, email="someone@elsewhere.org")
    with pytest.raises(ValidationFailed) as info:
        tenants.connect_account(db, person=person, tenant=google)  # not in example.com
    assert info.value.field == "external_id"
    dav = tenants.create_tenant(
        db, name="No shared account", provider="caldav", config={"url": radicale_server.base_url}
    )
    with pytest.raises(ValidationFailed):
        tenants.connect_account(db, person=person, tenant=dav, external_id="alice/x/")
    tenants.connect_account(db, person=person, tenant=dav, external_id="alice/x/", username="a", secret="b")
    tenants.connect_account(db, person=person, tenant=dav, external_id="alice/y/", username="a", secret="b")
    assert count_rows(db, CalendarAccount) == {"CalendarAccount": 1}
    assert tenants.account_of(db, person).external_id == "alice/y/"  # type: ignore[union-attr]


def test_busy_source_asks_each_tenant_once_for_its_people(
    db: Session, sa: dict[str, str], google_fake: GoogleFake, radicale_server: DavServer
) -> None:
    import requests

    google = google_tenant(db, google_fake, sa)
    dav = caldav_tenant(db, radicale_server)
    g1, g2 = make_person(db, email="bs-g1@example.com"), make_person(db, email="bs-g2@example.com")
    d1, nobody = make_person(db), make_mentee(db)
    for p in (g1, g2):
        google_fake.store.add_calendar(p.email)
        tenants.connect_account(db, person=p, tenant=google)
    google_fake.seed(
        g1.email, start=datetime(2030, 1, 8, 9, tzinfo=UTC), end=datetime(2030, 1, 8, 10, tzinfo=UTC)
    )
    requests.request(
        "MKCALENDAR",
        radicale_server.base_url + "alice/bs/",
        auth=(radicale_server.username, radicale_server.password),
    )
    tenants.connect_account(db, person=d1, tenant=dav, external_id="alice/bs/")
    before = google_fake.store.count("POST", "/freeBusy")

    busy = tenants.TenantBusySource(db).busy([g1, g2, d1, nobody], *WEEK)

    assert busy == {
        g1.id: [BusyInterval(datetime(2030, 1, 8, 9, tzinfo=UTC), datetime(2030, 1, 8, 10, tzinfo=UTC))],
        g2.id: [],
        d1.id: [],
    }
    assert google_fake.store.count("POST", "/freeBusy") - before == 1


# --- admin API ------------------------------------------------------------------------------------


def test_api_is_for_admins_only(client: Any, db: Session) -> None:
    assert client.get("/api/v1/tenants").status_code == 401
    login(client, make_mentee(db))
    assert client.get("/api/v1/tenants").status_code == 403
    assert client.post("/api/v1/tenants", json={"name": "x"}).status_code == 403


def test_api_never_returns_secrets(
    client: Any, db: Session, sa: dict[str, str], google_fake: GoogleFake, graph_fake: Any
) -> None:
    login(client, make_admin(db))
    secret = json.dumps(sa)
    response = client.post(
        "/api/v1/tenants",
        json={
            "name": "Acme",
            "provider": "google",
            "secret": secret,
            "config": {"domain": "example.com", "api_endpoint": google_fake.api_endpoint},
        },
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_data(as_text=True)
    assert response.get_json()["tenant"]["secret"] == "set"
    assert sa["private_key"].splitlines()[1] not in body and "private_key" not in body

    ms = client.post(
        "/api/v1/tenants",
        json={
            "name": "Contoso",
            "provider": "microsoft",
            "secret": "very-secret-value",
            "config": {"tenant_id": "contoso", "client_id": "app-id"},
        },
    )
    assert ms.status_code == 201
    consent = ms.get_json()["tenant"]["admin_consent_url"]
    assert consent.startswith("https://login.microsoftonline.com/contoso/adminconsent?client_id=app-id")

    listing = client.get("/api/v1/tenants").get_data(as_text=True)
    assert "very-secret-value" not in listing and "BEGIN" not in listing
    tenant_id = ms.get_json()["tenant"]["id"]
    patched = client.patch(f"/api/v1/tenants/{tenant_id}", json={"secret": "rotated-secret"})
    assert patched.status_code == 200 and "rotated-secret" not in patched.get_data(as_text=True)
    assert db.get(CalendarTenant, tenant_id).secret == "rotated-secret"  # type: ignore[union-attr]


def test_api_rejects_bad_input_with_the_field(client: Any, db: Session) -> None:
    login(client, make_admin(db))
    response = client.post(
        "/api/v1/tenants",
        json={"name": "Bad", "provider": "google", "config": {"domain": "example.com"}, "secret": "{"},
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["field"] == "secret"
    assert client.post("/api/v1/tenants", data="x", content_type="text/plain").status_code == 415
    assert count_rows(db, CalendarTenant) == {"CalendarTenant": 0}


def test_api_test_and_connect(client: Any, db: Session, radicale_server: DavServer) -> None:
    import requests

    requests.request(
        "MKCALENDAR",
        radicale_server.base_url + "alice/api/",
        auth=(radicale_server.username, radicale_server.password),
    )
    login(client, make_admin(db))
    tenant = caldav_tenant(db, radicale_server)
    person = make_person(db)
    connected = client.post(
        f"/api/v1/tenants/{tenant.id}/accounts",
        json={"person_id": person.id, "external_id": "alice/api/", "secret": "pw", "username": "alice"},
    )
    assert connected.status_code == 201
    assert connected.get_json()["account"]["secret"] == "set" and "pw" not in connected.get_data(as_text=True)
    result = client.post(f"/api/v1/tenants/{tenant.id}/test", json={"person_id": person.id}).get_json()
    assert result["result"]["ok"] is False and result["result"]["problem"] == "bad_credentials"
    tenants.connect_account(db, person=person, tenant=tenant, external_id="alice/api/")
    result = client.post(f"/api/v1/tenants/{tenant.id}/test", json={}).get_json()
    assert result["result"] == {"ok": True, "problem": None, "message": result["result"]["message"]}
    assert client.post(f"/api/v1/tenants/{tenant.id}/test", json={"person_id": 9999}).status_code == 404


# --- CLI ------------------------------------------------------------------------------------------


def test_cli_add_list_test(app: Any, db: Session, radicale_server: DavServer, tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(radicale_server.password + "\n")
    runner = app.test_cli_runner()
    config = json.dumps({"url": radicale_server.base_url, "username": radicale_server.username, **FAST})
    result = runner.invoke(
        args=[
            "tenants",
            "add",
            "--name",
            "dav",
            "--provider",
            "caldav",
            "--config",
            config,
            "--secret-file",
            str(secret_file),
        ]
    )
    assert result.exit_code == 0, result.output
    listed = runner.invoke(args=["tenants", "list"])
    assert "dav\tcaldav\tsecret set" in listed.output and radicale_server.password not in listed.output
    tested = runner.invoke(args=["tenants", "test", "dav"])
    assert tested.exit_code == 0 and tested.output.startswith("OK"), tested.output
    bad = runner.invoke(args=["tenants", "add", "--name", "x", "--provider", "caldav", "--config", "{}"])
    assert bad.exit_code != 0 and "url" in bad.output


def test_secrets_rotate_re_encrypts_with_the_new_key(
    app: Any, db: Session, radicale_server: DavServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptography.fernet import Fernet

    tenant = caldav_tenant(db, radicale_server)
    person = make_mentor(db)
    db.add(PushSubscription(
        tenant_id=tenant.id, person_id=person.id, channel_id="ch-1", calendar_id="primary",
        address="https://flashmentor.example.com/push", secret="channel-secret",
        expires_at=NOW + timedelta(days=1),
    ))
    db.commit()
    old = os.environ["FLASHMENTOR_SECRET_KEYS"]
    new = Fernet.generate_key().decode()
    monkeypatch.setenv("FLASHMENTOR_SECRET_KEYS", f"{new},{old}")

    result = app.test_cli_runner().invoke(args=["secrets", "rotate"])

    assert "Re-encrypted 2 secret(s)" in result.output, result.output
    monkeypatch.setenv("FLASHMENTOR_SECRET_KEYS", new)  # the old key is gone
    raw = db.execute(text("SELECT secret FROM calendar_tenants")).scalar_one()
    assert crypto.decrypt(raw) == radicale_server.password
    raw = db.execute(text("SELECT secret FROM calendar_push_subscriptions")).scalar_one()
    assert crypto.decrypt(raw) == "channel-secret"
