"""Who among many people has a broken calendar connection (``calendar_health.broken_people``).

A ranking of every mentor asks for a thousand people at once; past ``IN_LIST_LIMIT`` the
broken connections are read without an IN list and filtered in Python. Both ways give the
same answer: only broken connections, only of the people asked about, by name.
"""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from scheduling import calendar_health, tenants
from tests.factories import make_mentor


@pytest.mark.parametrize("limit", [500, 1], ids=["in-list", "filtered-here"])
def test_only_the_broken_connections_of_the_people_asked_about(
    db: Session, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    monkeypatch.setattr(calendar_health, "IN_LIST_LIMIT", limit)
    tenant = tenants.create_tenant(db, name="DAV", provider="caldav",
                                   config={"url": "https://dav.example/", "username": "u"}, secret="s")
    names = ("Zoe Broken", "Adam Broken", "Fine", "Out")
    zoe, adam, fine, outsider = (make_mentor(db, name=n) for n in names)
    for person in (zoe, adam, fine, outsider):
        tenants.connect_account(db, person=person, tenant=tenant, external_id=f"cal/{person.id}/")
    for person in (zoe, adam, outsider):
        account = tenants.account_of(db, person)
        assert account is not None
        calendar_health.mark_broken(db, account, "refused")
    db.commit()
    unconnected = make_mentor(db, name="No Calendar")

    asked = [fine.id, zoe.id, unconnected.id, adam.id]
    assert calendar_health.broken_people(db, asked) == [(adam.id, "Adam Broken"), (zoe.id, "Zoe Broken")]
    assert calendar_health.broken_people(db, [fine.id]) == []
    assert calendar_health.broken_people(db, []) == []
