"""Small helpers the admin forms share: reading posted values and collecting field errors.

HTML forms post text; the services expect JSON-like values. These helpers do the
conversion only (text -> int/bool/None) and leave every rule to the services, so a
page and the API refuse the same things with the same messages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import redirect, request, url_for
from werkzeug.wrappers import Response

from scheduling.errors import DomainError

FieldErrors = dict[str, str]


def form_text(name: str, default: str = "") -> str:
    return (request.form.get(name) or default).strip()



def collect(checks: Mapping[str, Callable[[], Any]]) -> tuple[dict[str, Any], FieldErrors]:
    """Run every check, keeping the values that pass and one message per failing field."""
    values: dict[str, Any] = {}
    errors: FieldErrors = {}
    for name, check in checks.items():
        try:
            values[name] = check()
        except DomainError as exc:
            errors[exc.field or name] = exc.message
    return values, errors


def field_of(exc: DomainError, default: str = "_form") -> str:
    return exc.field or default


def back_to(endpoint: str, **values: Any) -> Response:
    """Post/redirect/get: after a successful change, go back to a page by GET."""
    return redirect(url_for(endpoint, **values), code=303)
