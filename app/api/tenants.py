"""Calendar tenants for IT admins: connect Google, Microsoft 365 or CalDAV, test, link people.

Secrets are write-only: they go in with POST/PATCH and come back only as "set"/"not set".
"""

from __future__ import annotations

from typing import Any

from flask import current_app

from app.api import bp
from app.api.fields import AnyObject, Passed, hint
from app.api.operations import operation
from app.api.responses import wrapped
from app.auth import current_person, roles_required
from app.db import db
from scheduling import tenants
from scheduling.db import get_row
from scheduling.errors import NotFound, ValidationFailed
from scheduling.models import Person

CONSENT_PATH = "/admin/tenants/consent"
TEXT = {"type": ["string", "null"]}


class TenantIn(Passed):
    """``provider``: google, microsoft or caldav; ``config`` as that provider needs; ``secret`` write-only."""

    name: hint(TEXT) = None  # type: ignore[valid-type]
    provider: hint(TEXT) = None  # type: ignore[valid-type]
    config: hint({"type": "object"}) = None  # type: ignore[valid-type]
    secret: hint(TEXT) = None  # type: ignore[valid-type]


class AccountIn(Passed):
    person_id: hint({"type": "integer"}) = None  # type: ignore[valid-type]
    external_id: hint(TEXT) = None  # type: ignore[valid-type]
    username: hint(TEXT) = None  # type: ignore[valid-type]
    secret: hint(TEXT) = None  # type: ignore[valid-type]


class TestIn(Passed):
    person_id: hint({"type": "integer"}) = None  # type: ignore[valid-type]


TenantAnswer = wrapped("TenantAnswer", "tenant", AnyObject)
TenantList = wrapped("TenantList", "tenants", list[AnyObject])
TestResult = wrapped("TenantTestResult", "result", AnyObject)
AccountAnswer = wrapped("AccountAnswer", "account", AnyObject)


def _redirect_uri() -> str:
    return str(current_app.config.get("BASE_URL", "")).rstrip("/") + CONSENT_PATH


def _secret(data: dict[str, Any]) -> str | None:
    value = data.get("secret")
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationFailed("secret must be a string.", "secret")
    return value


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationFailed(f"{key} must be a string.", key)
    return value


def _person(data: dict[str, Any]) -> Person | None:
    if data.get("person_id") is None:
        return None
    if isinstance(data["person_id"], bool) or not isinstance(data["person_id"], int):
        raise ValidationFailed("person_id must be a number.", "person_id")
    person = get_row(db(), Person, data["person_id"])
    if person is None:
        raise NotFound("No such person.", "person_id")
    return person


@bp.get("/tenants")
@roles_required("admin")
@operation("Calendar tenants (admins).", ok=TenantList)
def tenants_list() -> Any:
    uri = _redirect_uri()
    return {"tenants": [tenants.describe_tenant(t, redirect_uri=uri) for t in tenants.list_tenants(db())]}


@bp.post("/tenants")
@roles_required("admin")
@operation("Connect a calendar tenant (admins).", ok={201: TenantAnswer}, body=TenantIn)
def tenants_create(body: TenantIn) -> Any:
    data = body.given()
    config = data.get("config", {})
    tenant = tenants.create_tenant(
        db(), name=_text(data, "name"), provider=_text(data, "provider"), config=config, secret=_secret(data)
    )
    return {"tenant": tenants.describe_tenant(tenant, redirect_uri=_redirect_uri())}, 201


@bp.get("/tenants/<int:tenant_id>")
@roles_required("admin")
@operation("One calendar tenant (admins).", ok=TenantAnswer)
def tenants_get(tenant_id: int) -> Any:
    tenant = tenants.get_tenant(db(), tenant_id)
    return {"tenant": tenants.describe_tenant(tenant, redirect_uri=_redirect_uri())}


@bp.patch("/tenants/<int:tenant_id>")
@roles_required("admin")
@operation("Change a calendar tenant (admins).", ok=TenantAnswer, body=TenantIn)
def tenants_update(tenant_id: int, body: TenantIn) -> Any:
    data = body.given()
    session = db()
    tenant = tenants.get_tenant(session, tenant_id)
    changes: dict[str, Any] = {}
    if "name" in data:
        changes["name"] = _text(data, "name")
    if "config" in data:
        changes["config"] = data["config"]
    if "secret" in data:
        changes["secret"] = _secret(data)
    tenant = tenants.update_tenant(session, tenant, **changes)
    return {"tenant": tenants.describe_tenant(tenant, redirect_uri=_redirect_uri())}


@bp.delete("/tenants/<int:tenant_id>")
@roles_required("admin")
@operation("Remove a calendar tenant (admins).", ok={204: None})
def tenants_delete(tenant_id: int) -> Any:
    session = db()
    tenants.delete_tenant(session, tenants.get_tenant(session, tenant_id))
    return "", 204


@bp.post("/tenants/<int:tenant_id>/test")
@roles_required("admin")
@operation("Test the connection, as the tenant or as one person (admins).", ok=TestResult, body=TestIn)
def tenants_test(tenant_id: int, body: TestIn) -> Any:
    session = db()
    tenant = tenants.get_tenant(session, tenant_id)
    data = body.given()
    check = tenants.test_connection(session, tenant, person=_person(data))
    return {"result": check.as_dict()}


@bp.post("/tenants/<int:tenant_id>/accounts")
@roles_required("admin")
@operation("Link a person's calendar account (admins: an explicit assignment).",
           ok={201: AccountAnswer}, body=AccountIn)
def tenants_connect(tenant_id: int, body: AccountIn) -> Any:
    session = db()
    tenant = tenants.get_tenant(session, tenant_id)
    data = body.given()
    person = _person(data)
    if person is None:
        raise ValidationFailed("Say whose calendar this is (person_id).", "person_id")
    account = tenants.connect_account(
        session,
        person=person,
        tenant=tenant,
        external_id=_text(data, "external_id") or None,
        username=_text(data, "username"),
        secret=_secret(data),
        assigned_by=current_person(),
    )
    return {
        "account": {
            "id": account.id,
            "person_id": account.person_id,
            "tenant_id": account.tenant_id,
            "external_id": account.external_id,
            "username": account.username,
            "secret": "set" if account.secret else "not set",
        }
    }, 201
