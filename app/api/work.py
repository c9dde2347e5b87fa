"""Admin handles on timed work: list it by what it is doing, retry or drop what failed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import abort, request

from app.api import bp, json_body
from app.api.params import query_enum, query_int
from app.auth import roles_required
from app.db import db
from scheduling import timed_work
from scheduling.db import get_row
from scheduling.errors import ValidationFailed
from scheduling.models import TimedWork, WorkKind
from worker import failures, runtime


@bp.get("/admin/work")
@roles_required("admin")
def list_work() -> Any:
    """``?show=failed|due|overdue|queued|dead`` (default failed), ``?kind=``, ``?limit=`` (1..500),
    with the backlog counts."""
    show = request.args.get("show") or "failed"
    if show not in failures.SHOWS:
        raise ValidationFailed(f"show is one of: {', '.join(failures.SHOWS)}.", "show")
    limit = query_int("limit") or 50
    if not 1 <= limit <= 500:
        raise ValidationFailed("limit is between 1 and 500.", "limit")
    rows = failures.list_work(db(), runtime.redis_or_none(), show=show, kind=query_enum(WorkKind, "kind"),
                              limit=limit)
    return {"work": [_plain(row) for row in rows], "backlog": failures.backlog(db())}


@bp.post("/admin/work/<int:work_id>/retry")
@roles_required("admin")
def retry_work(work_id: int) -> Any:
    """Run failed or dead work again now, with a fresh count of attempts."""
    return _act(work_id, timed_work.retry_now)


@bp.post("/admin/work/<int:work_id>/drop")
@roles_required("admin")
def drop_work(work_id: int) -> Any:
    """Give up on failed or dead work; it will not run again."""
    return _act(work_id, timed_work.drop)


def _act(work_id: int, action: Any) -> Any:
    json_body()
    if get_row(db(), TimedWork, work_id) is None:
        abort(404, description="No such timed work.")
    row = action(db(), work_id)
    db().commit()
    return {"id": row.id, "key": row.key, "state": row.state.value, "due_at": row.due_at.isoformat()}


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}
