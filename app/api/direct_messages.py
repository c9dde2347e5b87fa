"""Direct messages outside any request (``/messages``): a mentee writes to a mentor before asking
for a meeting, the person written to answers. The rules are
:mod:`scheduling.services.direct_messages`'; a conversation the caller may neither read nor start
is a 404."""

from __future__ import annotations

from typing import Any

from app.api import bp
from app.api.fields import Input, Text
from app.api.operations import operation
from app.api.responses import Out, wrapped
from app.auth import require_person
from app.db import db
from scheduling.errors import NotFound
from scheduling.models import Person
from scheduling.services import direct_messages as svc
from scheduling.services.program import get_program


class DirectMessageIn(Input):
    body: Text


class Conversation(Out):
    person_id: int
    can_write: bool
    messages: list[dict[str, Any]]


class Inbox(Out):
    conversations: list[dict[str, Any]]


DirectMessageOut = wrapped("DirectMessageAnswer", "message")


def _other(person_id: int, viewer: Person) -> Person:
    session = db()
    other = svc.other_person(session, person_id)
    if not (svc.may_write(session, get_program(session), viewer, other)
            or svc.wrote_to(session, viewer.id, other.id)):
        raise NotFound("No such conversation.")
    return other


@bp.get("/messages")
@operation("My conversations outside any request, the most recent first.", ok=Inbox)
def direct_inbox() -> Any:
    me = require_person()
    return {"conversations": [
        {"person_id": c.other.id, "name": c.other.name, "count": c.count,
         "last": svc.message_view(c.last, me)}
        for c in svc.inbox(db(), me)
    ]}


@bp.get("/messages/<int:person_id>")
@operation("My conversation with one person, oldest first.", ok=Conversation)
def direct_conversation(person_id: int) -> Any:
    me = require_person()
    session = db()
    other = _other(person_id, me)
    return {"person_id": other.id, "can_write": svc.may_write(session, get_program(session), me, other),
            "messages": [svc.message_view(m, me) for m in svc.conversation(session, me, other)]}


@bp.post("/messages/<int:person_id>")
@operation("Write to a person: a mentee to a mentor they may see, or an answer to whoever wrote.",
           ok={201: DirectMessageOut}, body=DirectMessageIn)
def direct_message_post(person_id: int, body: DirectMessageIn) -> Any:
    me = require_person()
    session = db()
    other = _other(person_id, me)
    message = svc.send(session, get_program(session), me, other, body.body)
    return {"message": svc.message_view(message, me)}, 201
