"""Turn every failure into a clear answer: JSON for the API, a page for the web."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template, request
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from scheduling.errors import DomainError


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def error_response(code: str, message: str, status: int, field: str | None = None) -> Any:
    if wants_json():
        return jsonify({"error": {"code": code, "message": message, "field": field}}), status
    return render_template("error.html", code=code, message=message, status=status), status


def init_errors(app: Flask) -> None:
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
