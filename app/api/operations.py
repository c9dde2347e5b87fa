"""``@operation``: what an API route takes and answers, used both to check input and to document it.

A route names a pydantic model for its JSON body and/or its query string; the wrapper
checks the caller is signed in (unless ``public``), parses the input with those models
and hands the route ``body=`` / ``query=``. The OpenAPI document (:mod:`app.api.openapi`)
reads the same models, so what is documented is what is checked.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel, ValidationError

from app.api import json_body
from app.api.fields import FIELD, FieldProblem
from scheduling.errors import ValidationFailed

F = TypeVar("F", bound=Callable[..., Any])
Answer = type[BaseModel] | Mapping[str, Any] | None  # a model, a raw schema, or no body (204)


@dataclass(frozen=True)
class Operation:
    """One documented route: its input models and its successful answers by status."""

    summary: str
    ok: Mapping[int, Answer]
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    public: bool = False
    errors: tuple[int, ...] = ()  # beyond the ones every operation may answer
    extra_content: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)  # {status: {type: schema}}


def operation(
    summary: str, *, ok: Mapping[int, Answer] | type[BaseModel], body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None, public: bool = False, errors: tuple[int, ...] = (),
    extra_content: Mapping[int, Mapping[str, Any]] | None = None,
) -> Callable[[F], F]:
    """Declare and enforce a route's input; put it right above the ``def`` (below role checks)."""
    answers = ok if isinstance(ok, Mapping) else {200: ok}
    op = Operation(summary, answers, body, query, public, errors, extra_content or {})

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not op.public:
                from app.auth import require_person

                require_person()  # 401 before any word about the input
            if op.query is not None:
                kwargs["query"] = parse(op.query, query_values())
            if op.body is not None:
                kwargs["body"] = parse(op.body, json_body())
            return fn(*args, **kwargs)

        wrapper.api_operation = op  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


BRACKETED = re.compile(r"(?P<name>\w+)\[(?P<key>[^\[\]]*)\]")


def query_values() -> dict[str, Any]:
    """The query string, first value per name; an empty value counts as not given. ``name[key]=value``
    pairs make one object ``name`` (OpenAPI's deepObject style, as the document says of object
    parameters), which stands in for a plain ``name=value``."""
    values: dict[str, Any] = {}
    objects: dict[str, dict[str, str]] = {}
    for key, value in request.args.items():
        if value == "":
            continue
        bracketed = BRACKETED.fullmatch(key)
        if bracketed is None:
            values[key] = value
        else:
            objects.setdefault(bracketed["name"], {}).setdefault(bracketed["key"], value)
    return values | objects


class Refused:
    """Stands in for input that failed its model: the route gets it, and the 422 is raised when the
    route first reads a field. So a route's own earlier answers (404 for a request this caller may
    not see) still come first, as they did when each route checked its fields by hand."""

    def __init__(self, error: ValidationFailed) -> None:
        self._error = error

    def __getattr__(self, name: str) -> Any:
        raise self._error


def parse(model: type[BaseModel], data: dict[str, Any]) -> Any:
    """The validated model, or a :class:`Refused` that raises the field-named 422 when read."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        return Refused(problem(exc))


def field_path(loc: tuple[int | str, ...]) -> str:
    """``("times", 0, "start")`` -> ``times[0].start``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def problem(exc: ValidationError) -> ValidationFailed:
    """The first error, worded as the hand-written checks word theirs. Within one object a missing
    key is told before a bad value (``times[0].end`` is required before ``times[0].start`` is wrong)."""
    errors = exc.errors()
    error = errors[0]
    parent = tuple(error["loc"][:-1])
    error = next((e for e in errors if e["type"] == "missing" and tuple(e["loc"][:-1]) == parent), error)
    name = field_path(tuple(error["loc"]))
    cause = (error.get("ctx") or {}).get("error")
    kind = error["type"]
    if isinstance(cause, FieldProblem):
        message = cause.template.replace(FIELD, name)
    elif kind == "missing":
        message = f"{name} is required."
    elif kind in ("model_type", "model_attributes_type", "dict_type"):
        message = f"{name} must be an object."
    elif kind == "list_type":
        message = f"{name} must be a list."
    else:
        message = f"{name}: {error['msg']}"
    return ValidationFailed(message, name or None)
