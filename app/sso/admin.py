"""Admin pages for identity providers: add (with Entra ID / Google Workspace presets), remove,
SCIM tokens (shown once), and whether password sign-in stays on.

Secrets are write-only: the page says whether one is set and never puts it back into a form.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for

from app.admin.forms import back_to, form_text
from app.auth import current_person, roles_required
from app.db import db
from app.sso import admin_bp
from app.sso.signin import post_logout_uri, redirect_uri
from scheduling import identity_providers, oidc
from scheduling.errors import DomainError
from scheduling.services import scim_tokens


@roles_required("admin")
def _admins_only() -> None:
    return None


@admin_bp.context_processor
def _helpers() -> dict[str, Any]:
    from app.admin.views import admin_nav, local_time

    return {"admin_nav": admin_nav, "local_time": local_time}


@admin_bp.before_request
def _guard() -> Any:
    if current_person() is None and request.method == "GET":
        return redirect(url_for("web.signin", next=request.full_path.rstrip("?")))
    return _admins_only()


def _render(*, errors: dict[str, str] | None = None, posted: dict[str, str] | None = None,
            new_token: str | None = None, status: int = 200) -> Any:
    session = db()
    base = str(current_app.config.get("BASE_URL", "")).rstrip("/")
    return render_template(
        "sso/admin.html",
        providers=[{**identity_providers.describe(p), "tokens": scim_tokens.list_tokens(session, p)}
                   for p in identity_providers.list_providers(session)],
        presets=identity_providers.PRESETS,
        fields=identity_providers.MAPPABLE_FIELDS,
        password_signin=identity_providers.password_signin_allowed(session),
        redirect_uri=redirect_uri(), post_logout_uri=post_logout_uri(), scim_url=base + "/scim/v2",
        errors=errors or {}, posted=posted or {}, new_token=new_token,
    ), status


@admin_bp.get("")
def identity_page() -> Any:
    return _render()


@admin_bp.post("")
def identity_create() -> Any:
    fields: dict[str, Any] = {key: form_text(key) for key in
                              ("name", "preset", "issuer", "tenant", "client_id", "domains")}
    fields["client_secret"] = request.form.get("client_secret") or ""
    fields["jit_create"] = request.form.get("jit_create") == "on"
    claim_map = {f: form_text(f"claim_{f}") for f in identity_providers.MAPPABLE_FIELDS}
    if any(claim_map.values()):
        fields["claim_map"] = claim_map
    posted = {k: v for k, v in fields.items() if k != "client_secret" and isinstance(v, str)}
    posted.update({f"claim_{k}": v for k, v in claim_map.items()})
    try:
        checked = identity_providers.check_fields(fields)
        oidc.discover(checked["issuer"], refresh=True)  # the issuer must answer before it is saved
        provider = identity_providers.create_provider(db(), checked)
    except DomainError as exc:
        return _render(**_refusal(exc), posted=posted)
    flash(f"Identity provider {provider.name!r} added. People at {', '.join(provider.domains)} "
          "can now sign in through it.", "success")
    return back_to("sso_admin.identity_page")


def _refusal(exc: DomainError) -> dict[str, Any]:
    """A refused provider form: nothing kept; the message by its field, a 4xx (an issuer that does
    not answer is the admin's input to fix, so 422 rather than the domain's 502)."""
    db().rollback()
    return {"errors": {exc.field or "_form": exc.message}, "status": exc.status if exc.status < 500 else 422}


def _render_edit(provider: Any, *, errors: dict[str, str] | None = None,
                 posted: dict[str, Any] | None = None, status: int = 200) -> Any:
    shown = identity_providers.describe(provider)
    values = posted or {"name": shown["name"], "domains": ", ".join(shown["domains"]),
                        "jit_create": shown["jit_create"], "enabled": shown["enabled"]}
    return render_template("sso/edit.html", provider=shown, values=values, errors=errors or {}), status


@admin_bp.get("/<int:provider_id>")
def identity_edit(provider_id: int) -> Any:
    return _render_edit(identity_providers.get_provider(db(), provider_id))


@admin_bp.post("/<int:provider_id>")
def identity_update(provider_id: int) -> Any:
    provider = identity_providers.get_provider(db(), provider_id)
    fields: dict[str, Any] = {"name": form_text("name"), "domains": form_text("domains"),
                              "client_secret": request.form.get("client_secret") or "",
                              "jit_create": request.form.get("jit_create") == "on",
                              "enabled": request.form.get("enabled") == "on"}
    try:
        identity_providers.update_provider(db(), provider, fields)
    except DomainError as exc:
        posted = {k: v for k, v in fields.items() if k != "client_secret"}
        return _render_edit(provider, **_refusal(exc), posted=posted)
    flash(f"Identity provider {provider.name!r} saved"
          + (" with its new client secret." if fields["client_secret"].strip() else "."), "success")
    return back_to("sso_admin.identity_page")


@admin_bp.post("/<int:provider_id>/delete")
def identity_delete(provider_id: int) -> Any:
    session = db()
    provider = identity_providers.get_provider(session, provider_id)
    name = provider.name
    try:
        if len([p for p in identity_providers.list_providers(session) if p.enabled]) == 1 \
                and not identity_providers.password_signin_allowed(session):
            raise DomainError("Switch password sign-in on before removing the last identity provider.")
        identity_providers.delete_provider(session, provider)
    except DomainError as exc:
        flash(exc.message, "error")
        return back_to("sso_admin.identity_page")
    flash(f"Identity provider {name!r} removed; its people keep their accounts.", "success")
    return back_to("sso_admin.identity_page")


@admin_bp.post("/password-signin")
def identity_password_signin() -> Any:
    allowed = request.form.get("password_signin") == "on"
    try:
        identity_providers.set_password_signin(db(), allowed)
    except DomainError as exc:
        flash(exc.message, "error")
        return back_to("sso_admin.identity_page")
    flash("Password sign-in is on." if allowed else "People now sign in only through single sign-on.",
          "success")
    return back_to("sso_admin.identity_page")


@admin_bp.post("/<int:provider_id>/scim-tokens")
def identity_token_create(provider_id: int) -> Any:
    provider = identity_providers.get_provider(db(), provider_id)
    token = scim_tokens.issue(db(), provider)
    # Shown once, in this answer only (not in a redirect or a flash that lands in the cookie).
    return _render(new_token=token)


@admin_bp.post("/<int:provider_id>/scim-tokens/<int:token_id>/revoke")
def identity_token_revoke(provider_id: int, token_id: int) -> Any:
    provider = identity_providers.get_provider(db(), provider_id)
    scim_tokens.revoke(db(), provider, token_id)
    flash("SCIM token revoked.", "success")
    return back_to("sso_admin.identity_page")
