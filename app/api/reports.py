"""The program health report for admins, as JSON or as a CSV download."""

from __future__ import annotations

from typing import Any

from flask import Response

from app.api import bp
from app.api.fields import Input, short_text
from app.api.operations import operation
from app.auth import roles_required
from app.db import db
from app.report_cache import health_report as cached_health_report
from scheduling.errors import ValidationFailed
from scheduling.reports import health_csv
from scheduling.services.program import get_program

FORMATS = ("json", "csv")


class HealthQuery(Input):
    format: short_text(10) | None = None  # type: ignore[valid-type]


@bp.get("/reports/health")
@roles_required("admin")
@operation("The program health report (format=json or csv).", ok={200: {"type": "object"}},
           query=HealthQuery, extra_content={200: {"text/csv": {"type": "string"}}})
def health_report(query: HealthQuery) -> Any:
    fmt = (query.format or "json").lower()
    if fmt not in FORMATS:
        raise ValidationFailed("format must be json or csv.", "format")
    session = db()
    report = cached_health_report(session, get_program(session))  # shared for a minute (app/report_cache.py)
    if fmt == "json":
        return report
    day = report["generated_at"][:10]
    return Response(
        health_csv(report),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="program-health-{day}.csv"'},
    )
