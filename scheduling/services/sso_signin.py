"""Who a validated ID token signs in: the linked person, a person with that verified email, or a new one.

An email address is trusted only when the provider says it is verified, and only in
one of the provider's domains; otherwise anyone able to set an address at some IdP
could take over the account that owns it. One transaction: link or create, and the
claim-mapped profile fields, all or nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling.db import utcnow
from scheduling.errors import DomainError
from scheduling.identity_providers import email_domain
from scheduling.models import IdentityProvider, Person, PersonIdentity
from scheduling.oidc import SignInFailed
from scheduling.services.people import add_person, check_new_person, check_text, check_time_zone
from scheduling.services.transaction import unit_of_work


class NoAccount(SignInFailed):
    code = "sso_no_account"
    status = 403


def verified_email(provider: IdentityProvider, claims: Mapping[str, Any]) -> str | None:
    """The token's email when the provider vouches for it, else None.

    OpenID providers say so with ``email_verified``; Entra ID with the optional claim
    ``xms_edov`` (the email's domain is verified by the tenant).
    """
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        return None
    verified = claims.get("email_verified")
    if provider.preset == "entra" and verified is None:
        verified = claims.get("xms_edov")
    if verified is True or (isinstance(verified, str) and verified.lower() == "true") or verified == 1:
        return email.strip().lower()
    return None


def mapped_fields(provider: IdentityProvider, claims: Mapping[str, Any]) -> dict[str, str]:
    """Person fields from the claims the provider's mapping names (values that fail checks are skipped)."""
    values: dict[str, str] = {}
    for field, claim in provider.claim_map.items():
        raw = claims.get(claim)
        if not isinstance(raw, str) or not raw.strip():
            continue
        try:
            values[field] = (check_time_zone(raw, field) if field == "time_zone"
                             else check_text(raw, field, required=True))
        except DomainError:
            continue
    return values


def sign_in(session: Session, provider: IdentityProvider, claims: Mapping[str, Any],
            *, now: datetime | None = None) -> Person:
    """The person these (already validated) claims sign in; linked or created as the provider allows."""
    subject = str(claims["sub"])
    with unit_of_work(session):
        link = session.scalar(select(PersonIdentity).where(
            PersonIdentity.provider_id == provider.id, PersonIdentity.subject == subject))
        if link is None:
            email = verified_email(provider, claims)
            if email is None:
                raise SignInFailed("Your identity provider did not confirm your email address, so it "
                                   "cannot be matched to an account. Ask IT to mark it verified.")
            if email_domain(email) not in provider.domains:
                raise SignInFailed(f"Addresses at {email_domain(email)} do not sign in through "
                                   f"{provider.name}.")
            if provider.preset == "google" and claims.get("hd") not in provider.domains:
                raise SignInFailed("Sign in with your organization's Google Workspace account.")
            person = session.scalar(select(Person).where(Person.email == email))
            if person is None:
                person = _create(session, provider, email, claims)
            link = _link(session, provider, person, subject)
        person = link.person
        if not person.active:
            raise NoAccount("Your account is deactivated. Ask the program's admin.")
        for field, value in mapped_fields(provider, claims).items():
            setattr(person, field, value)
        link.last_signin_at = now or utcnow()
        session.commit()
    return person


def _create(session: Session, provider: IdentityProvider, email: str, claims: Mapping[str, Any]) -> Person:
    if not provider.jit_create:
        raise NoAccount(f"There is no account for {email} yet. Ask the program's admin to add you.")
    fields: dict[str, Any] = {"email": email, "name": email.partition("@")[0], "roles": ["mentee"]}
    fields.update(mapped_fields(provider, claims))
    person = add_person(session, check_new_person(fields))
    person.needs_profile = True  # like an invited person: the first-sign-in profile before Home
    return person


def _link(session: Session, provider: IdentityProvider, person: Person, subject: str) -> PersonIdentity:
    link = session.scalar(select(PersonIdentity).where(
        PersonIdentity.provider_id == provider.id, PersonIdentity.person_id == person.id))
    if link is not None and link.subject not in (None, subject):
        raise SignInFailed("This account is already linked to another identity at your provider. "
                           "Ask the program's admin.")
    if link is None:
        link = PersonIdentity(provider_id=provider.id, person_id=person.id)
        session.add(link)
    link.subject = subject
    session.flush()
    return link
