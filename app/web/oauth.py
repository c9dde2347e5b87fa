"""Connect with Google: send the person to Google's consent page and take the answer back.

The pending grant (state and PKCE verifier) lives in the person's signed session cookie
between the two requests, so the callback only accepts an answer to a grant this browser
started; it is used once. The protocol and the storing are :mod:`scheduling.oauth`.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, request, session, url_for

from app.db import db
from app.web import bp
from app.web.calendar import _page
from app.web.common import FormErrors, failed, me, signed_in
from scheduling import oauth, tenants
from scheduling.errors import DomainError, ValidationFailed

PENDING_KEY = "calendar_oauth"


def redirect_uri() -> str:
    """The callback as Google must know it: FLASHMENTOR_BASE_URL + the callback path."""
    return str(current_app.config.get("BASE_URL", "")).rstrip("/") + url_for("web.calendar_oauth_callback")


def _refused(exc: DomainError) -> Any:
    failed(exc)
    errors = FormErrors()
    errors["form"] = exc.message
    return _page(me(), errors, status=exc.status)


@bp.post("/calendar/oauth/start")
@signed_in()
def calendar_oauth_start() -> Any:
    person = me()
    raw = request.form.get("tenant_id", "")
    try:
        if not raw.isdigit():
            raise ValidationFailed("Choose your organisation's calendar service.", "tenant_id")
        url, pending = oauth.begin(tenants.get_tenant(db(), int(raw)), person, redirect_uri())
    except DomainError as exc:
        return _refused(exc)
    session[PENDING_KEY] = pending.as_dict()
    return redirect(url)


@bp.get("/calendar/oauth/callback")
@signed_in()
def calendar_oauth_callback() -> Any:
    person = me()
    args = request.args
    try:
        pending = oauth.check_state(oauth.Pending.from_dict(session.get(PENDING_KEY)), person,
                                    args.get("state"))
        session.pop(PENDING_KEY, None)  # ours: used once, whatever happens next
        check = oauth.finish(db(), person, pending, redirect_uri=redirect_uri(), code=args.get("code"),
                             error=args.get("error"), error_description=args.get("error_description"))
    except DomainError as exc:
        return _refused(exc)
    if check.ok:
        flash(f"Calendar connected with Google. {check.message}", "info")
    else:  # the grant is kept (it may be a passing outage); the person sees why it does not work yet
        flash(f"Google access is stored, but the connection test failed. {check.message}", "error")
    return redirect(url_for("web.calendar_connect"))
