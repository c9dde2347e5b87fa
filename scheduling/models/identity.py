"""Organization identity: OpenID Connect providers, the people they sign in, SCIM tokens and groups.

An :class:`IdentityProvider` is one registration of this app at a company's IdP
(Entra ID, Google Workspace, any OpenID Provider). Its client secret is encrypted at
rest like calendar secrets; SCIM bearer tokens are stored only as SHA-256 hashes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from scheduling.crypto import EncryptedText
from scheduling.db import Base, UTCDateTime, utcnow
from scheduling.models.people import Person


class IdentityProvider(Base):
    __tablename__ = "identity_providers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    preset: Mapped[str] = mapped_column(String(32), default="generic")  # generic | entra | google
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(500))
    client_secret: Mapped[str | None] = mapped_column(EncryptedText)
    # Lower-case email domains this provider signs in ("example.com"); routing key of the sign-in page.
    domains: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Person field -> ID token claim, e.g. {"name": "name", "department": "department"}.
    claim_map: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    jit_create: Mapped[bool] = mapped_column(default=False)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<IdentityProvider {self.id} {self.issuer}>"


class PersonIdentity(Base):
    """A person as one provider knows them: OIDC subject and/or SCIM externalId."""

    __tablename__ = "person_identities"
    __table_args__ = (UniqueConstraint("provider_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(
        ForeignKey("identity_providers.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    subject: Mapped[str | None] = mapped_column(String(255))
    external_id: Mapped[str | None] = mapped_column(String(255))
    # SCIM userName (unique per provider) and the provisioned attributes echoed back as received.
    user_name: Mapped[str | None] = mapped_column(String(254))
    scim_attributes: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_signin_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    person: Mapped[Person] = relationship()
    provider: Mapped[IdentityProvider] = relationship()


class ScimToken(Base):
    """A SCIM bearer token; only its hash is kept, the token is shown once when made."""

    __tablename__ = "scim_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(
        ForeignKey("identity_providers.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16))  # the last characters, so admins can tell tokens apart
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    provider: Mapped[IdentityProvider] = relationship()


class ScimGroup(Base):
    """A directory group: a department (members get it as their department) or a role."""

    __tablename__ = "scim_groups"
    __table_args__ = (UniqueConstraint("provider_id", "display_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(
        ForeignKey("identity_providers.id", ondelete="CASCADE"), index=True
    )
    display_name: Mapped[str] = mapped_column(String(200))
    external_id: Mapped[str | None] = mapped_column(String(255))
    # "department", or the role it grants: "mentee" | "mentor" | "admin".
    maps_to: Mapped[str] = mapped_column(String(16), default="department")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    members: Mapped[list[ScimGroupMember]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )


class ScimGroupMember(Base):
    __tablename__ = "scim_group_members"
    __table_args__ = (UniqueConstraint("group_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("scim_groups.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
