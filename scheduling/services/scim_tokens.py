"""SCIM bearer tokens, one or more per identity provider.

A token is 256 random bits, handed out once; only its SHA-256 is stored, so a copy of
the database does not let anyone provision people. (A slow hash buys nothing for a
random secret of this size.)
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling.db import utcnow
from scheduling.errors import NotFound
from scheduling.models import IdentityProvider, ScimToken
from scheduling.services.transaction import unit_of_work

PREFIX = "fmscim_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(session: Session, provider: IdentityProvider) -> str:
    """A new token for ``provider``; the only time its value is available."""
    token = PREFIX + secrets.token_urlsafe(32)
    with unit_of_work(session):
        session.add(ScimToken(provider_id=provider.id, token_hash=_digest(token), hint=token[-6:]))
        session.commit()
    return token


def list_tokens(session: Session, provider: IdentityProvider) -> list[ScimToken]:
    return list(session.scalars(select(ScimToken).where(ScimToken.provider_id == provider.id)
                                .order_by(ScimToken.id)))


def revoke(session: Session, provider: IdentityProvider, token_id: int) -> None:
    with unit_of_work(session):
        row = session.scalar(select(ScimToken).where(ScimToken.provider_id == provider.id,
                                                     ScimToken.id == token_id))
        if row is None:
            raise NotFound("No such SCIM token.")
        session.delete(row)
        session.commit()


def authenticate(session: Session, token: str, *, now: datetime | None = None) -> IdentityProvider | None:
    """The provider a presented token belongs to, or None."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    digest = _digest(token)
    row = session.scalar(select(ScimToken).where(ScimToken.token_hash == digest))
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    row.last_used_at = now or utcnow()
    session.commit()
    return row.provider
