"""At most a few password checks at once per web process, so a login storm cannot take every thread.

A password check is ~30-100 ms of CPU and 32 MiB of memory (scrypt, ``scheduling/passwords.py``).
Under gunicorn's ``gthread`` workers (``gunicorn.conf.py``) each check holds one thread; without a bound,
fifty people signing in at once (a program's launch mail) would hold every thread of every worker and
every page would wait behind them. The gate lets ``FLASHMENTOR_PASSWORD_CHECKS`` checks run at once per
process (default 2: the other threads stay free for pages) and answers the rest at once with
``503 Service Unavailable`` + ``Retry-After: 1`` instead of queueing them (the sign-in page says
to try again; API clients retry after the header). Sessions last (``session.permanent``), so a
normal day has few password checks; Flask-Limiter still bounds attempts per address.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app

from scheduling.errors import DomainError

RETRY_AFTER_SECONDS = 1


class SignInBusy(DomainError):
    code = "sign_in_busy"
    status = 503


class SignInGate:
    """A non-blocking bounded semaphore: a check either starts now or is refused now."""

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError("FLASHMENTOR_PASSWORD_CHECKS must be at least 1")
        self.slots = slots
        self._free = threading.BoundedSemaphore(slots)

    @contextmanager
    def held(self) -> Iterator[None]:
        if not self._free.acquire(blocking=False):
            raise SignInBusy("Many people are signing in right now; try again in a moment.", "password")
        try:
            yield
        finally:
            self._free.release()


def init_signin_gate(app: Flask) -> None:
    app.extensions["signin_gate"] = SignInGate(int(app.config.get("PASSWORD_CHECKS", 2)))

    @app.errorhandler(SignInBusy)
    def _busy(exc: SignInBusy) -> Any:
        from app.db import db
        from app.errors import error_response

        db().rollback()
        body, status = error_response(exc.code, exc.message, exc.status, exc.field)
        return body, status, {"Retry-After": str(RETRY_AFTER_SECONDS)}


def password_check() -> Any:
    """``with password_check(): ...`` around the hash comparison (raises :class:`SignInBusy`)."""
    gate: SignInGate = current_app.extensions["signin_gate"]
    return gate.held()
