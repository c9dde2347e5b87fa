"""Session login by email and password; role checks for every route."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, request, session
from sqlalchemy import select
from sqlalchemy.orm import lazyload

from app.db import db
from app.signin_gate import password_check
from scheduling.errors import Forbidden
from scheduling.identity_providers import password_signin_allowed
from scheduling.models import Person
from scheduling.passwords import hash_password as _hash
from scheduling.passwords import verify_password

F = TypeVar("F", bound=Callable[..., Any])

# The signed-in person's collections load when a route reads them, not with every request's
# lookup: most routes use a few columns of the viewer (three selectin queries saved a request).
_VIEWER_LOAD = (lazyload(Person.skills), lazyload(Person.weekly_slots))
_SIGNED_IN = "flashmentor.signed_in"  # (person id, the Person or None) of this request


def hash_password(password: str) -> str:
    return _hash(password)


def authenticate(email: str, password: str) -> Person | None:
    """The active person with these credentials; refused outright when the program is SSO only."""
    if not password_signin_allowed(db()):
        raise Forbidden("This program signs people in through their organization only.", "password")
    person = db().scalar(select(Person).where(Person.email == email.strip().lower()))
    if person is None or not person.active or not person.password_hash:
        return None
    with password_check():  # a few at once per process; the rest get 503 (app/signin_gate.py)
        if not verify_password(person.password_hash, password):
            return None
    return person


def login(person: Person) -> None:
    session.clear()
    request.environ.pop(_SIGNED_IN, None)
    session["person_id"] = person.id
    session.permanent = True


def logout() -> None:
    session.clear()
    request.environ.pop(_SIGNED_IN, None)


def current_person() -> Person | None:
    """The signed-in, active person, looked up once per request (kept in the request's environ:
    the session's identity map holds it only weakly, so each call used to query it again)."""
    pid = session.get("person_id")
    if pid is None:
        return None
    known: tuple[int, Person | None] | None = request.environ.get(_SIGNED_IN)
    if known is not None and known[0] == pid:
        person = known[1]
    else:
        person = db().get(Person, pid, options=_VIEWER_LOAD)
        request.environ[_SIGNED_IN] = (pid, person)
    if person is None or not person.active:
        return None
    return person


def require_person() -> Person:
    person = current_person()
    if person is None:
        abort(401, description="Sign in first.")
    return person


def login_required(fn: F) -> F:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        require_person()
        return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def roles_required(*roles: str) -> Callable[[F], F]:
    """Allow the route to people holding at least one of ``roles``."""

    def decorator(fn: F) -> F:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            person = require_person()
            if not set(roles) & set(person.roles):
                abort(403, description=f"This needs the {' or '.join(roles)} role.")
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator
