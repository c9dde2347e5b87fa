"""Admin handles on the worker: failed jobs, and reminding the person asked by hand."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import abort

from app.api import bp
from app.api.fields import Input, between
from app.api.inputs import NoFields
from app.api.operations import operation
from app.api.responses import Out, wrapped
from app.auth import roles_required
from app.db import db
from scheduling.db import get_row
from scheduling.models import MeetingRequest
from scheduling.services import request_admin
from worker import failures, runtime


class FailedQuery(Input):
    limit: between(1, 500, "limit is between 1 and 500.") = 50  # type: ignore[valid-type]


class Reminded(Out):
    job_id: str | None
    request_id: int


FailedJobs = wrapped("FailedJobs", "jobs", list[dict[str, Any]])


@bp.get("/admin/jobs/failed")
@roles_required("admin")
@operation("The newest failed jobs with their error (admins).", ok=FailedJobs, query=FailedQuery)
def failed_jobs(query: FailedQuery) -> Any:
    """The newest failed jobs (``?limit=``, default 50, at most 500) with their error."""
    jobs = failures.failed_jobs(db(), runtime.redis_or_none(), limit=query.limit)
    for job in jobs:
        for field in ("failed_at", "retry_at"):
            if isinstance(job.get(field), datetime):
                job[field] = job[field].isoformat()
    return {"jobs": jobs}


@bp.post("/requests/<int:request_id>/remind")
@roles_required("admin")
@operation("Remind the person asked now (admins; the request must be pending).", ok={202: Reminded},
           body=NoFields)
def remind_request(request_id: int, body: NoFields) -> Any:
    """Send the person asked a reminder now (the request must be pending)."""
    if get_row(db(), MeetingRequest, request_id) is None:
        abort(404, description="No such request.")
    job_id = request_admin.remind_now(db(), request_id)
    return {"job_id": job_id, "request_id": request_id}, 202

