"""Encryption at rest for calendar secrets (OAuth tokens, client secrets, passwords).

Keys come from ``FLASHMENTOR_SECRET_KEYS``: a comma-separated list of Fernet keys,
newest first. Encryption uses the first; decryption tries all, so keys rotate by
prepending a new one and running ``flask --app wsgi secrets rotate``.
"""

from __future__ import annotations

import os

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

_ENV = "FLASHMENTOR_SECRET_KEYS"


class SecretKeyMissing(RuntimeError):
    pass


def _fernet() -> MultiFernet:
    raw = os.environ.get(_ENV, "")
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    if not keys:
        raise SecretKeyMissing(
            f"{_ENV} is not set; generate one with `flask --app wsgi secrets genkey`"
        )
    return MultiFernet([Fernet(k) for k in keys])


def generate_key() -> str:
    return Fernet.generate_key().decode()


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:  # pragma: no cover - message only
        raise SecretKeyMissing("stored secret cannot be decrypted with the configured keys") from exc


def rotate(token: str) -> str:
    return _fernet().rotate(token.encode()).decode()


class EncryptedText(TypeDecorator[str]):
    """A text column whose value is Fernet-encrypted in the database."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else decrypt(value)
