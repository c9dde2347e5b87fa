"""Admin handles on the worker: failed jobs, and reminding the person asked by hand."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import abort

from app.api import bp, json_body
from app.api.params import query_int
from app.auth import roles_required
from app.db import db
from scheduling.db import get_row
from scheduling.errors import ValidationFailed
from scheduling.models import MeetingRequest
from scheduling.services import request_admin
from worker import failures, runtime


@bp.get("/admin/jobs/failed")
@roles_required("admin")
def failed_jobs() -> Any:
    """The newest failed jobs (``?limit=``, default 50, at most 500) with their error."""
    limit = query_int("limit") or 50
    if not 1 <= limit <= 500:
        raise ValidationFailed("limit is between 1 and 500.", "limit")
    jobs = failures.failed_jobs(db(), runtime.redis_or_none(), limit=limit)
    for job in jobs:
        for field in ("failed_at", "retry_at"):
            if isinstance(job.get(field), datetime):
                job[field] = job[field].isoformat()
    return {"jobs": jobs}


@bp.post("/requests/<int:request_id>/remind")
@roles_required("admin")
def remind_request(request_id: int) -> Any:
    """Send the person asked a reminder now (the request must be pending)."""
    json_body()
    if get_row(db(), MeetingRequest, request_id) is None:
        abort(404, description="No such request.")
    job_id = request_admin.remind_now(db(), request_id)
    return {"job_id": job_id, "request_id": request_id}, 202

