"""Text a database can store: no NUL characters, no lone UTF-16 surrogates.

JSON lets a client send ``"\\u0000"`` or ``"\\ud800"``; PostgreSQL refuses the
first and no UTF-8 database can hold the second, so both would surface as a
server error. Checking here turns them into a clear validation error instead.
"""

from __future__ import annotations

from scheduling.errors import ValidationFailed


def is_storable(value: str) -> bool:
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def storable(value: str, field: str | None) -> str:
    """``value`` unchanged, or ValidationFailed naming ``field``."""
    if not is_storable(value):
        raise ValidationFailed(f"{field or 'The text'} contains characters that cannot be stored.", field)
    return value
