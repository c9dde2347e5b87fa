"""Identity providers an admin configures: validation, presets, routing by email domain.

No HTTP here: whether the issuer's discovery document answers is checked by the app
layer (through :mod:`scheduling.oidc`) before :func:`create_provider` is called.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling.db import get_row
from scheduling.errors import NotFound, ValidationFailed
from scheduling.models import IdentityProvider, PersonIdentity
from scheduling.services.program import first_program
from scheduling.services.transaction import unit_of_work

# Person fields a claim may fill, and the claims each preset maps to them.
MAPPABLE_FIELDS = ("name", "department", "title", "time_zone")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_CLAIM = re.compile(r"^[A-Za-z0-9_:./-]{1,100}$")


@dataclass(frozen=True)
class Preset:
    label: str
    issuer_template: str  # "{tenant}" is the Entra tenant id; empty: the admin types the issuer
    claim_map: Mapping[str, str]
    help: str


PRESETS: dict[str, Preset] = {
    "entra": Preset(
        "Microsoft Entra ID", "https://login.microsoftonline.com/{tenant}/v2.0",
        {"name": "name", "department": "department", "title": "jobTitle"},
        "Issuer: https://login.microsoftonline.com/<tenant id>/v2.0. Add the optional claims email "
        "and xms_edov to the ID token.",
    ),
    "google": Preset(
        "Google Workspace", "https://accounts.google.com", {"name": "name"},
        "Issuer: https://accounts.google.com. Only addresses of the listed domains (the hd claim) sign in.",
    ),
    "generic": Preset("Other OpenID Connect provider", "", {"name": "name", "time_zone": "zoneinfo"},
                      "The issuer URL whose /.well-known/openid-configuration describes the provider."),
}


def check_issuer(value: object) -> str:
    """An https URL, or http on loopback (a provider on this machine, for development and tests)."""
    issuer = str(value or "").strip().rstrip("/")
    parts = urlsplit(issuer)
    if not parts.netloc or parts.query or parts.fragment or parts.scheme not in ("https", "http"):
        raise ValidationFailed("Enter the issuer as an https URL, e.g. https://login.example.com.", "issuer")
    if parts.scheme == "http" and not _loopback(parts.hostname or ""):
        raise ValidationFailed("The issuer must use https (http only on this machine).", "issuer")
    return issuer


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_domains(value: object) -> list[str]:
    raw = value if isinstance(value, list) else re.split(r"[\s,;]+", str(value or ""))
    domains = sorted({str(d).strip().lower().lstrip("@") for d in raw if str(d).strip()})
    if not domains:
        raise ValidationFailed("List at least one email domain, e.g. example.com.", "domains")
    for domain in domains:
        if not _DOMAIN.match(domain):
            raise ValidationFailed(f"{domain!r} is not an email domain.", "domains")
    return domains


def check_claim_map(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ValidationFailed("The claim mapping is field -> claim name.", "claim_map")
    mapping: dict[str, str] = {}
    for field, claim in value.items():
        if field not in MAPPABLE_FIELDS:
            raise ValidationFailed(f"{field!r} cannot be filled from a claim.", "claim_map")
        claim = str(claim or "").strip()
        if claim and not _CLAIM.match(claim):
            raise ValidationFailed(f"{claim!r} is not a claim name.", "claim_map")
        if claim:
            mapping[field] = claim
    return mapping


def check_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Validate an admin's provider settings (no database access); unknown keys are refused."""
    allowed = {"name", "preset", "issuer", "tenant", "client_id", "client_secret", "domains",
               "claim_map", "jit_create"}
    for key in fields:
        if key not in allowed:
            raise ValidationFailed(f"Unknown field {key!r}.", key)
    preset_key = str(fields.get("preset") or "generic")
    if preset_key not in PRESETS:
        raise ValidationFailed("Choose Entra ID, Google Workspace or another provider.", "preset")
    preset = PRESETS[preset_key]
    issuer_in = fields.get("issuer")
    if not issuer_in and "{tenant}" in preset.issuer_template:
        tenant = str(fields.get("tenant") or "").strip()
        if not re.fullmatch(r"[A-Za-z0-9.-]{1,100}", tenant):
            raise ValidationFailed("Enter the directory (tenant) ID.", "tenant")
        issuer_in = preset.issuer_template.format(tenant=tenant)
    issuer = check_issuer(issuer_in or preset.issuer_template)
    name = str(fields.get("name") or "").strip() or preset.label
    client_id = str(fields.get("client_id") or "").strip()
    if not client_id or len(client_id) > 500:
        raise ValidationFailed("Enter the client (application) ID.", "client_id")
    secret = str(fields.get("client_secret") or "").strip()
    if not secret:
        raise ValidationFailed("Enter the client secret.", "client_secret")
    claim_map = fields.get("claim_map")
    return {
        "name": name[:200], "preset": preset_key, "issuer": issuer, "client_id": client_id,
        "client_secret": secret, "domains": check_domains(fields.get("domains")),
        "claim_map": check_claim_map(dict(preset.claim_map) if claim_map is None else claim_map),
        "jit_create": bool(fields.get("jit_create")),
    }


def create_provider(session: Session, checked: Mapping[str, Any]) -> IdentityProvider:
    """Store settings :func:`check_fields` accepted; a domain belongs to one provider only."""
    with unit_of_work(session):
        for other in list_providers(session):
            taken = set(other.domains) & set(checked["domains"])
            if taken:
                raise ValidationFailed(
                    f"{sorted(taken)[0]} already signs in through {other.name}.", "domains")
        provider = IdentityProvider(**checked)
        session.add(provider)
        session.commit()
    return provider


def update_provider(session: Session, provider: IdentityProvider,
                    fields: Mapping[str, Any]) -> IdentityProvider:
    """Change what an admin may change without registering the app again: name, domains, a new client
    secret (an empty one keeps the stored secret: secrets expire and are rotated), just-in-time creation,
    and whether the provider signs anyone in. Issuer and client id stay (remove and add for those)."""
    allowed = {"name", "domains", "client_secret", "jit_create", "enabled"}
    for key in fields:
        if key not in allowed:
            raise ValidationFailed(f"{key!r} cannot be changed here.", key)
    name = str(fields.get("name") or "").strip()[:200] or provider.name
    domains = check_domains(fields.get("domains")) if "domains" in fields else list(provider.domains)
    secret = str(fields.get("client_secret") or "").strip()
    enabled = bool(fields.get("enabled", provider.enabled))
    with unit_of_work(session):
        for other in list_providers(session):
            taken = set(other.domains) & set(domains) if other.id != provider.id else set()
            if taken:
                raise ValidationFailed(f"{sorted(taken)[0]} already signs in through {other.name}.",
                                       "domains")
        if not enabled and not password_signin_allowed(session) and not any(
                p.enabled for p in list_providers(session) if p.id != provider.id):
            raise ValidationFailed("Switch password sign-in on before switching off the last identity "
                                   "provider, or nobody could sign in.", "enabled")
        provider.name = name
        provider.domains = domains
        if secret:
            provider.client_secret = secret
        provider.jit_create = bool(fields.get("jit_create", provider.jit_create))
        provider.enabled = enabled
        session.commit()
    return provider


def delete_provider(session: Session, provider: IdentityProvider) -> None:
    """Remove a provider, its links, SCIM tokens and groups; the people themselves stay."""
    with unit_of_work(session):
        session.delete(provider)
        session.commit()


def list_providers(session: Session) -> list[IdentityProvider]:
    return list(session.scalars(select(IdentityProvider).order_by(IdentityProvider.id)))


def get_provider(session: Session, provider_id: object) -> IdentityProvider:
    provider = get_row(session, IdentityProvider, provider_id)
    if provider is None:
        raise NotFound("No such identity provider.")
    return provider


def email_domain(email: str) -> str:
    return email.rpartition("@")[2].strip().lower()


def provider_for_email(session: Session, email: str) -> IdentityProvider | None:
    """The enabled provider that signs in addresses of this email's domain, if any."""
    domain = email_domain(email)
    if not domain:
        return None
    for provider in list_providers(session):
        if provider.enabled and domain in provider.domains:
            return provider
    return None


def linked_people(session: Session, person_ids: list[int]) -> dict[int, str]:
    """Of these people, those an identity provider knows (signed in or provisioned): id -> its name.
    They sign in there, so admin pages offer them no password invitation."""
    if not person_ids:
        return {}
    rows = session.execute(select(PersonIdentity.person_id, IdentityProvider.name)
                           .join(IdentityProvider, IdentityProvider.id == PersonIdentity.provider_id)
                           .where(PersonIdentity.person_id.in_(person_ids))
                           .order_by(PersonIdentity.id))
    return {person_id: name for person_id, name in rows}


def password_signin_allowed(session: Session) -> bool:
    program = first_program(session)
    return program is None or program.password_signin


def set_password_signin(session: Session, allowed: bool) -> None:
    """Switch password sign-in on or off; off needs a provider, or nobody could sign in."""
    with unit_of_work(session):
        program = first_program(session)
        if program is None:
            raise NotFound("Set up the program first.")
        if not allowed and not any(p.enabled for p in list_providers(session)):
            raise ValidationFailed("Add an identity provider before switching password sign-in off.",
                                   "password_signin")
        program.password_signin = allowed
        session.commit()


def describe(provider: IdentityProvider) -> dict[str, Any]:
    """What admin pages show: never the secret, only whether one is set."""
    return {
        "id": provider.id, "name": provider.name, "preset": provider.preset,
        "preset_label": PRESETS.get(provider.preset, PRESETS["generic"]).label,
        "issuer": provider.issuer, "client_id": provider.client_id,
        "secret": "set" if provider.client_secret else "not set",
        "domains": list(provider.domains), "claim_map": dict(provider.claim_map),
        "jit_create": provider.jit_create, "enabled": provider.enabled,
    }
