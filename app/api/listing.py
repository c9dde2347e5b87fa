"""The participant-scoped list shared by requests and meetings (both have a mentee and a mentor)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, or_, select

from app.api.fields import Flag, Id
from app.api.inputs import Page
from app.db import db
from scheduling.errors import Forbidden
from scheduling.models import Person


class ParticipantQuery(Page):
    """Filters of a participant list; each resource adds its own ``state``."""

    all: Flag = False
    mentor_id: Id | None = None
    mentee_id: Id | None = None


def participant_rows(
    model: Any, query_in: ParticipantQuery, me: Person, *, noun: str, order_by: Sequence[Any],
    options: Sequence[Any] = (),
) -> tuple[list[Any], int]:
    """One page of ``model`` rows where ``me`` is mentee or mentor, with the total before paging.

    Admins pass ``all=1`` to see everyone's; ``state``, ``mentor_id`` and ``mentee_id`` filter.
    """
    query = select(model).options(*options)
    if query_in.all:
        if not me.is_admin:
            raise Forbidden(f"Only admins can list all {noun}.", "all")
    else:
        query = query.where(or_(model.mentee_id == me.id, model.mentor_id == me.id))
    state = getattr(query_in, "state", None)
    if state is not None:
        query = query.where(model.state == state)
    for name in ("mentor_id", "mentee_id"):
        value = getattr(query_in, name)
        if value is not None:
            query = query.where(getattr(model, name) == value)
    limit, offset = query_in.limit, query_in.offset
    session = db()
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = list(session.scalars(query.order_by(*order_by).limit(limit).offset(offset)))
    return rows, total
