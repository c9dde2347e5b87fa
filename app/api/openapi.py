"""The OpenAPI 3.1 document of ``/api/v1``, served at ``/api/v1/openapi.json``.

Built from the app's URL map and each route's ``@operation`` (:mod:`app.api.operations`):
paths and path parameters from the rules, request bodies and query parameters from the
very pydantic models that check them, answers from the response models. Every operation
may also answer with the error shape ``{"error": {"code", "message", "field"}}``.
Providers' change notifications (``/api/v1/calendar-push``) are webhooks, not client
operations, and are left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from flask import Flask, current_app
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from app.api import bp
from app.api.operations import Operation, operation
from scheduling.db import MAX_ID

TITLE = "Flashmentor API"
VERSION = "1.0.0"
REF = "#/components/schemas/{model}"
ERROR_REF = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["code", "message", "field"],
        "properties": {
            "code": {"type": "string", "description": "Stable; clients key on it."},
            "message": {"type": "string", "description": "For people."},
            "field": {"type": ["string", "null"], "description": "The input at fault, e.g. times[0].start."},
        },
    }},
}
ERRORS = {
    400: "The body is not a JSON object, or the request is malformed.",
    401: "Not signed in (or wrong email and password at sign-in).",
    403: "Signed in, but not allowed to do this.",
    404: "No such thing, or not one this caller may see.",
    409: "Conflicts with the current state (a taken slot, a state that does not allow this).",
    422: "Input that fails a check; ``field`` names it.",
}
WRITE_ERRORS = {415: "Writes take a JSON body (Content-Type: application/json)."}
EXTRA_ERRORS = {429: "Too many attempts; wait and retry.", 503: "A dependency is down."}
CONVERTER = re.compile(r"<(?:(?P<kind>\w+)(?:\((?P<args>[^)]*)\))?:)?(?P<name>\w+)>")
METHODS = ("get", "post", "put", "patch", "delete")


def api_operations(app: Flask) -> Iterator[tuple[str, str, Operation | None, str]]:
    """(rule, method, operation or None when undocumented, endpoint) for each /api/v1 route."""
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith(f"{bp.name}."):
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield rule.rule, method.lower(), getattr(view, "api_operation", None), rule.endpoint


def _path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    params = []
    for match in CONVERTER.finditer(rule):
        kind, args = match.group("kind") or "string", match.group("args")
        schema: dict[str, Any] = {"type": "string"}
        if kind == "int":
            schema = {"type": "integer", "minimum": 0, "maximum": MAX_ID}  # app/id_converter.py
        elif kind == "any" and args:
            schema = {"type": "string", "enum": [a.strip().strip("'\"") for a in args.split(",")]}
        params.append({"name": match.group("name"), "in": "path", "required": True, "schema": schema})
    return CONVERTER.sub(lambda m: "{" + m.group("name") + "}", rule), params


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query value is never null: ``X | None`` documents as ``X``."""
    options = [s for s in schema.get("anyOf", []) if s != {"type": "null"}]
    out = {k: v for k, v in schema.items() if k != "anyOf" and not (k == "default" and v is None)}
    if len(options) == 1:
        out.update(options[0])
    return out


def _query(model: type[BaseModel]) -> list[dict[str, Any]]:
    """One parameter per field; an object is spelled ``name[key]=value`` (deepObject, as
    :func:`app.api.operations.query_values` reads it)."""
    schema = model.model_json_schema(ref_template=REF)
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema.get("properties", {}).items():
        param = {"name": name, "in": "query", "required": name in required, "schema": _not_null(prop)}
        if param["schema"].get("type") == "object":
            param.update(style="deepObject", explode=True)
        params.append(param)
    return params


def _models(ops: list[Operation]) -> list[type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {}
    for op in ops:
        for model in (op.body, *op.ok.values()):
            if isinstance(model, type) and issubclass(model, BaseModel):
                found.setdefault(model.__name__, model)
    return list(found.values())


def _answer(op: Operation, status: int) -> dict[str, Any]:
    answer = op.ok[status]
    out: dict[str, Any] = {"description": {201: "Created", 202: "Accepted"}.get(status, "OK")}
    if answer is None:
        return {"description": "No content"}
    schema = {"$ref": REF.format(model=answer.__name__)} if isinstance(answer, type) else dict(answer)
    content = {"application/json": {"schema": schema}}
    content.update({kind: {"schema": s} for kind, s in op.extra_content.get(status, {}).items()})
    out["content"] = content
    return out


def build_document(app: Flask) -> dict[str, Any]:
    entries = [(rule, method, op) for rule, method, op, _ in api_operations(app) if op is not None]
    _, defs = models_json_schema([(m, "validation") for m in _models([op for *_, op in entries])],
                                 ref_template=REF)
    schemas = {"Error": ERROR_SCHEMA, **defs.get("$defs", {})}
    paths: dict[str, dict[str, Any]] = {}
    for rule, method, op in entries:
        path, params = _path(rule)
        item: dict[str, Any] = {"summary": op.summary, "operationId": f"{method}_{path}"}
        item["operationId"] = re.sub(r"[^A-Za-z0-9]+", "_", item["operationId"]).strip("_")
        params += _query(op.query) if op.query is not None else []
        if params:
            item["parameters"] = params
        if op.body is not None:
            item["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": {"$ref": REF.format(model=op.body.__name__)}}}}
        responses = {str(status): _answer(op, status) for status in op.ok}
        errors = {**ERRORS, **(WRITE_ERRORS if method != "get" else {})}
        errors.update({s: EXTRA_ERRORS[s] for s in op.errors})
        for status, text in errors.items():
            responses[str(status)] = {"description": text,
                                      "content": {"application/json": {"schema": ERROR_REF}}}
        item["responses"] = responses
        if op.public:
            item["security"] = []
        paths.setdefault(path, {})[method] = item
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": VERSION, "description": __doc__ or ""},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas,
            "securitySchemes": {"session": {
                "type": "apiKey", "in": "cookie", "name": "session",
                "description": "The cookie POST /api/v1/auth/login sets."}},
        },
        "security": [{"session": []}],
    }


@bp.get("/openapi.json")
@operation("This document.", ok={200: {"type": "object"}}, public=True)
def openapi_document() -> Any:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    document = app.extensions.get("openapi_document")
    if document is None:
        document = app.extensions["openapi_document"] = build_document(app)
    return document
