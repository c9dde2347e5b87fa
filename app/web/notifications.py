"""My notifications (newest first, unread marked, an unread count in the navigation) and my email
preferences per kind: immediately, a daily digest, or off; mails the program's rules require are
listed as always sent. The rules are in ``scheduling.notifications``."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for

from app.auth import current_person
from app.db import db
from app.web import bp, program_terms
from app.web.common import FormErrors, me, safe_next, signed_in
from scheduling import notifications
from scheduling.errors import DomainError
from scheduling.models import EmailChoice

CHOICE_LABELS = {EmailChoice.IMMEDIATE: "Email me at once", EmailChoice.DIGEST: "Daily digest",
                 EmailChoice.OFF: "No email (in the app only)"}


@bp.app_context_processor
def _unread_helper() -> dict[str, Any]:
    def unread_notifications() -> int:
        person = current_person()
        return notifications.unread_count(db(), person) if person is not None else 0

    return {"unread_notifications": unread_notifications}


@bp.get("/notifications")
@signed_in()
def notifications_list() -> Any:
    person = me()
    session = db()
    items = notifications.latest(session, person)
    return render_template("web/notifications.html", me=person, items=items,
                           unread=notifications.unread_count(session, person))


@bp.post("/notifications/read")
@signed_in()
def notifications_read() -> Any:
    """Mark one (``id``) or all read; then follow the notification's link, or back to the list."""
    person = me()
    raw = (request.form.get("id") or "").strip()
    if raw and not raw.isdigit():
        abort(400, description="Not a notification id.")
    notifications.mark_read(db(), person, int(raw) if raw else None)
    target = safe_next(request.form.get("next"))
    return redirect(target or url_for("web.notifications_list"))


@bp.route("/notifications/preferences", methods=["GET", "POST"])
@signed_in()
def notification_preferences() -> Any:
    person = me()
    session = db()
    errors = FormErrors()
    current = {k.value: v.value for k, v in notifications.preferences(session, person).items()}
    if request.method == "POST":
        posted = {k: request.form.get(k, current[k]) for k in current}  # a kind left out keeps its choice
        try:
            notifications.set_preferences(session, person, posted)
        except DomainError as exc:
            session.rollback()
            errors.add(exc)
            current.update(posted)
        else:
            flash("Email preferences saved.", "info")
            return redirect(url_for("web.notification_preferences"))
    terms = program_terms()
    return render_template(
        "web/notification_preferences.html", me=person, current=current, errors=errors,
        choosable=[(k.value, notifications.kind_label(k, terms)) for k in notifications.CHOOSABLE],
        always=[notifications.kind_label(k, terms) for k in sorted(notifications.REQUIRED_EMAIL)],
        by_rule=[notifications.kind_label(k, terms) for k in sorted(notifications.RULE_MAILED)],
        choices=[(c.value, label) for c, label in CHOICE_LABELS.items()],
    ), 422 if errors else 200
