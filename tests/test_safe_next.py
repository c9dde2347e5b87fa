"""Where sign-in sends the browser afterwards: only same-site relative paths (no open redirect).

Browsers drop tab/CR/LF inside a URL, so ``/\\t/evil.example`` is ``//evil.example``: another host.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.web.common import safe_next
from tests.factories import PASSWORD, make_mentee, make_program

HOSTILE = ["//evil.example", "/%09/evil.example", "/%0A/evil.example", "/%0D/evil.example",
           "/%0D%0ALocation:%20https://evil.example", "/%5C/evil.example", "https://evil.example/",
           "/%20/evil.example", "%2F%2Fevil.example", "javascript:alert(1)", "/%7F/evil.example"]


@pytest.mark.parametrize("target", ["/\t/evil.example", "/\n/x", "/\r/x", "/\\evil.example", "/ /x",
                                    "//x", "http://x/", "x/y", "", None, "/\x00/x", "/\u00a0/x"])
def test_the_helper_refuses_anything_but_a_local_path(target: str | None) -> None:
    assert safe_next(target) is None


@pytest.mark.parametrize("target", ["/home", "/requests/5?tab=open", "/people/3#skills",
                                    "/welcome?next=%2Fhome"])
def test_the_helper_keeps_local_paths(target: str) -> None:
    assert safe_next(target) == target


@pytest.mark.parametrize("target", HOSTILE)
def test_password_signin_never_leaves_the_site(client: Any, db: Session, target: str) -> None:
    make_mentee(db, email="mo@example.com")
    res = client.post(f"/signin?next={target}", data={"email": "mo@example.com", "password": PASSWORD})
    assert res.status_code == 302
    assert res.headers["Location"] == "/home"
    assert "evil" not in client.get(f"/signin?next={target}").get_data(as_text=True)


def test_password_signin_follows_a_local_next(client: Any, db: Session) -> None:
    make_mentee(db, email="mo@example.com")
    res = client.post("/signin?next=/meetings", data={"email": "mo@example.com", "password": PASSWORD})
    assert res.headers["Location"] == "/meetings"


@pytest.mark.parametrize("target", HOSTILE)
def test_the_first_sign_in_step_never_leaves_the_site(client: Any, db: Session, target: str) -> None:
    make_program(db)
    person = make_mentee(db, email="new@example.com")
    person.needs_profile = True
    db.commit()
    client.post("/signin", data={"email": "new@example.com", "password": PASSWORD})
    done = client.post(f"/welcome?next={target}", data={"time_zone": "Europe/Berlin"})
    assert done.status_code == 302 and done.headers["Location"] == "/home"


def test_the_first_sign_in_step_returns_to_the_page_asked_for(client: Any, db: Session) -> None:
    make_program(db)
    person = make_mentee(db, email="new@example.com")
    person.needs_profile = True
    db.commit()
    client.post("/signin", data={"email": "new@example.com", "password": PASSWORD})
    to_welcome = client.get("/meetings")
    assert to_welcome.headers["Location"] == "/welcome?next=/meetings"
    done = client.post(to_welcome.headers["Location"], data={"time_zone": "Europe/Berlin"})
    assert done.status_code == 302 and done.headers["Location"] == "/meetings"
