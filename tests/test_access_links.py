"""Invitations and password resets by emailed one-time link, and the first-sign-in step.

The emails are timed work rows run by a real worker and delivered to the SMTP sink; the
links in them are followed with the web client: set a password, first-sign-in profile,
Home. Links are single use, expire, are stored hashed, and "forgot password" never tells
whether an address exists."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduling import identity_providers
from scheduling.db import utcnow
from scheduling.models import (
    AccessLink,
    LinkPurpose,
    Person,
    PersonIdentity,
    PersonSkill,
    Skill,
    TimedWork,
    WorkKind,
)
from scheduling.passwords import verify_password
from scheduling.services import access
from scheduling.services.skills import skill_key
from tests import worker_harness
from tests.factories import PASSWORD, login, make_admin, make_mentee, make_mentor, make_program
from worker import startup

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def mail(db: Session, database_url: str, redis: Any, smtp: Any) -> Iterator[Callable[[], list[Any]]]:
    """Runs the due work in a real burst worker; returns what the SMTP sink got since the last call."""
    connection = worker_harness.plain_connection(redis)
    startup.install(worker_harness.config(database_url, smtp), connection=connection)
    smtp.clear()

    def run() -> list[Any]:
        worker_harness.drain(connection)
        got = list(smtp.received)
        smtp.clear()
        return got

    try:
        yield run
    finally:
        startup.uninstall()


@pytest.fixture
def imported(db: Session) -> Person:
    make_program(db)
    db.add(Skill(name="Python", key=skill_key("Python")))
    db.commit()
    return make_mentee(db, email="imported@example.com", name="Imre Ported", password=None)


def link_in(message: Any) -> str:
    body = message.message.get_body(("plain",)).get_content()
    found = re.search(r"https?://\S+(/password/set/\S+)", body)
    assert found, body
    return found.group(1)


def test_an_invited_person_sets_a_password_fills_the_profile_and_lands_home(
        client: Any, db: Session, imported: Person, mail: Callable[[], list[Any]]) -> None:
    admin = make_admin(db, email="boss@example.com")
    login(client, admin)
    answer = client.post(f"/admin/people/{imported.id}/invite")
    assert answer.status_code == 303
    row = db.scalar(select(TimedWork).where(TimedWork.kind == WorkKind.ACCOUNT_EMAIL))
    assert row is not None and row.key.startswith(f"person-{imported.id}-link-")
    [sent] = mail()
    assert sent.rcpt_tos == ["imported@example.com"] and "invited" in sent.message["Subject"]
    path = link_in(sent)
    token = path.rsplit("/", 1)[1]
    db.expire_all()
    stored = db.scalars(select(AccessLink)).one()
    assert stored.token_hash == access.token_hash(token) and token not in stored.token_hash
    assert stored.pending_token is None and stored.sent_at is not None  # the token lives only in the email

    client.post("/signout")
    page = client.get(path)
    assert page.status_code == 200 and "imported@example.com" in page.get_data(as_text=True)
    mismatch = client.post(path, data={"password": NEW_PASSWORD, "confirm": "something else"})
    assert mismatch.status_code == 422 and "differ" in mismatch.get_data(as_text=True)
    done = client.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 302 and done.headers["Location"].endswith("/welcome")
    # Until the profile is filled in, every page leads back to it.
    assert client.get("/home").headers["Location"].endswith("/welcome?next=/home")
    welcome = client.get("/welcome").get_data(as_text=True)
    assert "Intl.DateTimeFormat" in welcome
    bad = client.post("/welcome", data={"time_zone": "Mars/Olympus", "wants-0-skill": "Python"})
    assert bad.status_code == 422
    saved = client.post("/welcome", data={"time_zone": "Europe/Berlin", "wants-0-skill": "python",
                                          "wants-0-level": ""})
    assert saved.status_code == 302 and saved.headers["Location"].endswith("/home")
    assert client.get("/home").status_code == 200
    db.expire_all()
    person = db.get_one(Person, imported.id)
    assert person.time_zone == "Europe/Berlin" and not person.needs_profile
    assert person.password_hash and verify_password(person.password_hash, NEW_PASSWORD)
    skills = db.scalars(select(PersonSkill).where(PersonSkill.person_id == person.id))
    assert [ps.skill.name for ps in skills] == ["Python"]

    # Single use: the same link again is refused with a page that says what to do.
    client.post("/signout")
    again = client.get(path)
    assert again.status_code == 410 and "Ask for a new link" in again.get_data(as_text=True)
    assert client.post(path, data={"password": "x" * 20, "confirm": "x" * 20}).status_code == 410
    signin = client.post("/signin", data={"email": "imported@example.com", "password": NEW_PASSWORD})
    assert signin.status_code == 302


def test_forgot_password_answers_the_same_for_unknown_addresses_and_links_expire(
        client: Any, db: Session, imported: Person, mail: Callable[[], list[Any]]) -> None:
    known = make_mentor(db, email="known@example.com")
    unknown = client.post("/password/forgot", data={"email": "nobody@example.com"})
    asked = client.post("/password/forgot", data={"email": "known@example.com"})
    assert unknown.status_code == asked.status_code == 200
    normalise = lambda r: r.get_data(as_text=True).replace("nobody@", "X@").replace("known@", "X@")  # noqa: E731
    assert normalise(unknown) == normalise(asked)
    assert client.post("/password/forgot", data={"email": "not an address"}).status_code == 422
    [sent] = mail()
    assert sent.rcpt_tos == ["known@example.com"]
    path = link_in(sent)

    # A second request retires the first link; the newest one works (once).
    client.post("/password/forgot", data={"email": "known@example.com"})
    [newer] = mail()
    assert client.get(path).status_code == 410
    # Expired: an hour later the newer link no longer works either.
    token = link_in(newer).rsplit("/", 1)[1]
    with pytest.raises(access.LinkInvalid, match="expired"):
        access.set_password(db, token, NEW_PASSWORD, NEW_PASSWORD,
                            now=utcnow() + timedelta(hours=1, seconds=1))
    db.expire_all()
    assert db.get_one(Person, known.id).password_hash is not None
    assert verify_password(db.get_one(Person, known.id).password_hash or "", PASSWORD)
    used = client.post(link_in(newer), data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert used.status_code == 302
    db.expire_all()
    assert not db.get_one(Person, known.id).needs_profile  # a reset asks for no profile


def test_invite_everyone_imported_once_and_refusals_change_nothing(
        client: Any, db: Session, imported: Person, mail: Callable[[], list[Any]]) -> None:
    second = make_mentee(db, email="second@example.com", password=None)
    make_mentee(db, email="has-password@example.com")
    gone = make_mentee(db, email="gone@example.com", password=None)
    gone.active = False
    db.commit()
    assert access.invite_all(db) == [imported.id, second.id]
    assert access.invite_all(db) == []  # their invitations are open
    assert sorted(r.rcpt_tos[0] for r in mail()) == ["imported@example.com", "second@example.com"]
    with pytest.raises(access.Conflict):
        access.invite(db, db.scalars(select(Person).where(Person.email == "has-password@example.com")).one())
    with pytest.raises(access.Conflict):
        access.invite(db, gone)
    assert db.scalar(select(func.count(AccessLink.id))) == 2
    # Inviting again retires the first invitation.
    first = db.scalars(select(AccessLink).where(AccessLink.person_id == second.id)).one()
    access.invite(db, second)
    db.expire_all()
    assert db.get_one(AccessLink, first.id).used_at is not None
    assert [r.rcpt_tos for r in mail()] == [["second@example.com"]]


def test_an_sso_only_program_sends_no_links(client: Any, db: Session, imported: Person,
                                            mail: Callable[[], list[Any]]) -> None:
    make_mentor(db, email="known@example.com")
    provider = identity_providers.create_provider(db, identity_providers.check_fields({
        "name": "Corp", "issuer": "https://login.example.com", "client_id": "x", "client_secret": "y",
        "domains": "example.com"}))
    identity_providers.set_password_signin(db, False)
    assert provider.id
    with pytest.raises(access.Conflict):
        access.invite(db, imported)
    assert client.post("/password/forgot", data={"email": "known@example.com"}).status_code == 200
    assert mail() == []
    assert db.scalar(select(func.count(AccessLink.id))) == 0
    assert LinkPurpose.RESET.value == "reset"


def test_people_known_to_an_identity_provider_get_no_invitation(client: Any, db: Session,
                                                                imported: Person) -> None:
    """A mixed program (passwords and SSO): who signs in at the provider is not sent a password link,
    and the People page says where they sign in instead of offering "Invite"."""
    provider = identity_providers.create_provider(db, identity_providers.check_fields({
        "name": "Corp", "issuer": "https://login.example.com", "client_id": "x", "client_secret": "y",
        "domains": "example.com"}))
    sam = make_mentee(db, email="sam@example.com", name="Sam Sso", password=None, needs_profile=True)
    db.add(PersonIdentity(provider_id=provider.id, person_id=sam.id, subject="sam-sub"))
    db.commit()

    with pytest.raises(access.Conflict, match="Sam Sso signs in through Corp"):
        access.invite(db, sam)
    assert access.invite_all(db) == [imported.id]

    login(client, make_admin(db))
    page = client.get("/admin/people").get_data(as_text=True)
    rows = {m.group(1): " ".join(m.group(0).split())
            for m in re.finditer(r"<tr><td>[^<]*</td><td>([^<]*)</td>.*?</tr>", page, re.S)}
    assert "signs in through Corp; profile pending" in rows["sam@example.com"]
    assert "Invite" not in rows["sam@example.com"]
    assert "no password" in rows["imported@example.com"] and "Invite again" in rows["imported@example.com"]
    assert db.scalar(select(func.count(AccessLink.id)).where(AccessLink.person_id == sam.id)) == 0
