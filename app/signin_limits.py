"""Sign-in attempts limited per account and per client, across every route that takes them.

Web ``/signin``, API ``/api/v1/auth/login`` and the "forgot password" request share two
counters (Flask-Limiter shared limits, in the store every gunicorn worker uses:
``RATELIMIT_STORAGE_URI`` or ``REDIS_URL``): one keyed by the email tried, so guessing one
account's password is slow whichever route or worker answers, and one keyed by the client
address, so trying many accounts is slow too. With the store unreachable, each process counts
on its own meanwhile (``RATELIMIT_IN_MEMORY_FALLBACK_ENABLED``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, TypeVar

from flask import request
from flask_limiter.util import get_remote_address

from app import limiter

# The email tried: a person gets 10 tries a minute (50 an hour) whoever tries.
ACCOUNT_LIMIT = "10/minute;50/hour"
# One client address: enough for an office behind one NAT address, too few to spray passwords.
CLIENT_LIMIT = "30/minute"
ACCOUNT_MESSAGE = "Too many sign-in attempts for this account; wait a minute and try again."
CLIENT_MESSAGE = "Too many sign-in attempts from your network; wait a minute and try again."

F = TypeVar("F", bound=Callable[..., Any])


def tried_email() -> str:
    """The address in the request (form or JSON), normalised as sign-in compares it; '' if none."""
    body = request.get_json(silent=True) if request.is_json else None
    value = body.get("email") if isinstance(body, dict) else request.form.get("email")
    return value.strip().lower() if isinstance(value, str) else ""


def _account_key() -> str:
    """Hashed, so an arbitrarily long address makes a short store key."""
    return "account:" + hashlib.sha256(tried_email().encode()).hexdigest()


_per_account = limiter.shared_limit(ACCOUNT_LIMIT, scope="signin-account", key_func=_account_key,
                                    methods=["POST"], exempt_when=lambda: not tried_email(),
                                    error_message=ACCOUNT_MESSAGE)
_per_client = limiter.shared_limit(CLIENT_LIMIT, scope="signin-client", key_func=get_remote_address,
                                   methods=["POST"], error_message=CLIENT_MESSAGE)


def signin_limited(view: F) -> F:
    """Count a POST to ``view`` against the account tried and the client, shared by all sign-in routes."""
    return _per_account(_per_client(view))  # type: ignore[return-value]  # RouteLimit keeps the signature
