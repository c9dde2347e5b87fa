"""Every page reachable from the demo program renders, for each kind of person.

A crawler signs in as the demo's mentee, mentor, admin and a manager, follows every
same-site link it finds (GET only, so it changes nothing), and checks that no page
fails and no link of ours leads nowhere. It catches a template that breaks on real
data (an empty field, a person in another zone, a declined request) that the
focused page tests do not build.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling import demo
from scheduling.models import Person
from tests.factories import login

HREF = re.compile(r'href="([^"#]+)"')
LEAVES = ("/signout", "/static/", "/api/")
MAX_PAGES = 400


def crawl(client: Any, start: str) -> dict[str, int]:
    """Status of every same-site page reachable from ``start``, breadth-first."""
    seen: dict[str, int] = {}
    queue = deque([start])
    while queue and len(seen) < MAX_PAGES:
        path = queue.popleft()
        if path in seen:
            continue
        res = client.get(path)
        seen[path] = res.status_code
        if res.status_code in (302, 303):
            hrefs = [res.headers["Location"]]
        elif res.status_code == 200 and res.mimetype == "text/html":
            hrefs = HREF.findall(res.get_data(as_text=True))
        else:
            continue
        for href in hrefs:
            target = urlsplit(urljoin("http://localhost" + path, href.replace("&amp;", "&")))
            if target.netloc != "localhost" or target.path.startswith(LEAVES):
                continue
            link = target.path + (f"?{target.query}" if target.query else "")
            if link not in seen:
                queue.append(link)
    return seen


@pytest.fixture
def demo_people(db: Session) -> dict[str, Person]:
    demo.load_demo(db)
    by_email = {p.email: p for p in db.scalars(select(Person))}
    people = {role: by_email[email] for role, email in demo.LOGINS.items()}
    manager = db.scalars(select(Person).where(Person.id.in_(
        select(Person.manager_id).where(Person.manager_id.is_not(None))))).first()
    assert manager is not None, "the demo has managers"
    people["manager"] = manager
    return people


@pytest.mark.parametrize("who", ["mentee", "mentor", "admin", "manager"])
def test_every_linked_page_renders(client: Any, demo_people: dict[str, Person], who: str) -> None:
    login(client, demo_people[who])
    pages = crawl(client, "/")
    broken = {path: status for path, status in pages.items() if status not in (200, 302, 303)}
    assert broken == {}, broken
    assert len(pages) > 10  # it really walked the site
    assert {"/profile", "/calendar", "/requests", "/meetings"} <= set(pages)  # everyone's own pages
    if who == "admin":
        assert {"/admin/report", "/admin/requests", "/admin/skills"} <= set(pages)
