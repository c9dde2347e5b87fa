"""Sign in through the organization's identity provider (authorization code + PKCE).

The browser session holds ``state``, ``nonce`` and the PKCE verifier between the
redirect to the provider and its answer; they are single-use (popped at the callback),
so a replayed or forged answer finds nothing to match and is refused.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import current_app, flash, redirect, render_template, request, session, url_for

from app.auth import login
from app.db import db
from app.sso import bp
from app.web.common import safe_next
from app.web.signin import landing_for
from scheduling import identity_providers, oidc
from scheduling.errors import DomainError
from scheduling.services.sso_signin import sign_in

CALLBACK_PATH = "/signin/oidc/callback"
_PENDING = "oidc_pending"
_SIGNED_IN = "oidc_signed_in"


def redirect_uri() -> str:
    """The redirect URI to register at the identity provider."""
    return str(current_app.config.get("BASE_URL", "")).rstrip("/") + CALLBACK_PATH


def post_logout_uri() -> str:
    return str(current_app.config.get("BASE_URL", "")).rstrip("/") + url_for("web.signin")


def _refused(message: str, status: int, email: str = "") -> Any:
    return render_template("sso/signin.html", message=message, email=email), status


@bp.route("/signin/sso", methods=["GET", "POST"])
def sso_signin() -> Any:
    """Ask for the work email, then go to the provider that signs in its domain."""
    if request.method == "GET" and not request.args.get("email"):
        return render_template("sso/signin.html", message=None, email="")
    email = (request.values.get("email") or "").strip().lower()
    found = sso_redirect(email, safe_next(request.values.get("next"))) if "@" in email else None
    if found is None:
        return _refused("No single sign-on is set up for that address. Sign in with your password, "
                        "or check the address.", 422, email)
    return found


def sso_redirect(email: str, next_url: str | None) -> Any:
    """To the provider that signs in this address's domain, or None when there is none."""
    provider = identity_providers.provider_for_email(db(), email)
    if provider is None:
        return None
    return redirect(url_for("sso.sso_start", provider_id=provider.id, login_hint=email.strip().lower(),
                            next=next_url))


@bp.get("/signin/sso/<int:provider_id>/start")
def sso_start(provider_id: int) -> Any:
    provider = identity_providers.get_provider(db(), provider_id)
    if not provider.enabled:
        return _refused(f"Sign-in through {provider.name} is switched off.", 403)
    try:
        auth = oidc.begin(provider, redirect_uri(), login_hint=request.args.get("login_hint", "")[:254])
    except DomainError as exc:
        return _refused(exc.message, exc.status)
    session[_PENDING] = {"provider_id": provider.id, "state": auth.state, "nonce": auth.nonce,
                         "verifier": auth.code_verifier, "next": safe_next(request.args.get("next"))}
    return redirect(auth.url)


@bp.get(CALLBACK_PATH)
def sso_callback() -> Any:
    pending = session.pop(_PENDING, None)
    state = request.args.get("state", "")
    if not isinstance(pending, dict) or not secrets.compare_digest(str(pending.get("state")), state):
        return _refused("This sign-in answer does not belong to a sign-in started here (it may have been "
                        "used already). Start again.", 400)
    if request.args.get("error"):
        reason = request.args.get("error_description") or request.args.get("error")
        return _refused(f"Your identity provider did not sign you in: {reason}", 401)
    code = request.args.get("code", "")
    if not code:
        return _refused("The identity provider's answer has no authorization code. Start again.", 400)
    try:
        provider = identity_providers.get_provider(db(), pending["provider_id"])
        if not provider.enabled:  # switched off between the start and the answer
            return _refused(f"Sign-in through {provider.name} is switched off.", 403)
        claims, id_token = oidc.finish(provider, code=code, redirect_uri=redirect_uri(),
                                       code_verifier=pending["verifier"], nonce=pending["nonce"])
        person = sign_in(db(), provider, claims)
    except DomainError as exc:
        db().rollback()
        return _refused(exc.message, exc.status)
    login(person)
    session[_SIGNED_IN] = {"provider_id": provider.id, "id_token": id_token}
    flash(f"Signed in as {person.name}.", "info")
    if person.needs_profile:  # created just now (or invited and never finished): the profile first
        return redirect(url_for("web.welcome", next=pending.get("next")))
    return redirect(pending.get("next") or landing_for(person.roles))


def provider_logout_url() -> str | None:
    """Where to send the browser after the local sign-out: the provider's end-session endpoint, if any.

    Call before the session is cleared.
    """
    signed_in = session.get(_SIGNED_IN)
    if not isinstance(signed_in, dict):
        return None
    try:
        provider = identity_providers.get_provider(db(), signed_in.get("provider_id"))
    except DomainError:
        return None
    return oidc.logout_url(provider, id_token=str(signed_in.get("id_token")),
                           post_logout_redirect_uri=post_logout_uri())


@bp.app_context_processor
def _sso_helpers() -> dict[str, Any]:
    def sso_offered() -> bool:
        return any(p.enabled for p in identity_providers.list_providers(db()))

    def password_signin() -> bool:
        return identity_providers.password_signin_allowed(db())

    return {"sso_offered": sso_offered, "password_signin": password_signin}
