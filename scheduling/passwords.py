"""Password hashes, with the standard library only (the domain imports no web framework).

The stored format is werkzeug's (``scrypt:N:r:p$salt$hex``, and ``pbkdf2:hash:iterations$...``
for older rows), so every hash stored before this module existed still verifies (sign-in calls
:func:`verify_password`, inside ``app.signin_gate``'s bound on checks at once).

Parameters: scrypt N=2**15, r=8, p=1: 32 MiB of memory and one pass, ~100 ms of CPU on this
project's 2-core machine when idle (0.5 s when it is loaded). Why not more: every sign-in pays it
in a web thread, and memory is N*r*128 bytes per check in progress; the web app bounds checks at
once per process (``FLASHMENTOR_PASSWORD_CHECKS``, default 2, so <= 64 MiB per process) and keeps
sessions for 31 days, so a normal day has few checks. Why not less: 32 MiB per guess makes
GPU/ASIC guessing of a stolen hash memory-bound. It is below OWASP's scrypt minimum (N=2**17, or
N=2**15 with p=3): that is 3-4x the CPU per sign-in; raise ``SCRYPT_P`` to 3 for it (new hashes
only; stored ones keep verifying with the parameters written in them).
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
