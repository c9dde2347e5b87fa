"""The program health report as a page with server-rendered SVG charts, and its CSV export.

The figures come from :func:`scheduling.reports.program_health`; this module only
turns them into charts (:mod:`app.admin.charts`) and tables.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response, render_template

from app.admin import bp
from app.admin.charts import Bar, bar_chart
from app.db import db
from app.report_cache import health_report
from scheduling.reports import health_csv
from scheduling.services.program import get_program
from scheduling.terms import DEFAULT, Terms, terms_of
from worker import failures


def charts_for(report: dict[str, Any], terms: Terms = DEFAULT) -> dict[str, Any]:
    """Every chart of the page, keyed by where it goes (legends in the program's own terms)."""
    states = report["requests_by_state"]
    months = report["meetings_per_month"]
    skills = report["skills"]
    out: dict[str, Any] = {
        "states": bar_chart("Requests by state", [Bar(s.replace("_", " "), n) for s, n in states.items()],
                            unit=("request", "requests")),
        "months": bar_chart("Meetings held per month", [Bar(m["month"], m["held"]) for m in months],
                            unit="held"),
        "skills": bar_chart("Top skills: requested vs offered",
                            [Bar(s["skill"], s["requested"], s["offered"]) for s in skills],
                            series=("requested", f"offered by {terms.mentors}")),
        "questions": {},
    }
    for q in report["surveys"]["questions"]:
        if "distribution" in q:
            bars = [Bar(f"{r} of 5", n) for r, n in q["distribution"].items()]
        elif "counts" in q:
            bars = [Bar(c, n) for c, n in q["counts"].items()]
        elif "yes" in q:
            bars = [Bar("Yes", q["yes"]), Bar("No", q["no"])]
        else:
            continue
        out["questions"][q["question_id"]] = bar_chart(q["text"], bars, unit=("answer", "answers"))
    return out


@bp.get("/report")
def report_page() -> Any:
    session = db()
    report = health_report(session, get_program(session))
    charts = charts_for(report, terms_of(get_program(session)))
    return render_template("admin/report.html", report=report, charts=charts,
                           backlog=failures.backlog(session))


@bp.get("/report.csv")
def report_csv() -> Any:
    session = db()
    report = health_report(session, get_program(session))
    name = f"program-health-{date.today().isoformat()}.csv"
    return Response(
        health_csv(report),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
