"""A program that hides the mentor directory hides it on the pages too, not only in the JSON API:
the directory lists only the mentee's recommendations, other mentors' cards and request forms
answer 404, and a mentor already asked stays reachable."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from scheduling.models import Recommendation
from tests.factories import login, make_mentee, make_mentor, make_program, make_request


def _page(resp: Any) -> str:
    return resp.get_data(as_text=True)


def test_hidden_directory_lists_only_recommendations_and_closes_other_cards(client: Any, db: Session) -> None:
    program = make_program(db, directory_hidden=True)
    mentors = [make_mentor(db, name=f"Hidden Mentor {i}") for i in range(8)]
    mentee = make_mentee(db)
    db.add(Recommendation(program_id=program.id, mentee_id=mentee.id, mentor_id=mentors[7].id))
    db.commit()
    login(client, mentee)

    page = _page(client.get("/mentors"))
    listed = {m.name for m in mentors if m.name in page}
    assert len(listed) == 5 and "Hidden Mentor 7" in listed  # the pushed one plus the best matches
    assert "5 mentors found." in page and "recommended for you" in page
    unseen = next(m for m in mentors if m.name not in listed)
    for tail in ("", "/request", "/request/time"):
        url = f"/mentors/{unseen.id}{tail}"
        assert client.get(url).status_code == 404, url
    assert client.get(f"/mentors/{mentors[7].id}").status_code == 200
    assert client.get(f"/mentors/{mentors[7].id}/request").status_code == 200

    make_request(db, program=program, mentee=mentee, mentor=unseen)  # asked once: stays reachable
    assert client.get(f"/mentors/{unseen.id}").status_code == 200


def test_open_directory_lists_every_mentor(client: Any, db: Session) -> None:
    make_program(db)
    mentors = [make_mentor(db, name=f"Open Mentor {i}") for i in range(8)]
    login(client, make_mentee(db))
    page = _page(client.get("/mentors"))
    assert all(m.name in page for m in mentors) and "8 mentors found." in page
    assert client.get(f"/mentors/{mentors[0].id}/request").status_code == 200
