"""Invitations and password resets by emailed one-time link, and the first-sign-in step.

An admin invites one person, or everyone imported who has no password, no open invitation
and no identity provider to sign in at; anyone may ask for a reset, and is told the same
whether or not the address exists. Each link is an :class:`AccessLink` (hashed token, expiry,
single use), written with a timed work row that makes a worker send the email
(``person-<id>-link-<n>``).
Setting the password through a link uses it up and retires the person's other open links;
an invitation also asks for the profile at the first sign-in.
"""

from __future__ import annotations

import hashlib
import html
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from scheduling import timed_work
from scheduling.errors import Conflict, DomainError, ValidationFailed
from scheduling.identity_providers import linked_people, password_signin_allowed
from scheduling.models import AccessLink, LinkPurpose, Person, PersonIdentity, WorkKind
from scheduling.notices import Notice
from scheduling.passwords import hash_password
from scheduling.services.people import check_email, check_password, update_profile
from scheduling.services.transaction import unit_of_work
from scheduling.services.validation import current_time

LIFETIME = {LinkPurpose.INVITE: timedelta(days=7), LinkPurpose.RESET: timedelta(hours=1)}
SET_PASSWORD_PATH = "/password/set/"


class LinkInvalid(DomainError):
    """The link is unknown, used, retired or expired; the page says how to get a new one."""

    code = "link_invalid"
    status = 410


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _issue(session: Session, person: Person, purpose: LinkPurpose, now: datetime) -> AccessLink:
    """A fresh link (retiring the person's open ones of this purpose) and its email's row."""
    session.execute(update(AccessLink).where(
        AccessLink.person_id == person.id, AccessLink.purpose == purpose,
        AccessLink.used_at.is_(None)).values(used_at=now, pending_token=None))
    token = secrets.token_urlsafe(32)
    link = AccessLink(person_id=person.id, purpose=purpose, token_hash=token_hash(token),
                      pending_token=token, created_at=now, expires_at=now + LIFETIME[purpose])
    session.add(link)
    session.flush()
    timed_work.plan(session, WorkKind.ACCOUNT_EMAIL, f"person-{person.id}-link-{link.id}", due_at=now,
                    args=[link.id])
    return link


def _check_invitable(session: Session, person: Person) -> None:
    if not person.active:
        raise Conflict(f"{person.name} is not active in the program.", "person")
    if person.password_hash:
        raise Conflict(f"{person.name} has set a password already; they can use 'Forgot password'.",
                       "person")
    if not password_signin_allowed(session):
        raise Conflict("This program signs people in through their organization only: "
                       "nobody needs an invitation.", "person")
    provider = linked_people(session, [person.id]).get(person.id)
    if provider is not None:
        raise Conflict(f"{person.name} signs in through {provider}: they need no invitation.", "person")


def invite(session: Session, person: Person, *, now: datetime | None = None) -> AccessLink:
    """Invite (or invite again) one person without a password."""
    now = current_time(now)
    with unit_of_work(session):
        _check_invitable(session, person)
        link = _issue(session, person, LinkPurpose.INVITE, now)
        session.commit()
    return link


def invite_all(session: Session, *, now: datetime | None = None) -> list[int]:
    """Invite every active person with no password and no open invitation; their ids."""
    now = current_time(now)
    with unit_of_work(session):
        if not password_signin_allowed(session):
            raise Conflict("This program signs people in through their organization only: "
                           "nobody needs an invitation.")
        open_invites = select(AccessLink.person_id).where(
            AccessLink.purpose == LinkPurpose.INVITE, AccessLink.used_at.is_(None),
            AccessLink.expires_at > now)
        through_sso = select(PersonIdentity.person_id)  # they sign in at their identity provider
        people = session.scalars(select(Person).where(
            Person.active, Person.password_hash.is_(None), Person.id.not_in(open_invites),
            Person.id.not_in(through_sso)).order_by(Person.id)).all()
        for person in people:
            _issue(session, person, LinkPurpose.INVITE, now)
        session.commit()
    return [p.id for p in people]


def request_reset(session: Session, email: object, *, now: datetime | None = None) -> None:
    """'Forgot password': a reset link to an active account with that address, if any.
    Answers the same either way (only a malformed address is refused)."""
    now = current_time(now)
    address = check_email(email)
    with unit_of_work(session):
        person = session.scalar(select(Person).where(Person.email == address))
        if person is None or not person.active or not password_signin_allowed(session):
            return
        _issue(session, person, LinkPurpose.RESET, now)
        session.commit()


def open_link(session: Session, token: str, *, now: datetime | None = None) -> AccessLink:
    """The usable link for ``token``; raises :class:`LinkInvalid` otherwise."""
    now = current_time(now)
    link = session.scalar(select(AccessLink).where(AccessLink.token_hash == token_hash(token or "")))
    if link is None or link.used_at is not None:
        raise LinkInvalid("This link was already used, or a newer one replaced it.")
    if link.expires_at <= now:
        raise LinkInvalid("This link has expired.")
    if not link.person.active:
        raise LinkInvalid("This account is not active in the program.")
    return link


def set_password(session: Session, token: str, password: object, confirm: object,
                 *, now: datetime | None = None) -> Person:
    """Use the link: the new password, every open link of the person retired; invitations
    then ask for the profile at the first sign-in."""
    now = current_time(now)
    link = open_link(session, token, now=now)
    chosen = check_password(password)
    if confirm != chosen:
        raise ValidationFailed("The two passwords differ.", "confirm")
    with unit_of_work(session):
        claimed = session.execute(update(AccessLink).where(
            AccessLink.id == link.id, AccessLink.used_at.is_(None)).values(used_at=now, pending_token=None))
        if getattr(claimed, "rowcount", 1) != 1:  # used by a concurrent request a moment ago
            raise LinkInvalid("This link was already used, or a newer one replaced it.")
        session.execute(update(AccessLink).where(
            AccessLink.person_id == link.person_id, AccessLink.used_at.is_(None))
            .values(used_at=now, pending_token=None))
        person = session.get_one(Person, link.person_id)
        person.password_hash = hash_password(chosen)
        if link.purpose == LinkPurpose.INVITE:
            person.needs_profile = True
        session.commit()
    return person


def finish_profile(session: Session, person: Person, changes: Mapping[str, Any],
                   skills: Mapping[str, Any]) -> Person:
    """The first-sign-in step: the profile saved (as on the profile page), then Home."""
    update_profile(session, person, changes, skills, actor=person)
    with unit_of_work(session):
        person.needs_profile = False
        session.commit()
    return person


@dataclass(frozen=True)
class LinkEmail:
    """What the worker mails; ``None`` from :func:`pending_email` when there is nothing to send."""

    link_id: int
    person: Person
    purpose: LinkPurpose
    path: str  # under the base URL
    expires_at: datetime


def pending_email(session: Session, link_id: int, *, now: datetime | None = None) -> LinkEmail | None:
    """The email of a link not yet sent and still usable (a retired or sent one: nothing)."""
    now = current_time(now)
    link = session.get(AccessLink, link_id)
    if link is None or link.pending_token is None or link.used_at is not None or link.expires_at <= now:
        return None
    return LinkEmail(link.id, link.person, link.purpose, SET_PASSWORD_PATH + link.pending_token,
                     link.expires_at)


def mark_sent(session: Session, link_id: int, *, now: datetime | None = None) -> None:
    """The email went out: the token exists only in it from now on."""
    with unit_of_work(session):
        session.execute(update(AccessLink).where(AccessLink.id == link_id)
                        .values(pending_token=None, sent_at=current_time(now)))
        session.commit()


def open_invitation(session: Session, person: Person, *, now: datetime | None = None) -> AccessLink | None:
    now = current_time(now)
    return session.scalar(select(AccessLink).where(
        AccessLink.person_id == person.id, AccessLink.purpose == LinkPurpose.INVITE,
        AccessLink.used_at.is_(None), AccessLink.expires_at > now).order_by(AccessLink.id.desc()).limit(1))


def link_notice(email: LinkEmail, base_url: str) -> Notice:
    """The invitation or reset email: the link, how long it is good for, what to do otherwise."""
    url = base_url.rstrip("/") + email.path
    until = email.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    if email.purpose == LinkPurpose.INVITE:
        subject = "You are invited to the mentoring program"
        lead = (f"Hello {email.person.name}, you have been invited to the mentoring program. "
                "Choose your password with this link; then tell us what you want to learn or offer.")
    else:
        subject = "Set a new password"
        lead = (f"Hello {email.person.name}, someone (hopefully you) asked to reset your password. "
                "If it was not you, ignore this email: your password stays as it is.")
    tail = f"The link works once, until {until}. Past that, ask for a new one on the sign-in page."
    text = f"{lead}\n\n{url}\n\n{tail}\n"
    html_body = (f"<p>{html.escape(lead)}</p><p><a href=\"{html.escape(url)}\">{html.escape(url)}</a></p>"
                 f"<p>{html.escape(tail)}</p>")
    return Notice(to=[email.person.email], subject=subject, text=text, html=html_body)


def invited_ids(session: Session, person_ids: list[int]) -> set[int]:
    """Of these people, those ever sent an invitation (the admin page offers "Invite again")."""
    if not person_ids:
        return set()
    return set(session.scalars(select(AccessLink.person_id).where(
        AccessLink.person_id.in_(person_ids), AccessLink.purpose == LinkPurpose.INVITE)))
