"""The short message thread of a request (and of the meeting that came out of it).

Mentee and mentor write to each other (prep topics, follow-up); admins may read
every thread. Anyone else is told the request does not exist. Threads are counted
for reports (:func:`message_counts`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduling import notifications
from scheduling.db import get_row
from scheduling.errors import Forbidden, NotFound, ValidationFailed
from scheduling.models import Meeting, MeetingRequest, Message, NotificationKind, Person, Program
from scheduling.services.serialize import timestamp
from scheduling.services.transaction import unit_of_work
from scheduling.services.validation import current_time, text
from scheduling.zones import zone_of

BODY_MAX = 2000


def _request(session: Session, request_id: int) -> MeetingRequest | None:
    return get_row(session, MeetingRequest, request_id)


def _participant(req: MeetingRequest, person: Person) -> bool:
    return person.id in (req.mentee_id, req.mentor_id)


def post_message(
    session: Session, request_id: int, author: Person, body: str, *, now: datetime | None = None
) -> Message:
    """Add ``body`` to the thread; only the mentee and the mentor write."""
    now = current_time(now)
    req = _request(session, request_id)
    if req is None or not (_participant(req, author) or author.is_admin):
        raise NotFound("No such request.")
    if not _participant(req, author):
        raise Forbidden("Only the mentee and the mentor write in this thread; admins read it.")
    with unit_of_work(session):
        cleaned = text(body, "body", max_length=BODY_MAX, required=True)
        message = Message(request_id=req.id, author_id=author.id, body=cleaned, created_at=now)
        session.add(message)
        reader = req.mentor_id if author.id == req.mentee_id else req.mentee_id
        notifications.notify(session, reader, NotificationKind.MESSAGE,
                             f"{author.name} wrote about “{req.topic}”",
                             body=cleaned[:500], link=f"/requests/{req.id}", now=now)
        session.commit()
    return message


def thread(session: Session, request_id: int, viewer: Person) -> list[Message]:
    """The thread, oldest first, for a participant or an admin."""
    req = _request(session, request_id)
    if req is None or not (_participant(req, viewer) or viewer.is_admin):
        raise NotFound("No such request.")
    return list(session.scalars(
        select(Message).where(Message.request_id == req.id).order_by(Message.created_at, Message.id)
    ))


def meeting_request_id(session: Session, meeting_id: int) -> int:
    meeting = get_row(session, Meeting, meeting_id)
    if meeting is None:
        raise NotFound("No such meeting.")
    return meeting.request_id


def message_view(message: Message, viewer: Person) -> dict[str, Any]:
    return {
        "id": message.id,
        "request_id": message.request_id,
        "author_id": message.author_id,
        "body": message.body,
        "created_at": timestamp(message.created_at, zone_of(viewer)),
    }


def message_counts(
    session: Session, program: Program, *, start: datetime | None = None, end: datetime | None = None
) -> dict[str, int]:
    """For reports: messages written, and how many requests have a thread, in ``[start, end)``."""
    query = (
        select(func.count(Message.id), func.count(func.distinct(Message.request_id)))
        .join(MeetingRequest, MeetingRequest.id == Message.request_id)
        .where(MeetingRequest.program_id == program.id)
    )
    if start is not None:
        query = query.where(Message.created_at >= start)
    if end is not None:
        if start is not None and end <= start:
            raise ValidationFailed("end must be after start.", "end")
        query = query.where(Message.created_at < end)
    messages, threads = session.execute(query).one()
    return {"messages": int(messages or 0), "threads": int(threads or 0)}
