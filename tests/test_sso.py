"""Single sign-on against a real OpenID Provider (Node's certified ``oidc-provider``) on loopback.

The app is driven with the Flask test client; the person's browser at the provider
is ``requests``. Nothing on the protocol path is faked: discovery, PKCE, the token
endpoint, JWKS and RP-initiated logout are the provider's own. The provider's test
switch ``mode`` re-signs (or breaks) ID tokens on their way out of its token
endpoint, as a misbehaving or compromised provider would.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduling import identity_providers
from scheduling.models import IdentityProvider, Person, PersonIdentity
from tests.factories import PASSWORD, make_admin, make_mentee, make_program
from tests.oidc_provider import OpenIDProvider, start

BASE_URL = "http://127.0.0.1:5000"  # the app's default FLASHMENTOR_BASE_URL
ACCOUNTS: dict[str, dict[str, Any]] = {
    "alice": {"email": "alice@example.com", "email_verified": True, "name": "Alice Adler",
              "department": "Data", "zoneinfo": "Europe/Berlin"},
    "bob": {"email": "Bob@Example.com", "email_verified": True, "name": "Bob from the IdP"},
    "eve": {"email": "eve@example.com", "email_verified": False, "name": "Eve"},
    "mallory": {"email": "mallory@elsewhere.test", "email_verified": True, "name": "Mallory"},
}


@pytest.fixture(scope="module")
def op() -> Iterator[OpenIDProvider]:
    yield from start(f"{BASE_URL}/signin/oidc/callback", f"{BASE_URL}/signin", ACCOUNTS)


@pytest.fixture
def idp(db: Session, op: OpenIDProvider) -> Iterator[IdentityProvider]:
    make_program(db)
    provider = identity_providers.create_provider(db, identity_providers.check_fields({
        "name": "Example Corp", "issuer": op.issuer, "client_id": op.client_id,
        "client_secret": op.client_secret, "domains": "example.com",
        "claim_map": {"name": "name", "department": "department", "time_zone": "zoneinfo"},
        "jit_create": True,
    }))
    yield provider
    op.set_mode("ok")


def sso(client: Any, op: OpenIDProvider, account: str, email: str | None = None,
        browser: requests.Session | None = None, next_url: str = "") -> Any:
    """Sign in through the sign-in page's email routing and the provider; the app's final answer."""
    email = email or str(ACCOUNTS[account]["email"])
    to_start = client.post(f"/signin?next={next_url}" if next_url else "/signin", data={"email": email})
    assert to_start.status_code == 302, to_start.get_data(as_text=True)
    to_op = client.get(to_start.headers["Location"])
    assert to_op.status_code == 302 and to_op.headers["Location"].startswith(op.issuer)
    back = op.authorize(to_op.headers["Location"], account, browser)
    parts = urlsplit(back)
    return client.get(f"{parts.path}?{parts.query}")


def signed_in_id(client: Any) -> Any:
    with client.session_transaction() as s:
        return s.get("person_id")


def test_new_person_is_created_from_verified_claims(client: Any, db: Session, op: OpenIDProvider,
                                                    idp: IdentityProvider) -> None:
    resp = sso(client, op, "alice", next_url="/meetings")
    # A new account owes the first-sign-in profile, as an invited person does; then where it was going.
    assert resp.status_code == 302 and resp.headers["Location"] == "/welcome?next=/meetings"
    person = db.scalar(select(Person).where(Person.email == "alice@example.com"))
    assert person is not None and signed_in_id(client) == person.id and person.needs_profile
    assert (person.name, person.department, person.time_zone) == ("Alice Adler", "Data", "Europe/Berlin")
    assert person.roles == ["mentee"] and person.password_hash is None
    link = db.scalar(select(PersonIdentity).where(PersonIdentity.person_id == person.id))
    assert link is not None and link.subject == "alice" and link.last_signin_at is not None
    # The second sign-in finds the same person by subject; nobody new is made.
    client.post("/signout")
    assert sso(client, op, "alice").headers["Location"] == "/welcome"  # the profile is still owed
    assert db.scalar(select(func.count(Person.id))) == 1
    assert client.post("/welcome", data={"time_zone": "Europe/Berlin"}).status_code == 302
    client.post("/signout")
    assert sso(client, op, "alice").headers["Location"] == "/home"


def test_existing_person_is_linked_by_verified_email(client: Any, db: Session, op: OpenIDProvider,
                                                     idp: IdentityProvider) -> None:
    bob = make_mentee(db, email="bob@example.com", name="Bob Builder")
    resp = sso(client, op, "bob")
    assert resp.status_code == 302
    assert signed_in_id(client) == bob.id
    db.expire_all()
    assert db.scalar(select(func.count(Person.id))) == 1
    assert db.get(Person, bob.id).name == "Bob from the IdP"  # type: ignore[union-attr]  # mapped claim


@pytest.mark.parametrize("target", ["/%09/evil.example", "/%0A/evil.example", "//evil.example",
                                    "/%5Cevil.example"])
def test_sso_signin_never_redirects_off_the_site(client: Any, db: Session, op: OpenIDProvider,
                                                 idp: IdentityProvider, target: str) -> None:
    make_mentee(db, email="bob@example.com")
    resp = sso(client, op, "bob", next_url=target)
    assert resp.status_code == 302 and resp.headers["Location"] == "/home"
    start = client.get(f"/signin/sso/{idp.id}/start?next={target}")
    assert start.status_code == 302
    with client.session_transaction() as s:
        assert s["oidc_pending"]["next"] is None


def test_sso_signin_returns_to_a_local_next(client: Any, db: Session, op: OpenIDProvider,
                                            idp: IdentityProvider) -> None:
    make_mentee(db, email="bob@example.com")
    resp = sso(client, op, "bob", next_url="/meetings")
    assert resp.status_code == 302 and resp.headers["Location"] == "/meetings"


def test_unverified_email_signs_nobody_in(client: Any, db: Session, op: OpenIDProvider,
                                          idp: IdentityProvider) -> None:
    make_mentee(db, email="eve@example.com")
    resp = sso(client, op, "eve")
    assert resp.status_code == 401
    assert "did not confirm your email address" in resp.get_data(as_text=True)
    assert signed_in_id(client) is None
    assert db.scalar(select(func.count(PersonIdentity.id))) == 0


def test_address_outside_the_providers_domains_is_refused(client: Any, db: Session, op: OpenIDProvider,
                                                          idp: IdentityProvider) -> None:
    # The person starts with an example.com address, but the provider vouches for another domain.
    resp = sso(client, op, "mallory", email="someone@example.com")
    assert resp.status_code == 401
    assert "Addresses at elsewhere.test do not sign in through Example Corp" in resp.get_data(as_text=True)
    assert db.scalar(select(func.count(Person.id))) == 0


def test_without_jit_an_unknown_person_is_told_to_ask(client: Any, db: Session, op: OpenIDProvider,
                                                      idp: IdentityProvider) -> None:
    idp.jit_create = False
    db.commit()
    resp = sso(client, op, "alice")
    assert resp.status_code == 403
    assert "no account for alice@example.com" in resp.get_data(as_text=True)
    assert db.scalar(select(func.count(Person.id))) == 0
    assert signed_in_id(client) is None


@pytest.mark.parametrize(("mode", "message"), [
    ("audience", "issued to another application"),
    ("expired", "expired"),
    ("signature", "signature does not verify"),
])
def test_a_bad_id_token_is_refused(client: Any, db: Session, op: OpenIDProvider, idp: IdentityProvider,
                                   mode: str, message: str) -> None:
    op.set_mode(mode)
    resp = sso(client, op, "alice")
    assert resp.status_code == 401
    assert message in resp.get_data(as_text=True)
    assert signed_in_id(client) is None
    assert db.scalar(select(func.count(Person.id))) == 0


def test_signing_key_rotation_is_followed(client: Any, db: Session, op: OpenIDProvider,
                                          idp: IdentityProvider) -> None:
    assert sso(client, op, "alice").status_code == 302  # the app now holds the provider's key set
    client.post("/signout")
    assert len(set(op.rotate_keys())) == 2  # a new signing key; the old one still published
    resp = sso(client, op, "alice")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert signed_in_id(client) is not None


def test_a_replayed_callback_is_refused(client: Any, db: Session, op: OpenIDProvider,
                                        idp: IdentityProvider) -> None:
    to_start = client.post("/signin", data={"email": "alice@example.com"})
    to_op = client.get(to_start.headers["Location"])
    back = urlsplit(op.authorize(to_op.headers["Location"], "alice"))
    assert client.get(f"{back.path}?{back.query}").status_code == 302
    client.post("/signout")
    replay = client.get(f"{back.path}?{back.query}")
    assert replay.status_code == 400
    assert "does not belong to a sign-in started here" in replay.get_data(as_text=True)
    assert signed_in_id(client) is None


def test_a_state_from_another_browser_is_refused(app: Any, db: Session, op: OpenIDProvider,
                                                 idp: IdentityProvider) -> None:
    victim, attacker = app.test_client(), app.test_client()
    to_start = attacker.post("/signin", data={"email": "alice@example.com"})
    to_op = attacker.get(to_start.headers["Location"])
    back = urlsplit(op.authorize(to_op.headers["Location"], "alice"))
    victim.post("/signin", data={"email": "alice@example.com"})  # the victim has a sign-in of their own
    resp = victim.get(f"{back.path}?{back.query}")
    assert resp.status_code == 400
    assert signed_in_id(victim) is None


def test_the_authorization_request_uses_pkce_state_and_nonce(client: Any, op: OpenIDProvider,
                                                             idp: IdentityProvider) -> None:
    to_start = client.post("/signin", data={"email": "alice@example.com"})
    query = parse_qs(urlsplit(client.get(to_start.headers["Location"]).headers["Location"]).query)
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert len(query["state"][0]) >= 32 and len(query["nonce"][0]) >= 32
    assert query["login_hint"] == ["alice@example.com"]
    with client.session_transaction() as s:
        assert s["oidc_pending"]["state"] == query["state"][0]


def test_sso_only_program_refuses_passwords(client: Any, db: Session, op: OpenIDProvider,
                                            idp: IdentityProvider) -> None:
    person = make_mentee(db, email="pat@other.test")
    identity_providers.set_password_signin(db, False)
    resp = client.post("/signin", data={"email": person.email, "password": PASSWORD})
    assert resp.status_code == 403
    assert "through their organization only" in resp.get_data(as_text=True)
    api = client.post("/api/v1/auth/login", json={"email": person.email, "password": PASSWORD})
    assert api.status_code == 403 and signed_in_id(client) is None
    assert sso(client, op, "alice").status_code == 302  # SSO still signs people in


def test_password_signin_cannot_be_switched_off_without_a_provider(db: Session) -> None:
    make_program(db)
    with pytest.raises(Exception, match="Add an identity provider"):
        identity_providers.set_password_signin(db, False)
    assert identity_providers.password_signin_allowed(db)


def test_signout_ends_the_session_and_the_providers(client: Any, db: Session, op: OpenIDProvider,
                                                    idp: IdentityProvider) -> None:
    browser = requests.Session()
    assert sso(client, op, "alice", browser=browser).status_code == 302
    resp = client.post("/signout")
    assert resp.status_code == 302
    target = urlsplit(resp.headers["Location"])
    assert f"{target.scheme}://{target.netloc}" == op.issuer and target.path == "/session/end"
    query = parse_qs(target.query)
    assert query["post_logout_redirect_uri"] == [f"{BASE_URL}/signin"] and query["id_token_hint"]
    assert signed_in_id(client) is None
    # The provider accepts the hint and the registered return address and shows its logout step.
    at_op = browser.get(resp.headers["Location"], allow_redirects=False, timeout=10)
    assert at_op.status_code == 200 and "op.logoutForm" in at_op.text


def test_admin_adds_a_provider_through_the_page(client: Any, db: Session, op: OpenIDProvider) -> None:
    make_program(db)
    admin = make_admin(db)
    from tests.factories import login

    login(client, admin)
    form = {"preset": "generic", "name": "Corp IdP", "issuer": op.issuer, "client_id": op.client_id,
            "client_secret": op.client_secret, "domains": "example.com, Example.org"}
    bad = client.post("/admin/identity", data={**form, "issuer": "http://idp.example.com"})
    assert bad.status_code == 422 and "must use https" in bad.get_data(as_text=True)
    assert db.scalar(select(func.count(IdentityProvider.id))) == 0
    ok = client.post("/admin/identity", data=form)
    assert ok.status_code == 303
    provider = db.scalar(select(IdentityProvider))
    assert provider is not None and provider.domains == ["example.com", "example.org"]
    raw = db.connection().exec_driver_sql("SELECT client_secret FROM identity_providers").scalar()
    assert op.client_secret not in str(raw)  # encrypted at rest
    page = client.get("/admin/identity").get_data(as_text=True)
    assert op.client_secret not in page and "Corp IdP" in page
    assert f"{BASE_URL}/signin/oidc/callback" in page


def test_entra_preset_builds_the_issuer_from_the_tenant() -> None:
    checked = identity_providers.check_fields({
        "preset": "entra", "tenant": "contoso.onmicrosoft.com", "client_id": "abc", "client_secret": "x",
        "domains": "contoso.com"})
    assert checked["issuer"] == "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0"
    assert checked["claim_map"]["title"] == "jobTitle"
    google = identity_providers.check_fields({"preset": "google", "client_id": "abc", "client_secret": "x",
                                              "domains": "example.com"})
    assert google["issuer"] == "https://accounts.google.com"


def test_admin_replaces_the_client_secret_and_switches_a_provider_off(
        app: Any, client: Any, db: Session, op: OpenIDProvider, idp: IdentityProvider) -> None:
    """Secrets expire: a new one is entered on the provider's page (empty keeps it). Switched off,
    the provider signs nobody in; the last one cannot be switched off in an SSO-only program."""
    from tests.factories import login

    admin_browser = app.test_client()
    login(admin_browser, make_admin(db, email="ida@example.org"))
    make_mentee(db, email="bob@example.com")
    form = {"name": "Example Corp", "domains": "example.com", "jit_create": "on", "enabled": "on"}
    page = admin_browser.get(f"/admin/identity/{idp.id}").get_data(as_text=True)
    assert 'value="example.com"' in page and op.client_secret not in page

    saved = admin_browser.post(f"/admin/identity/{idp.id}", data={**form, "client_secret": "an-old-secret"})
    assert saved.status_code == 303
    resp = sso(client, op, "bob")  # the provider's token endpoint refuses the wrong secret
    assert resp.status_code == 401 and signed_in_id(client) is None
    assert admin_browser.post(f"/admin/identity/{idp.id}",
                              data={**form, "client_secret": op.client_secret}).status_code == 303
    assert admin_browser.post(f"/admin/identity/{idp.id}", data=form).status_code == 303  # kept
    assert sso(client, op, "bob").headers["Location"] == "/home"
    client.post("/signout")

    other = identity_providers.create_provider(db, identity_providers.check_fields({
        "name": "Other", "issuer": "https://login.example.org", "client_id": "x", "client_secret": "y",
        "domains": "example.org"}))
    path = f"/admin/identity/{idp.id}"
    clash = admin_browser.post(path, data={**form, "domains": "example.com, example.org"})
    assert clash.status_code == 422
    assert "example.org already signs in through Other" in clash.get_data(as_text=True)
    identity_providers.delete_provider(db, other)
    identity_providers.set_password_signin(db, False)
    last = admin_browser.post(f"/admin/identity/{idp.id}", data={**form, "enabled": ""})
    assert last.status_code == 422 and "Switch password sign-in on" in last.get_data(as_text=True)
    db.expire_all()
    assert idp.enabled and idp.domains == ["example.com"] and idp.client_secret == op.client_secret

    identity_providers.set_password_signin(db, True)
    assert admin_browser.post(f"/admin/identity/{idp.id}", data={**form, "enabled": ""}).status_code == 303
    routed = client.post("/signin/sso", data={"email": "bob@example.com"})
    assert routed.status_code == 422 and "No single sign-on" in routed.get_data(as_text=True)
    assert client.get(f"/signin/sso/{idp.id}/start").status_code == 403
    login(client, db.scalar(select(Person).where(Person.email == "bob@example.com")))
    assert client.post(f"/admin/identity/{idp.id}", data=form).status_code == 403  # not an admin
