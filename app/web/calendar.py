"""Connect my calendar: pick the organisation's calendar service, give my calendar (and, for a
CalDAV server without a shared account, my own username and password), test it.

Google tenants in per-user OAuth mode get a "Connect with Google" button instead of the
form (:mod:`app.web.oauth`): nobody can be expected to paste a refresh token.
Secrets go in and never come back: the page only says whether one is stored.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from app.db import db
from app.web import bp
from app.web.common import FormErrors, failed, me, signed_in, when
from scheduling import oauth, tenants
from scheduling.errors import DomainError, Forbidden, ValidationFailed
from scheduling.models import Person
from scheduling.models.calendars import Provider

PROVIDER_LABELS = {
    Provider.CALDAV: "CalDAV", Provider.GOOGLE: "Google Calendar", Provider.MICROSOFT: "Microsoft 365",
}


def _page(person: Person, errors: FormErrors | None = None, form: dict[str, Any] | None = None,
          check: Any = None, status: int = 200) -> Any:
    session = db()
    account = tenants.account_of(session, person)
    every = tenants.list_tenants(session)
    options = [(t.id, f"{t.name} ({PROVIDER_LABELS.get(t.provider, t.provider.value)})")
               for t in every if not oauth.per_user_oauth(t)]
    times = {key: when(getattr(account, key), person) if account is not None else ""
             for key in ("broken_since", "last_ok_at")}
    return render_template("web/calendar.html", me=person, account=account, options=options,
                           broken_since=times["broken_since"], last_ok=times["last_ok_at"],
                           oauth_tenants=[t for t in every if oauth.per_user_oauth(t)],
                           uses_oauth=bool(account and oauth.per_user_oauth(account.tenant)),
                           errors=errors or FormErrors(), form=form or {}, check=check,
                           providers=PROVIDER_LABELS), status


@bp.get("/calendar")
@signed_in()
def calendar_connect() -> Any:
    return _page(me())


@bp.post("/calendar")
@signed_in()
def calendar_connect_post() -> Any:
    person = me()
    session = db()
    form = {k: request.form.get(k, "") for k in ("tenant_id", "external_id", "username")}
    try:
        raw = form["tenant_id"]
        if not raw.isdigit():
            raise ValidationFailed("Choose your organisation's calendar service.", "tenant_id")
        tenant = tenants.get_tenant(session, int(raw))
        if oauth.per_user_oauth(tenant):
            raise ValidationFailed(f'{tenant.name} connects with the "Connect with Google" button.')
        tenants.connect_account(
            session, person=person, tenant=tenant, external_id=form["external_id"] or None,
            username=form["username"], secret=request.form.get("secret") or None,
        )
    except DomainError as exc:
        failed(exc)
        if exc.field is None and exc.code == "not_found":
            exc.field = "tenant_id"
        status = 403 if isinstance(exc, Forbidden) else 422  # someone else's mailbox: not theirs to link
        return _page(person, FormErrors().add(exc, {"secret": "secret"}), form, status=status)
    flash("Calendar connected. Your busy times now keep others from booking you then.", "info")
    return redirect(url_for("web.calendar_connect"))


@bp.post("/calendar/test")
@signed_in()
def calendar_test() -> Any:
    person = me()
    session = db()
    account = tenants.account_of(session, person)
    if account is None:
        errors = FormErrors()
        errors["form"] = "Connect a calendar first."
        return _page(person, errors, status=422)
    check = tenants.test_connection(session, account.tenant, person=person)
    return _page(person, check=check)
