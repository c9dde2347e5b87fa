"""axe-core on every page of every role of the demo: 0 serious or critical violations.

The pages are found by crawling the demo as each person (the Flask test client, like
``tests/test_demo_pages.py``); one page per URL shape (ids folded) is then opened in Chromium
signed in as that person and checked with axe-core."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from scheduling import demo
from scheduling.models import Person
from tests.factories import login
from tests.test_demo_pages import crawl
from tests.web.axe_check import blocking_violations
from tests.web.conftest import new_page, sign_in

pytestmark = pytest.mark.browser

SHAPE = re.compile(r"\d+")


def _people(db: Any) -> dict[str, Person]:
    demo.load_demo(db)
    by_email = {p.email: p for p in db.scalars(select(Person))}
    people = {role: by_email[email] for role, email in demo.LOGINS.items()}
    manager = db.scalars(select(Person).where(Person.id.in_(
        select(Person.manager_id).where(Person.manager_id.is_not(None))))).first()
    assert manager is not None
    people["manager"] = manager
    return people


def _one_per_shape(client: Any, pages: dict[str, int]) -> list[str]:
    """One HTML page per URL shape (a CSV export or a calendar file is no page)."""
    shapes: dict[str, str] = {}
    for path, status in sorted(pages.items()):
        shape = SHAPE.sub("N", path.split("?")[0])
        if status == 200 and shape not in shapes and client.get(path).mimetype == "text/html":
            shapes[shape] = path
    return sorted(shapes.values())


@pytest.mark.parametrize("who", ["mentee", "mentor", "admin", "manager"])
def test_every_page_of_every_role_passes_axe(browser: Any, live_app: Any, live_server: str, db: Any,
                                             who: str) -> None:
    person = _people(db)[who]
    client = live_app.test_client()
    login(client, person)
    paths = _one_per_shape(client, crawl(client, "/"))
    assert len(paths) > 8
    page = new_page(browser)
    found: dict[str, list[str]] = {}
    try:
        sign_in(page, live_server, person.email, demo.DEMO_PASSWORD)
        for path in paths:
            page.goto(live_server + path)
            problems = blocking_violations(page)
            if problems:
                found[path] = problems
    finally:
        page.context.close()
    assert found == {}, found
