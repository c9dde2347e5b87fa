"""Sign in and out with email and password (session cookie), and who am I.

Sign-in is rate-limited per client address (Flask-Limiter) so passwords cannot
be guessed at speed; a wrong email and a wrong password get the same answer.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import WithJsonSchema

from app.api import bp
from app.api.fields import Input, checked
from app.api.inputs import NoFields
from app.api.operations import operation
from app.api.responses import Out, PersonAnswer
from app.auth import authenticate, login, logout, require_person
from app.signin_limits import signin_limited
from scheduling.errors import InvalidCredentials, ValidationFailed
from scheduling.services.people import private_profile
from scheduling.services.safe_text import storable


def _filled(message: str) -> Any:
    def check(value: Any, field: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ValidationFailed(message, field)
        return value

    return Annotated[str, checked(check, required=False), WithJsonSchema({"type": "string", "minLength": 1})]


class LoginIn(Input):
    email: _filled("Enter your email address.") = None  # type: ignore[valid-type]
    password: _filled("Enter your password.") = None  # type: ignore[valid-type]


class SignedOut(Out):
    signed_out: bool


@bp.post("/auth/login")
@signin_limited
@operation("Sign in; the answer sets the session cookie.", ok=PersonAnswer, body=LoginIn, public=True,
           errors=(429,))
def auth_login(body: LoginIn) -> Any:
    email, password = body.email, body.password
    if email is None:
        raise ValidationFailed("Enter your email address.", "email")
    storable(email, "email")
    if password is None:
        raise ValidationFailed("Enter your password.", "password")
    person = authenticate(email, password)
    if person is None:
        raise InvalidCredentials("That email and password do not match an active account.")
    login(person)
    return {"person": private_profile(person)}


@bp.post("/auth/logout")
@operation("Sign out.", ok=SignedOut, body=NoFields, public=True)
def auth_logout(body: NoFields) -> Any:
    logout()
    return {"signed_out": True}


@bp.get("/me")
@operation("Who I am.", ok=PersonAnswer)
def me() -> Any:
    return {"person": private_profile(require_person())}
