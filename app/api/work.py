"""Admin handles on timed work: list it by what it is doing, retry or drop what failed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import abort

from app.api import bp
from app.api.fields import Input, between, one_of, short_text
from app.api.inputs import NoFields
from app.api.operations import operation
from app.api.responses import Out
from app.auth import roles_required
from app.db import db
from scheduling import timed_work
from scheduling.db import get_row
from scheduling.errors import ValidationFailed
from scheduling.models import TimedWork, WorkKind
from worker import failures, runtime


class WorkQuery(Input):
    show: short_text(20) | None = None  # type: ignore[valid-type]
    kind: one_of(WorkKind) | None = None  # type: ignore[valid-type]
    limit: between(1, 500, "limit is between 1 and 500.") = 50  # type: ignore[valid-type]


class WorkList(Out):
    work: list[dict[str, Any]]
    backlog: dict[str, Any]


class WorkRow(Out):
    id: int
    key: str
    state: str
    due_at: str


@bp.get("/admin/work")
@roles_required("admin")
@operation("Timed work by what it is doing (show=failed|due|overdue|queued|dead), with the backlog.",
           ok=WorkList, query=WorkQuery)
def list_work(query: WorkQuery) -> Any:
    """``?show=failed|due|overdue|queued|dead`` (default failed), ``?kind=``, ``?limit=`` (1..500),
    with the backlog counts."""
    show = query.show or "failed"
    if show not in failures.SHOWS:
        raise ValidationFailed(f"show is one of: {', '.join(failures.SHOWS)}.", "show")
    rows = failures.list_work(db(), runtime.redis_or_none(), show=show, kind=query.kind, limit=query.limit)
    return {"work": [_plain(row) for row in rows], "backlog": failures.backlog(db())}


@bp.post("/admin/work/<int:work_id>/retry")
@roles_required("admin")
@operation("Run failed or dead work again now (admins).", ok=WorkRow, body=NoFields)
def retry_work(work_id: int, body: NoFields) -> Any:
    """Run failed or dead work again now, with a fresh count of attempts."""
    return _act(work_id, timed_work.retry_now)


@bp.post("/admin/work/<int:work_id>/drop")
@roles_required("admin")
@operation("Give up on failed or dead work (admins).", ok=WorkRow, body=NoFields)
def drop_work(work_id: int, body: NoFields) -> Any:
    """Give up on failed or dead work; it will not run again."""
    return _act(work_id, timed_work.drop)


def _act(work_id: int, action: Any) -> Any:
    if get_row(db(), TimedWork, work_id) is None:
        abort(404, description="No such timed work.")
    row = action(db(), work_id)
    db().commit()
    return {"id": row.id, "key": row.key, "state": row.state.value, "due_at": row.due_at.isoformat()}


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}
