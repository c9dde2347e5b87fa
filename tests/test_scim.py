"""SCIM 2.0 provisioning, checked by the published conformance checker ``scim2-tester`` against the
app served over HTTP on loopback, plus Entra ID- and Okta-shaped request sequences and deprovisioning."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from scheduling import identity_providers
from scheduling.db import utcnow
from scheduling.models import IdentityProvider, Meeting, MeetingRequest, MeetingState, Person, RequestState
from scheduling.services import scim_tokens
from scheduling.services.program import get_program
from tests.factories import make_meeting, make_mentee, make_mentor, make_program, make_request
from tests.serving import running

SCIM = "application/scim+json"


@pytest.fixture
def provider(db: Session) -> IdentityProvider:
    make_program(db)
    return identity_providers.create_provider(db, identity_providers.check_fields({
        "name": "Corp", "issuer": "https://login.example.com", "client_id": "x", "client_secret": "y",
        "domains": "example.com"}))


@pytest.fixture
def token(db: Session, provider: IdentityProvider) -> str:
    return scim_tokens.issue(db, provider)


@pytest.fixture
def live(app: Any) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    with running(server, "scim-live"):
        yield f"http://127.0.0.1:{server.server_port}"


def test_scim2_tester_full_run_finds_no_error(live: str, token: str) -> None:
    """Every check of the published checker: discovery, CRUD, attribute selection, .search, PATCH
    add/replace/remove, unknown URLs. It builds its users from the schemas served, which say that
    a user needs an email with a value (a person signs in with it)."""
    # Imported here, not at the top: scim2's pydantic models read their docstrings from source at
    # import, ~0.5 s that every pytest-xdist worker would otherwise pay while collecting.
    from httpx2 import Client
    from scim2_client.engines.httpx2 import SyncSCIMClient
    from scim2_tester import Status, check_server

    http = Client(base_url=f"{live}/scim/v2", headers={"Authorization": f"Bearer {token}"})
    results = check_server(SyncSCIMClient(http))
    failed = [f"{r.status.name} {r.title}: {r.reason}"[:300] for r in results
              if r.status not in (Status.SUCCESS, Status.SKIPPED)]
    print("\n".join(failed))
    assert failed == []
    passed = {r.title for r in results if r.status == Status.SUCCESS}
    assert len([r for r in results if r.status == Status.SUCCESS]) >= 60
    assert {"object_creation", "object_replacement", "object_deletion", "search_with_attributes",
            "check_add_attribute", "check_remove_attribute", "check_replace_attribute"} <= passed


def test_schema_requires_an_email_value(client: Any, token: str) -> None:
    schema = _scim(client, "GET", f"/Schemas/{USER}", token).get_json()
    emails = next(a for a in schema["attributes"] if a["name"] == "emails")
    assert emails["required"] is True
    assert next(s for s in emails["subAttributes"] if s["name"] == "value")["required"] is True


def _scim(client: Any, method: str, path: str, token: str, body: Any = None) -> Any:
    path, _, query = path.partition("?")
    return client.open(f"/scim/v2{path}", method=method, json=body, query_string=query,
                       headers={"Authorization": f"Bearer {token}", "Content-Type": SCIM})


USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def test_okta_and_entra_shaped_sequence(client: Any, db: Session, token: str) -> None:
    # Look up before creating (Okta and Entra both do), then create, then deactivate by PATCH.
    found = _scim(client, "GET", '/Users?filter=userName eq "ada@example.com"', token)
    assert found.status_code == 200 and found.get_json()["totalResults"] == 0
    created = _scim(client, "POST", "/Users", token, {
        "schemas": [USER], "userName": "ada@example.com", "externalId": "00u1", "displayName": "Ada L",
        "emails": [{"value": "ada@example.com", "primary": True, "type": "work"}], "active": True})
    assert created.status_code == 201, created.get_json()
    user_id = created.get_json()["id"]
    assert created.headers["Location"].endswith(f"/scim/v2/Users/{user_id}")
    by_external = _scim(client, "GET", '/Users?filter=externalId eq "00u1"', token).get_json()
    assert [r["id"] for r in by_external["Resources"]] == [user_id]
    again = _scim(client, "POST", "/Users", token, {"schemas": [USER], "userName": "ada@example.com",
                                                     "emails": [{"value": "ada@example.com"}]})
    assert again.status_code == 409 and again.get_json()["scimType"] == "uniqueness"
    # Entra: replace without a path, the value as an object.
    off = _scim(client, "PATCH", f"/Users/{user_id}", token, {
        "schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]})
    assert off.status_code == 200, off.get_json()
    assert off.get_json()["active"] is False
    db.expire_all()
    assert db.get(Person, int(user_id)).active is False  # type: ignore[union-attr]
    # Okta: replace with a path.
    on = _scim(client, "PATCH", f"/Users/{user_id}", token, {
        "schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": True}]})
    assert on.status_code == 200 and on.get_json()["active"] is True


def test_bad_requests_answer_in_the_scim_error_format(client: Any, db: Session, token: str) -> None:
    no_token = client.get("/scim/v2/Users")
    assert no_token.status_code == 401 and no_token.get_json()["schemas"] == [
        "urn:ietf:params:scim:api:messages:2.0:Error"]
    bad_filter = _scim(client, "GET", '/Users?filter=title co "x"', token)
    assert bad_filter.status_code == 400 and bad_filter.get_json()["scimType"] == "invalidFilter"
    no_email = _scim(client, "POST", "/Users", token, {"schemas": [USER], "userName": "nobody"})
    assert no_email.status_code == 400 and no_email.get_json()["scimType"] == "invalidValue"
    assert _scim(client, "GET", "/Users/99999999999999999999", token).status_code == 404
    assert db.scalar(select(func.count(Person.id))) == 0


def test_pagination(client: Any, db: Session, token: str) -> None:
    for n in range(5):
        make_mentee(db, email=f"p{n}@example.com")
    page = _scim(client, "GET", "/Users?startIndex=2&count=2", token).get_json()
    assert page["totalResults"] == 5 and page["startIndex"] == 2 and page["itemsPerPage"] == 2
    assert [r["userName"] for r in page["Resources"]] == ["p1@example.com", "p2@example.com"]


def test_deprovisioning_closes_what_is_open_and_keeps_the_history(client: Any, db: Session,
                                                                   token: str) -> None:
    program = get_program(db)
    mentor = make_mentor(db, email="mentor@example.com")
    mentee = make_mentee(db, email="mentee@example.com")
    other_mentor = make_mentor(db, email="m2@example.com")
    meeting = make_meeting(db, program=program, mentee=mentee, mentor=mentor, now=utcnow())
    pending = make_request(db, program=program, mentee=mentee, mentor=other_mentor, now=utcnow(),
                           times=[(meeting.start_at + timedelta(days=1),
                                   meeting.start_at + timedelta(days=1, minutes=30))])
    gone = _scim(client, "DELETE", f"/Users/{mentee.id}", token)
    assert gone.status_code == 204
    db.expire_all()
    assert db.get(Meeting, meeting.id).state == MeetingState.CANCELED  # type: ignore[union-attr]
    assert db.get(MeetingRequest, pending.id).state == RequestState.WITHDRAWN  # type: ignore[union-attr]
    person = db.get(Person, mentee.id)
    assert person is not None and person.active is False  # kept for the reports
    assert _scim(client, "GET", f"/Users/{mentee.id}", token).status_code == 404


def test_an_email_like_user_name_is_the_email_and_any_other_is_refused(client: Any, db: Session,
                                                                       token: str) -> None:
    made = _scim(client, "POST", "/Users", token, {"schemas": [USER], "userName": "Grace@Example.com"})
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["emails"][0]["value"] == "grace@example.com"
    refused = _scim(client, "POST", "/Users", token, {"schemas": [USER], "userName": "grace-h",
                                                       "emails": [{"type": "work"}]})
    assert refused.status_code == 400
    assert refused.get_json()["scimType"] == "invalidValue" and "email" in refused.get_json()["detail"]
    assert db.scalar(select(func.count(Person.id))) == 1


def test_search_by_post_on_users_groups_and_the_root(client: Any, db: Session, token: str) -> None:
    for n in range(3):
        make_mentee(db, email=f"s{n}@example.com")
    group = _scim(client, "POST", "/Groups", token, {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Research"})
    assert group.status_code == 201
    search = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
    found = _scim(client, "POST", "/Users/.search", token, {
        "schemas": [search], "filter": 'userName eq "s1@example.com"', "attributes": ["userName"]})
    body = found.get_json()
    assert found.status_code == 200 and body["totalResults"] == 1
    assert body["Resources"][0]["userName"] == "s1@example.com" and "emails" not in body["Resources"][0]
    groups = _scim(client, "POST", "/Groups/.search", token, {
        "schemas": [search], "filter": 'displayName eq "research"'}).get_json()
    assert [r["displayName"] for r in groups["Resources"]] == ["Research"]
    # The root searches users then groups as one list, paged across both.
    page = _scim(client, "POST", "/.search", token, {"schemas": [search], "startIndex": 3, "count": 2})
    body = page.get_json()
    assert page.status_code == 200 and body["totalResults"] == 4 and body["startIndex"] == 3
    assert [r.get("userName") or r.get("displayName") for r in body["Resources"]] == [
        "s2@example.com", "Research"]
    bad = _scim(client, "POST", "/.search", token, {"schemas": [search], "filter": 'title co "x"'})
    assert bad.status_code == 400 and bad.get_json()["scimType"] == "invalidFilter"
    unsorted = _scim(client, "POST", "/Users/.search", token, {"schemas": [search], "sortBy": "userName"})
    assert unsorted.status_code == 400


def test_patch_remove_active_means_the_provider_no_longer_deactivates(client: Any, db: Session,
                                                                      token: str) -> None:
    made = _scim(client, "POST", "/Users", token, {
        "schemas": [USER], "userName": "lin@example.com", "active": False})
    user_id = made.get_json()["id"]
    assert made.get_json()["active"] is False
    removed = _scim(client, "PATCH", f"/Users/{user_id}", token, {
        "schemas": [PATCH], "Operations": [{"op": "remove", "path": "active"}]})
    assert removed.status_code == 200, removed.get_json()
    assert "active" not in removed.get_json()
    assert "active" not in _scim(client, "GET", f"/Users/{user_id}", token).get_json()
    db.expire_all()
    assert db.get(Person, int(user_id)).active is True  # type: ignore[union-attr]


def test_a_provisioned_newcomer_owes_the_first_sign_in_profile(client: Any, db: Session, token: str) -> None:
    """A new person from the directory has no zone or skills yet; one imported earlier keeps theirs."""
    imported = make_mentee(db, email="bea@example.com", time_zone="Europe/Paris")
    for name in ("cleo@example.com", "bea@example.com"):
        made = _scim(client, "POST", "/Users", token, {"schemas": [USER], "userName": name,
                                                        "emails": [{"value": name, "primary": True}]})
        assert made.status_code == 201, made.get_json()
    db.expire_all()
    newcomer = db.scalar(select(Person).where(Person.email == "cleo@example.com"))
    assert newcomer is not None and newcomer.needs_profile
    assert not db.get_one(Person, imported.id).needs_profile
