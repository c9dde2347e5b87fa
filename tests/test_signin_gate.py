"""A login storm cannot stall other requests: with every password-check slot of the process taken,
a sign-in is refused at once (503 + Retry-After) while other requests are served; a free slot
signs in again. The hashing parameters are the documented ones, and older hashes still verify."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

import pytest
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from app.signin_gate import SignInGate
from scheduling.passwords import hash_password, verify_password
from tests.factories import PASSWORD, login, make_mentee


def test_a_full_gate_refuses_sign_in_and_serves_everything_else(app: Any, client: Any, db: Session) -> None:
    storm = make_mentee(db, email="storm@example.com")
    reader = make_mentee(db, email="reader@example.com")
    db.commit()
    other = app.test_client()
    login(other, reader)
    gate: SignInGate = app.extensions["signin_gate"]
    assert gate.slots == 2  # FLASHMENTOR_PASSWORD_CHECKS' default
    with ExitStack() as checks_in_progress:
        for _ in range(gate.slots):
            checks_in_progress.enter_context(gate.held())
        refused = client.post("/api/v1/auth/login", json={"email": storm.email, "password": PASSWORD})
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "1"
        assert refused.get_json()["error"]["code"] == "sign_in_busy"
        page = client.post("/signin", data={"email": storm.email, "password": PASSWORD})
        assert page.status_code == 503 and b"try again" in page.data
        assert other.get(f"/api/v1/people/{reader.id}").status_code == 200  # not waiting behind sign-ins
        assert client.get(f"/api/v1/people/{storm.id}").status_code == 401  # nobody was signed in
    signed = client.post("/api/v1/auth/login", json={"email": storm.email, "password": PASSWORD})
    assert signed.status_code == 200
    assert client.get(f"/api/v1/people/{storm.id}").status_code == 200
    assert len([gate.held() for _ in range(gate.slots)]) == gate.slots  # every slot came back


def test_a_wrong_password_gives_its_slot_back(app: Any, client: Any, db: Session) -> None:
    person = make_mentee(db, email="typo@example.com")
    db.commit()
    gate: SignInGate = app.extensions["signin_gate"]
    for _ in range(gate.slots + 3):
        assert client.post("/api/v1/auth/login",
                           json={"email": person.email, "password": "wrong"}).status_code == 401
    with ExitStack() as held:
        for _ in range(gate.slots):
            held.enter_context(gate.held())  # all free again: none leaked by the refusals


def test_the_gate_size_comes_from_the_setting(app: Any) -> None:
    from app import create_app

    one = create_app({**app.config, "PASSWORD_CHECKS": 1}).extensions["signin_gate"]
    with one.held(), pytest.raises(Exception, match="signing in right now"), one.held():
        pass
    with pytest.raises(ValueError):
        SignInGate(0)


def test_hash_parameters_and_older_hashes() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt:32768:8:1$")
    assert verify_password(stored, "correct horse") and not verify_password(stored, "wrong")
    assert verify_password(generate_password_hash("old", method="pbkdf2:sha256:1000"), "old")
    assert not verify_password("garbage", "old")
