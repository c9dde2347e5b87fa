"""Messages outside any request: a mentee writes to a mentor before asking for a meeting (seed 002).

The mentor's card has a "Send a message" form; ``/messages`` lists one's conversations and
``/messages/<person>`` shows one with its reply form. The rules (who may write first) are
:mod:`scheduling.services.direct_messages`'; a refused message shows the page again with the
reason by the field and nothing stored.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for

from app.db import db
from app.web import bp
from app.web.common import FormErrors, failed, me, program, signed_in
from scheduling.errors import DomainError
from scheduling.models import Person
from scheduling.services import direct_messages as svc


def _other(person_id: int, viewer: Person) -> Person:
    """The other person, if there is a conversation with them or the viewer may start one; else 404."""
    session = db()
    other = svc.other_person(session, person_id)
    if not (svc.may_write(session, program(), viewer, other) or svc.wrote_to(session, viewer.id, other.id)):
        abort(404, description="No such conversation.")
    return other


def _page(viewer: Person, other: Person, errors: FormErrors, body: str, status: int = 200) -> Any:
    session = db()
    return render_template(
        "web/conversation.html", me=viewer, other=other, messages=svc.conversation(session, viewer, other),
        can_write=svc.may_write(session, program(), viewer, other), errors=errors, body=body,
        max_length=svc.BODY_MAX,
    ), status


@bp.get("/messages")
@signed_in()
def messages_inbox() -> Any:
    person = me()
    return render_template("web/messages.html", me=person, conversations=svc.inbox(db(), person))


@bp.get("/messages/<int:person_id>")
@signed_in()
def messages_with(person_id: int) -> Any:
    person = me()
    return _page(person, _other(person_id, person), FormErrors(), "")


@bp.post("/messages/<int:person_id>")
@signed_in()
def messages_send(person_id: int) -> Any:
    person = me()
    other = _other(person_id, person)
    body = request.form.get("body") or ""
    try:
        svc.send(db(), program(), person, other, body)
    except DomainError as exc:
        failed(exc)
        errors = FormErrors()
        errors["body" if exc.field == "body" else "form"] = (
            exc.message.replace("Body ", "Message ", 1) if exc.message.startswith("Body ") else exc.message)
        return _page(person, other, errors, body, exc.status if 400 <= exc.status < 500 else 422)
    flash(f"Message sent to {other.name}.", "info")
    return redirect(url_for("web.messages_with", person_id=other.id, _anchor="compose"))
