"""``directory_page`` (columns) answers exactly what the ORM path answered: profiles and total."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from scheduling.models import Person
from scheduling.services.people import (
    count_people,
    directory_page,
    private_profile,
    public_profile,
    search_people,
    set_skills,
)
from tests.factories import make_admin, make_mentee, make_mentor


@pytest.fixture
def directory(db: Session) -> dict[str, Person]:
    people = {
        "ada": make_mentor(db, name="Ada Lovelace", department="Engineering", title="Staff Engineer",
                           time_zone="Europe/London", bio="Analytical engines.",
                           availability_note="Mornings", monthly_meeting_cap=3),
        "bob": make_mentor(db, name="bob builder", department="Ops", password=None),
        "grace": make_mentor(db, name="Grace Hopper", department="Engineering", title="Engineering Manager",
                             is_mentee=True),
        "zed": make_mentor(db, name="Zed Zone", time_zone="Asia/Kathmandu"),
        "mo": make_mentee(db, name="Mo Mentee", department="Sales", availability_note="hidden"),
        "al": make_admin(db, name="Al Admin"),
        "gone": make_mentor(db, name="Gone Mentor", active=False),
    }
    people["mo"].manager_id = people["grace"].id
    db.commit()
    set_skills(db, people["ada"], {"offers": [{"name": "python", "level": 5}, "System Design", "COBOL"],
                                   "wants": ["Rust"], "has": [{"name": "Go", "level": 2}]})
    set_skills(db, people["grace"], {"offers": ["COBOL", "Python"], "has": ["python"]})
    set_skills(db, people["mo"], {"wants": ["Salesforce CRM", "python"]})
    return people


def _old(db: Session, private: set[int], **kw: Any) -> tuple[list[dict[str, Any]], int]:
    limit, offset = kw.pop("limit", 50), kw.pop("offset", 0)
    found = search_people(db, **kw, limit=limit, offset=offset)
    profiles = [private_profile(p) if p.id in private else public_profile(p) for p in found]
    return profiles, count_people(db, **kw)


@pytest.mark.parametrize("kw", [
    {},
    {"role": None},
    {"role": "mentee"},
    {"role": "admin"},
    {"skill": "python"},
    {"q": "engineer"},
    {"department": "engineering", "role": None},
    {"limit": 2},
    {"limit": 2, "offset": 2},
    {"limit": 3, "offset": 1, "role": None},
    {"offset": 40},  # past the end: no rows, the total still told
    {"skill": "Underwater Basketry"},
])
def test_directory_page_equals_the_orm_profiles(db: Session, directory: dict[str, Person],
                                                kw: dict[str, Any]) -> None:
    for private in (set(), {directory["ada"].id, directory["mo"].id}, {p.id for p in directory.values()}):
        expected = _old(db, private, **dict(kw))
        db.expire_all()
        assert directory_page(db, private_for=private.__contains__, **kw) == expected


def test_directory_page_filters_by_ids_and_pause(db: Session, directory: dict[str, Person]) -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    directory["zed"].paused_until = now + timedelta(days=3)
    db.commit()
    only = [directory["ada"].id, directory["zed"].id, directory["mo"].id]
    kw: dict[str, Any] = {"only_ids": only, "taking_requests_at": now}
    page, total = directory_page(db, private_for=lambda _: False, **kw)
    assert [p["name"] for p in page] == ["Ada Lovelace"] and total == 1
    assert (page, total) == _old(db, set(), **kw)
