"""Password hashes made without werkzeug stay interchangeable with werkzeug's, both ways."""

from __future__ import annotations

import pytest
from werkzeug.security import check_password_hash, generate_password_hash

from scheduling.passwords import hash_password, verify_password

pytestmark = pytest.mark.no_database  # no SQL: the PostgreSQL pass leaves it out


def test_our_hash_verifies_here_and_at_sign_in() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt:32768:8:1$")
    assert verify_password(stored, "correct horse")
    assert check_password_hash(stored, "correct horse")  # what app.auth checks at sign-in
    assert not verify_password(stored, "correct horsE")
    assert hash_password("correct horse") != stored  # salted


def test_hashes_stored_by_werkzeug_still_verify() -> None:
    for stored in (generate_password_hash("s3cret-pass"),
                   generate_password_hash("s3cret-pass", method="pbkdf2:sha256:1000")):
        assert verify_password(stored, "s3cret-pass")
        assert not verify_password(stored, "s3cret-pasS")


def test_a_malformed_hash_verifies_nothing() -> None:
    for stored in ("", "plain", "md5$salt$abc", "scrypt:x$salt$abc"):
        assert not verify_password(stored, "anything")
