"""Password hashes, with the standard library only (the domain imports no web framework).

The stored format is werkzeug's (``scrypt:N:r:p$salt$hex``, and ``pbkdf2:hash:iterations$...``
for older rows), so every hash stored before this module existed still verifies, and
``werkzeug.security.check_password_hash`` (used at sign-in) verifies these.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

SALT_CHARS = string.ascii_letters + string.digits
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1  # werkzeug's defaults


def _derive(method: str, salt: str, password: str) -> str:
    name, *args = method.split(":")
    if name == "scrypt":
        n, r, p = (int(a) for a in args) if args else (SCRYPT_N, SCRYPT_R, SCRYPT_P)
        return hashlib.scrypt(password.encode(), salt=salt.encode(), n=n, r=r, p=p,
                              maxmem=132 * n * r * p).hex()
    if name == "pbkdf2":
        digest = args[0] if args else "sha256"
        iterations = int(args[1]) if len(args) > 1 else 1_000_000
        return hashlib.pbkdf2_hmac(digest, password.encode(), salt.encode(), iterations).hex()
    raise ValueError(f"unknown password hash method {name!r}")


def hash_password(password: str) -> str:
    salt = "".join(secrets.choice(SALT_CHARS) for _ in range(16))
    method = f"scrypt:{SCRYPT_N}:{SCRYPT_R}:{SCRYPT_P}"
    return f"{method}${salt}${_derive(method, salt, password)}"


def verify_password(stored: str, password: str) -> bool:
    """True when ``password`` matches ``stored``; False for a malformed or unknown hash."""
    try:
        method, salt, expected = stored.split("$", 2)
        return hmac.compare_digest(_derive(method, salt, password), expected)
    except ValueError:
        return False
