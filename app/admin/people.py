"""People: search everyone, and import people from an HR export (CSV), all rows or none.

The import goes through :func:`scheduling.services.people_import.import_people`, the
same code the CLI uses; when it refuses the file, every bad row is listed with its
spreadsheet row number, field and reason, and nobody is created.
"""

from __future__ import annotations

from typing import Any

from flask import flash, render_template, request

from app.admin import bp
from app.admin.forms import back_to
from app.db import db
from scheduling import identity_providers
from scheduling.errors import DomainError, ImportFailed
from scheduling.services import access
from scheduling.services import people as svc
from scheduling.services.people_import import COLUMNS, MAX_ERRORS_SHOWN, import_people

PAGE_SIZE = 50
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
ROLE_FILTERS = ("any", *svc.ROLES)


def _filters() -> dict[str, str]:
    role = request.args.get("role") or "any"
    return {
        "q": (request.args.get("q") or "").strip()[:200],
        "role": role if role in ROLE_FILTERS else "any",
        "department": (request.args.get("department") or "").strip()[:200],
    }


def _page_number() -> int:
    raw = request.args.get("page", "1")
    return max(1, min(int(raw), 10_000)) if raw.isdigit() else 1


def _render(*, import_errors: list[tuple[int, str | None, str]] | None = None, import_message: str = "",
            csv_text: str = "", status: int = 200) -> Any:
    session = db()
    filters = _filters()
    number = _page_number()
    people: list[Any] = []
    total = 0
    search_error = ""
    try:
        args: dict[str, Any] = {
            "q": filters["q"] or None, "department": filters["department"] or None, "role": filters["role"],
        }
        people = svc.search_people(session, **args, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE)
        total = svc.count_people(session, **args)
    except DomainError as exc:
        search_error = exc.message
    return render_template(
        "admin/people.html",
        people=people,
        total=total,
        page=number,
        pages=max(1, -(-total // PAGE_SIZE)),
        filters=filters,
        roles=ROLE_FILTERS,
        departments=svc.departments(session),
        search_error=search_error,
        columns=COLUMNS,
        import_errors=import_errors or [],
        import_message=import_message,
        more_errors=max(0, len(import_errors or []) - MAX_ERRORS_SHOWN),
        max_errors=MAX_ERRORS_SHOWN,
        csv_text=csv_text,
        invited=access.invited_ids(session, [p.id for p in people]),
        sso=identity_providers.linked_people(session, [p.id for p in people]),
    ), status


@bp.get("/people")
def people_page() -> Any:
    return _render()


@bp.post("/people/import")
def people_import() -> Any:
    upload = request.files.get("csv_file")
    data: bytes | str = b""
    if upload is not None and upload.filename:
        data = upload.stream.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            return _render(import_message="The file is larger than 5 MB; split it.", status=413)
    pasted = request.form.get("csv_text", "")
    if not data and pasted.strip():
        data = pasted
    if not data:
        return _render(import_message="Choose a CSV file to upload, or paste its contents.", status=422)
    try:
        result = import_people(db(), data)
    except ImportFailed as exc:
        summary = exc.message.splitlines()[0]
        return _render(import_errors=exc.errors, import_message=summary, csv_text=pasted, status=422)
    except DomainError as exc:
        return _render(import_message=exc.message, csv_text=pasted, status=exc.status)
    flash(f"Imported {result.count} {'person' if result.count == 1 else 'people'}.", "success")
    return back_to("admin.people_page")
