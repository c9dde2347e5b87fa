"""Sign-in, sign-out, /me, and the sign-in rate limit."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.factories import PASSWORD, make_mentee, make_mentor


def sign_in(client: Any, email: str, password: str = PASSWORD) -> Any:
    return client.post("/api/v1/auth/login", json={"email": email, "password": password})


def test_login_sets_a_session_and_me_answers(client: Any, db: Session) -> None:
    person = make_mentor(db, email="ada@example.com", time_zone="Europe/London")
    assert client.get("/api/v1/me").status_code == 401

    res = sign_in(client, "  ADA@example.com ")
    assert res.status_code == 200
    assert res.json["person"]["id"] == person.id
    assert "password_hash" not in res.json["person"]

    me = client.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json["person"]["email"] == "ada@example.com"
    assert me.json["person"]["time_zone"] == "Europe/London"
    assert me.json["person"]["roles"] == ["mentor"]


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("ada@example.com", "wrong password"),
        ("nobody@example.com", PASSWORD),
        ("ada@example.com", PASSWORD + " "),
    ],
)
def test_bad_credentials_get_one_clear_401(client: Any, db: Session, email: str, password: str) -> None:
    make_mentee(db, email="ada@example.com")
    res = sign_in(client, email, password)
    assert res.status_code == 401
    assert res.json["error"]["code"] == "invalid_credentials"
    assert "do not match" in res.json["error"]["message"]
    assert client.get("/api/v1/me").status_code == 401


def test_deactivated_or_passwordless_people_cannot_sign_in(client: Any, db: Session) -> None:
    make_mentee(db, email="gone@example.com", active=False)
    make_mentee(db, email="nopw@example.com", password=None)
    assert sign_in(client, "gone@example.com").status_code == 401
    assert sign_in(client, "nopw@example.com", "").status_code == 422
    assert sign_in(client, "nopw@example.com", "anything").status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": "x"}, "email"),
        ({"email": "a@example.com"}, "password"),
        ({"email": 5, "password": "x"}, "email"),
        ({"email": "a@example.com", "password": ["x"]}, "password"),
    ],
)
def test_missing_fields_are_422_with_field(client: Any, db: Session, body: dict, field: str) -> None:
    res = client.post("/api/v1/auth/login", json=body)
    assert res.status_code == 422
    assert res.json["error"]["field"] == field


def test_login_needs_json(client: Any, db: Session) -> None:
    res = client.post("/api/v1/auth/login", data={"email": "a@example.com", "password": "x"})
    assert res.status_code == 415
    res = client.post("/api/v1/auth/login", data="[1, 2]", content_type="application/json")
    assert res.status_code == 400


def test_logout_ends_the_session(client: Any, db: Session) -> None:
    make_mentee(db, email="mo@example.com")
    assert sign_in(client, "mo@example.com").status_code == 200
    assert client.post("/api/v1/auth/logout", json={}).status_code == 200
    assert client.get("/api/v1/me").status_code == 401


def test_deactivated_person_loses_the_session(client: Any, db: Session) -> None:
    person = make_mentee(db, email="mo@example.com")
    assert sign_in(client, "mo@example.com").status_code == 200
    person.active = False
    db.commit()
    assert client.get("/api/v1/me").status_code == 401


def test_sign_in_is_rate_limited(db: Session, database_url: str) -> None:
    from app import create_app

    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test",
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    try:
        make_mentee(db, email="mo@example.com")
        client = app.test_client()
        codes = [sign_in(client, "mo@example.com", "guess").status_code for _ in range(10)]
        assert codes == [401] * 10
        blocked = sign_in(client, "mo@example.com")  # even the right password waits now
        assert blocked.status_code == 429
        assert blocked.json["error"]["code"] == "too_many_requests"
        assert "Too many sign-in attempts" in blocked.json["error"]["message"]
        assert client.get("/api/v1/health").status_code == 200  # other routes are not limited
    finally:
        app.extensions["db_engine"].dispose()
