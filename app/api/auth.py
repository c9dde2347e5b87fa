"""Sign in and out with email and password (session cookie), and who am I.

Sign-in is rate-limited per client address (Flask-Limiter) so passwords cannot
be guessed at speed; a wrong email and a wrong password get the same answer.
"""

from __future__ import annotations

from typing import Any

from app import limiter
from app.api import bp, json_body
from app.auth import authenticate, login, logout, require_person
from scheduling.errors import InvalidCredentials, ValidationFailed
from scheduling.services.people import private_profile
from scheduling.services.safe_text import storable

LOGIN_LIMIT = "10/minute"


@bp.post("/auth/login")
@limiter.limit(LOGIN_LIMIT, error_message="Too many sign-in attempts; wait a minute and try again.")
def auth_login() -> Any:
    body = json_body()
    email, password = body.get("email"), body.get("password")
    if not isinstance(email, str) or not email.strip():
        raise ValidationFailed("Enter your email address.", "email")
    storable(email, "email")
    if not isinstance(password, str) or not password:
        raise ValidationFailed("Enter your password.", "password")
    person = authenticate(email, password)
    if person is None:
        raise InvalidCredentials("That email and password do not match an active account.")
    login(person)
    return {"person": private_profile(person)}


@bp.post("/auth/logout")
def auth_logout() -> Any:
    logout()
    return {"signed_out": True}


@bp.get("/me")
def me() -> Any:
    return {"person": private_profile(require_person())}
