"""Where calendar providers tell us that something changed: Google watch channels and
Microsoft Graph change-notification subscriptions, one address per tenant.

The worker opens and renews them (:func:`worker.calendar_jobs.ensure_push`), each with a
random secret stored encrypted on its :class:`~scheduling.models.calendars.PushSubscription`;
a notification naming one of those must carry that secret. A channel we do not know (one
registered by hand) must carry the tenant's :func:`scheduling.tenants.push_token` instead.

- Google (``events.watch``, ``type=web_hook``, ``address`` = ``.../google/<tenant_id>``):
  each notification is a bodiless POST with ``X-Goog-Channel-ID``, ``X-Goog-Channel-Token``,
  ``X-Goog-Resource-State`` (``sync`` when the channel opens, then ``exists``/``not_exists``).
  A wrong token is 403. ``sync`` changes nothing, so one for a channel whose row is not
  committed yet (it races the ``events.watch`` answer) is acknowledged as it is.
- Microsoft (subscription on ``users/{id}/events``, ``notificationUrl`` =
  ``.../microsoft/<tenant_id>``, ``clientState`` = the secret): Graph first POSTs
  ``?validationToken=...`` and expects it echoed as text/plain within 10 s; then POSTs
  ``{"value": [{subscriptionId, clientState, changeType, resource, ...}]}``; notifications
  with a wrong ``clientState`` are dropped (403 when none is valid), else 202. Lifecycle
  notices (``subscriptionRemoved``, ``reauthorizationRequired``) make the subscription due
  for renewal; ``missed`` and ``subscriptionRemoved`` also start a sync.

A notification only says "look": it starts :func:`worker.calendar_jobs.on_push` for the
tenant (the change itself is read by ``sync_tenant`` with the stored cursors), so a forged
or replayed one can at worst cause an extra sync. Outside the JSON-only ``api`` blueprint
(providers send no JSON body) and exempt from CSRF (no cookies are involved).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, request

from app.db import db
from scheduling.db import get_row
from scheduling.errors import NotFound
from scheduling.models import CalendarTenant, Provider
from scheduling.tenants import check_push_token
from worker import calendar_jobs

log = logging.getLogger(__name__)
bp = Blueprint("calendar_push", __name__, url_prefix="/api/v1/calendar-push")
VALIDATION_TOKEN_MAX = 2048
SYNCING_LIFECYCLE_EVENTS = frozenset({"missed", "subscriptionRemoved"})


def _tenant(tenant_id: int, provider: Provider) -> CalendarTenant:
    tenant = get_row(db(), CalendarTenant, tenant_id)
    if tenant is None or tenant.provider != provider:
        raise NotFound("No such calendar tenant.")
    return tenant


def _forbidden(message: str) -> tuple[dict[str, Any], int]:
    return {"error": {"code": "bad_push_token", "message": message, "field": None}}, 403


@bp.post("/google/<int:tenant_id>")
def google(tenant_id: int) -> Any:
    tenant = _tenant(tenant_id, Provider.GOOGLE)
    channel_id = request.headers.get("X-Goog-Channel-ID", "")
    if not channel_id:
        return {"error": {"code": "validation_failed", "message": "Not a channel notification.",
                          "field": "X-Goog-Channel-ID"}}, 400
    token = request.headers.get("X-Goog-Channel-Token")
    state = request.headers.get("X-Goog-Resource-State", "")
    sub = calendar_jobs.find_push_subscription(db(), tenant.id, channel_id)
    ok = sub.matches(token) if sub is not None else state == "sync" or check_push_token(tenant, token)
    if not ok:
        log.warning("google push for tenant %s with a wrong channel token", tenant.id)
        return _forbidden("The channel token does not match.")
    if state != "sync":  # "sync" only says the channel is open; nothing has changed yet
        calendar_jobs.on_push(tenant.id, session=db())
    return Response(status=200)


@bp.post("/microsoft/<int:tenant_id>")
def microsoft(tenant_id: int) -> Any:
    token = request.args.get("validationToken")
    if token is not None:
        _tenant(tenant_id, Provider.MICROSOFT)
        if not token or len(token) > VALIDATION_TOKEN_MAX:
            return {"error": {"code": "validation_failed", "message": "Bad validation token.",
                              "field": "validationToken"}}, 400
        response = Response(token, status=200, mimetype="text/plain")
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response
    tenant = _tenant(tenant_id, Provider.MICROSOFT)
    body = request.get_json(silent=True, force=True)
    items = body.get("value") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        return {"error": {"code": "validation_failed", "message": "Expected {\"value\": [...]}.",
                          "field": "value"}}, 400
    valid = []
    for note in items:
        if not isinstance(note, dict):
            continue
        sub = calendar_jobs.find_push_subscription(db(), tenant.id, str(note.get("subscriptionId") or ""))
        state = str(note.get("clientState") or "")
        if sub.matches(state) if sub is not None else check_push_token(tenant, state):
            valid.append((note, sub))
    if not valid:
        log.warning("graph push for tenant %s with a wrong clientState", tenant.id)
        return _forbidden("The clientState does not match.")
    sync = False
    for note, sub in valid:
        event = note.get("lifecycleEvent")
        if event is None:
            sync = True
            continue
        if sub is not None:
            calendar_jobs.push_lifecycle(db(), sub, str(event))
        sync = sync or event in SYNCING_LIFECYCLE_EVENTS
    if sync:
        calendar_jobs.on_push(tenant.id, session=db())
    return Response(status=202)
