"""Turn every failure into a clear answer: JSON for the API, a page for the web."""

from __future__ import annotations

from contextlib import suppress
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, jsonify, render_template, request
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from scheduling.errors import DomainError
from scheduling.services.safe_text import is_storable


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def error_response(code: str, message: str, status: int, field: str | None = None) -> Any:
    if wants_json():
        return jsonify({"error": {"code": code, "message": message, "field": field}}), status
    return error_page(code, message, status), status


def _back() -> str | None:
    """The page the person came from on this site (a relative path), to offer as the way back."""
    from app.web.common import safe_next

    parts = urlsplit(request.referrer or "")
    if parts.netloc != request.host or parts.path == request.path:
        return None
    return safe_next(parts.path + (f"?{parts.query}" if parts.query else ""))


def error_page(code: str, message: str, status: int) -> str:
    """The error in the site's layout, navigation included. When the layout itself cannot be built
    (the database is away, or the failed request left the session unusable), the same page with only
    the brand in its header: an error page must never fail in turn."""
    values = {"code": code, "message": message, "status": status, "back": _back()}
    try:
        return render_template("error.html", bare=False, **values)
    except Exception:  # whatever broke the request may break the navigation too
        from app.db import db

        with suppress(Exception):
            db().rollback()
        return render_template("error.html", bare=True, **values)


def _unstorable(value: Any, field: str) -> str | None:
    """The name of the first input no database can store (a NUL or a lone surrogate), if any."""
    if isinstance(value, str):
        return None if is_storable(value) else (field or "The input")
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{field}.{key}" if field else str(key)
            if not is_storable(str(key)):
                return field or "The input"
            if found := _unstorable(item, name):
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            if found := _unstorable(item, f"{field}[{i}]"):
                return found
    return None


def check_input_is_storable() -> Any:
    """Refuse input no database can hold before any route runs; PostgreSQL would otherwise fail the
    first query that used it (even a lookup by it) with a server error."""
    found = next((key for source in (request.args, request.form) for key, values in source.lists()
                  if not all(is_storable(v) for v in [key, *values])), None)
    if found is None and request.is_json:
        found = _unstorable(request.get_json(silent=True), "")
    if found is not None:
        return error_response("validation_failed", f"{found} contains characters that cannot be stored.",
                              422, found)
    return None


def init_errors(app: Flask) -> None:
    app.before_request(check_input_is_storable)

    @app.errorhandler(DomainError)
    def _domain(exc: DomainError) -> Any:
        from app.db import db

        db().rollback()
        return error_response(exc.code, exc.message, exc.status, exc.field)

    @app.errorhandler(StaleDataError)
    def _stale(exc: StaleDataError) -> Any:
        from app.db import db

        db().rollback()
        return error_response("conflict", "Someone changed this at the same time; reload and retry.", 409)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Any:
        code = (exc.name or "error").lower().replace(" ", "_")
        return error_response(code, exc.description or exc.name or "error", exc.code or 500)
