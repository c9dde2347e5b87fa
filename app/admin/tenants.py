"""Calendar tenants: connect Google Workspace, Microsoft 365 or a CalDAV server; test; see sync status
and every person's broken calendar connection (since when, why, last successful sync).

Everything goes through :mod:`scheduling.tenants`, which validates the settings and
stores the secret encrypted. Secrets are write-only here too: the page says whether
one is set and never puts it back into a form, not even after a refused attempt.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, render_template, request

from app.admin import bp
from app.admin.forms import FieldErrors, back_to, form_text
from app.admin.views import local_time
from app.api.tenants import CONSENT_PATH
from app.db import db
from app.web.oauth import redirect_uri as oauth_redirect_uri
from scheduling import calendar_health, tenants
from scheduling.errors import DomainError

# The non-secret settings each kind of tenant asks for (name, label, help).
PROVIDER_FIELDS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "google": (("domain", "Workspace domain", "e.g. example.com"),),
    "google_oauth": (
        ("domain", "Google domain", "People sign in with addresses in this domain, e.g. example.com."),
        ("client_id", "OAuth client ID", "From the OAuth client (type: web application) in Google Cloud."),
    ),
    "microsoft": (
        ("tenant_id", "Directory (tenant) ID", "From the app registration in Entra ID."),
        ("client_id", "Application (client) ID", ""),
        ("certificate_thumbprint", "Certificate thumbprint",
         "Only when the app signs in with a certificate instead of a client secret."),
    ),
    "caldav": (
        ("url", "Server URL", "e.g. https://dav.example.com/"),
        ("username", "Shared account user name", "Leave empty when each person connects their own calendar."),
    ),
    "caldav_open": (("url", "Server URL", "A server that asks for no sign-in, e.g. http://dav.internal/"),),
}
SECRET_LABELS = {
    "google": ("Service account key (JSON)", "Paste the whole JSON key file of the service account "
                                             "with domain-wide delegation."),
    "google_oauth": ("OAuth client secret", "The client secret of that OAuth client."),
    "microsoft": ("Client secret or certificate key", "The secret value of the app registration, or the "
                                                      "PEM private key of its certificate."),
    "caldav": ("Shared account password", "Only with a shared account."),
}
NO_SECRET = frozenset({"caldav_open"})  # form choices whose servers take no credentials
PROVIDER_NAMES = {
    "google": "Google Workspace", "google_oauth": "Google (each person signs in)",
    "microsoft": "Microsoft 365", "caldav": "CalDAV", "caldav_open": "CalDAV without sign-in",
}
# Form choices that are one provider set up another way: (provider, config they imply).
FORM_PROVIDERS = {"google_oauth": ("google", {"auth": "oauth"}), "caldav_open": ("caldav", {"auth": "none"})}


def redirect_uri() -> str:
    return str(current_app.config.get("BASE_URL", "")).rstrip("/") + CONSENT_PATH


def _render(*, errors: dict[str, FieldErrors] | None = None, posted: dict[str, str] | None = None,
            status: int = 200) -> Any:
    uri = redirect_uri()
    session = db()
    return render_template(
        "admin/tenants.html",
        tenants=[
            {**tenants.describe_tenant(t, redirect_uri=uri), "last_sync_local": local_time(t.last_sync_at),
             "last_ok_local": local_time(max((a.last_ok_at for a in t.accounts if a.last_ok_at),
                                             default=None)),
             "broken": [c for c in calendar_health.connections(session, t.id) if c.broken]}
            for t in tenants.list_tenants(session)
        ],
        local_time=local_time,
        provider_fields=PROVIDER_FIELDS,
        secret_labels=SECRET_LABELS,
        no_secret=NO_SECRET,
        provider_names=PROVIDER_NAMES,
        errors=errors or {},
        posted=posted or {},
        redirect_uri=uri,
        oauth_redirect_uri=oauth_redirect_uri(),
    ), status


@bp.get("/tenants")
def tenants_page() -> Any:
    return _render()


@bp.post("/tenants")
def tenants_create() -> Any:
    provider = form_text("provider")
    if provider not in PROVIDER_FIELDS:
        return _render(errors={"_": {"provider": "Choose Google, Microsoft or CalDAV."}}, status=422)
    config = {key: form_text(key) for key, _, _ in PROVIDER_FIELDS[provider] if form_text(key)}
    posted = {"name": form_text("name"), **config}
    kind, implied = FORM_PROVIDERS.get(provider, (provider, {}))
    try:
        tenant = tenants.create_tenant(
            db(), name=posted["name"], provider=kind, config={**config, **implied},
            secret=request.form.get("secret") or None,
        )
    except DomainError as exc:
        db().rollback()
        shown = {"name", "secret", *(key for key, _, _ in PROVIDER_FIELDS[provider])}
        field = exc.field if exc.field in shown else "_form"
        return _render(errors={provider: {field: exc.message}},
                       posted={"provider": provider, **posted}, status=exc.status)
    flash(f"Calendar tenant {tenant.name!r} added. Test the connection next.", "success")
    return back_to("admin.tenants_page")


@bp.post("/tenants/<int:tenant_id>/test")
def tenants_test(tenant_id: int) -> Any:
    session = db()
    tenant = tenants.get_tenant(session, tenant_id)
    check = tenants.test_connection(session, tenant)
    flash(f"{tenant.name}: {check.message}", "success" if check.ok else "error")
    return back_to("admin.tenants_page")


@bp.post("/tenants/<int:tenant_id>/delete")
def tenants_delete(tenant_id: int) -> Any:
    session = db()
    tenant = tenants.get_tenant(session, tenant_id)
    name = tenant.name
    tenants.delete_tenant(session, tenant)
    flash(f"Calendar tenant {name!r} removed.", "success")
    return back_to("admin.tenants_page")


@bp.get("/tenants/consent")
def tenants_consent() -> Any:
    """Where Microsoft sends the admin back after the admin-consent screen."""
    state = request.args.get("state", "")
    if request.args.get("error"):
        reason = request.args.get("error_description") or request.args.get("error")
        flash(f"Consent was not granted: {reason}", "error")
    elif request.args.get("admin_consent", "").lower() == "true" and state.startswith("tenant-"):
        flash("Consent granted. Test the connection to check it.", "success")
    else:
        flash("The consent answer was not understood; try the consent link again.", "error")
    return back_to("admin.tenants_page")
