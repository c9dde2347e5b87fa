"""Home shows what the program is about (issue 17: "the program description is promised on Home and
not shown"): the admin's description under the program's name, and nothing when there is none."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from tests.factories import login, make_mentee, make_program


def test_home_shows_the_program_description(client: Any, db: Session) -> None:
    make_program(db, name="Flash mentoring", description="Thirty minutes with a colleague who has done it.")
    login(client, make_mentee(db))
    page = client.get("/home").get_data(as_text=True)
    lead = '<p class="lead" id="program-description">'
    assert f"{lead}Flash mentoring: Thirty minutes with a colleague who has done it.</p>" in page


def test_without_a_description_home_says_nothing_about_it(client: Any, db: Session) -> None:
    make_program(db, description="")
    login(client, make_mentee(db))
    assert 'id="program-description"' not in client.get("/home").get_data(as_text=True)
