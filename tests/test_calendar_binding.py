"""A calendar account is bound to its owner's verified identity: in a Google or Microsoft tenant the
service reaches every mailbox, so a person links only their own address (person.email); another
address is an admin's explicit assignment (API, or the operator's command line)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy.orm import Session

from scheduling import tenants
from scheduling.errors import Forbidden
from scheduling.models import CalendarAccount, CalendarTenant
from tests.factories import count_rows, login, make_admin, make_mentee, make_program
from tests.fakes.google_server import make_service_account


def google(db: Session) -> CalendarTenant:
    info, _key = make_service_account("https://oauth2.example.com/token")
    return tenants.create_tenant(db, name="Acme Google", provider="google",
                                 config={"domain": "example.com"}, secret=json.dumps(info))


def microsoft(db: Session) -> CalendarTenant:
    return tenants.create_tenant(db, name="Acme 365", provider="microsoft",
                                 config={"tenant_id": "t", "client_id": "c"}, secret="client-secret")


TENANTS = {"google": google, "microsoft": microsoft}


def error_of(resp: Any, field: str) -> str:
    found = re.search(rf'id="{field}-error"[^>]*>([^<]*)<', resp.get_data(as_text=True))
    assert found, f"no error shown for {field}"
    return found.group(1)


@pytest.mark.parametrize("kind", sorted(TENANTS))
def test_a_mentee_cannot_link_a_colleagues_mailbox_on_my_calendar_page(client: Any, db: Session,
                                                                       kind: str) -> None:
    make_program(db)
    tenant = TENANTS[kind](db)
    mentee = make_mentee(db, email="mia@example.com")
    login(client, mentee)

    resp = client.post("/calendar", data={"tenant_id": str(tenant.id),
                                          "external_id": "colleague@example.com", "username": ""})

    assert resp.status_code == 403
    assert "only your own calendar (mia@example.com)" in error_of(resp, "external_id")
    assert count_rows(db, CalendarAccount) == {"CalendarAccount": 0}


@pytest.mark.parametrize("kind", sorted(TENANTS))
def test_a_person_links_their_own_address_in_any_case(client: Any, db: Session, kind: str) -> None:
    make_program(db)
    tenant = TENANTS[kind](db)
    mentee = make_mentee(db, email="mia@example.com")
    login(client, mentee)

    resp = client.post("/calendar", data={"tenant_id": str(tenant.id),
                                          "external_id": "Mia@Example.com", "username": ""})

    assert resp.status_code == 302
    account = tenants.account_of(db, mentee)
    assert account is not None and account.external_id == "Mia@Example.com"


def test_an_earlier_link_survives_a_refused_one(db: Session) -> None:
    tenant = microsoft(db)
    mentee = make_mentee(db, email="mia@example.com")
    tenants.connect_account(db, person=mentee, tenant=tenant)
    with pytest.raises(Forbidden):
        tenants.connect_account(db, person=mentee, tenant=tenant, external_id="boss@example.com")
    with pytest.raises(Forbidden):  # someone who is no admin assigns: refused the same way
        tenants.connect_account(db, person=mentee, tenant=tenant, external_id="boss@example.com",
                                assigned_by=make_mentee(db))
    db.expire_all()
    account = tenants.account_of(db, mentee)
    assert account is not None and account.external_id == "mia@example.com"


@pytest.mark.parametrize("kind", sorted(TENANTS))
def test_an_admin_assigns_another_address_through_the_api(client: Any, db: Session, kind: str) -> None:
    tenant = TENANTS[kind](db)
    admin = make_admin(db)
    mentee = make_mentee(db, email="mia@example.com")
    login(client, mentee)
    path = f"/api/v1/tenants/{tenant.id}/accounts"
    body = {"person_id": mentee.id, "external_id": "mia.shared@example.com"}
    assert client.post(path, json=body).status_code == 403  # not an admin
    assert count_rows(db, CalendarAccount) == {"CalendarAccount": 0}

    login(client, admin)
    resp = client.post(path, json=body)

    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["account"]["external_id"] == "mia.shared@example.com"


def test_the_operator_assigns_another_address_on_the_command_line(app: Any, db: Session) -> None:
    tenant = microsoft(db)
    mentee = make_mentee(db, email="mia@example.com")

    result: Result = app.test_cli_runner().invoke(args=[
        "tenants", "connect", tenant.name, "--person", mentee.email, "--external-id", "room.7@example.com"])

    assert result.exit_code == 0, result.output
    assert "room.7@example.com" in result.output
    db.expire_all()
    account = tenants.account_of(db, mentee)
    assert account is not None and account.external_id == "room.7@example.com"
