"""Matching on the pages: the score shown as "NN% match" with advice, the directory sorted by it,
fair rotation of recommendations that leaves out mentors at their monthly cap, and an admin's bulk
"recommend the top N mentors to each mentee" with one email per mentee."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling import matching
from scheduling.models import (
    EmailState,
    Notification,
    NotificationKind,
    Person,
    Recommendation,
    TimedWork,
    WorkKind,
)
from scheduling.services.people import set_skills
from scheduling.services.top_recommendations import PER_OPEN_MEETING
from tests.factories import NOW, count_rows, login, make_admin, make_mentee, make_mentor, make_program


def offering(db: Session, skill: str, level: int, **kw: Any) -> Person:
    mentor = make_mentor(db, **kw)
    set_skills(db, mentor, {"offers": [{"name": skill, "level": level}]})
    return mentor


def wanting(db: Session, *skills: str, **kw: Any) -> Person:
    mentee = make_mentee(db, **kw)
    set_skills(db, mentee, {"wants": list(skills)})
    return mentee


def test_home_and_directory_show_the_match_score_and_sort_by_it(client: Any, db: Session) -> None:
    make_program(db, availability_mode="free_text")  # no free-time points: the scores are the skills
    offering(db, "SQL", 2, name="Aaron Adequate")
    offering(db, "SQL", 5, name="Zoe Expert")
    make_mentor(db, name="Mia Other")
    mentee = wanting(db, "SQL")
    login(client, mentee)
    home = client.get("/home").get_data(as_text=True)
    assert "% match" in home and "not a verdict" in home
    expert = matching.match_percent(60.0)
    assert f"{expert}% match" in home

    by_name = client.get("/mentors").get_data(as_text=True)
    assert by_name.index("Aaron Adequate") < by_name.index("Mia Other") < by_name.index("Zoe Expert")
    by_match = client.get("/mentors?sort=match").get_data(as_text=True)
    assert by_match.index("Zoe Expert") < by_match.index("Aaron Adequate") < by_match.index("Mia Other")
    shown = [int(p) for p in re.findall(r"<strong>(\d+)% match</strong>", by_match)]
    assert shown == sorted(shown, reverse=True) and shown[0] == expert
    assert 'sort=match' in by_match or '<option value="match" selected>' in by_match


def test_recommendations_rotate_among_equals_and_skip_full_mentors(db: Session) -> None:
    program = make_program(db, availability_mode="free_text")
    equals = [offering(db, "SQL", 4, name=f"Equal {i}") for i in range(8)]
    full = offering(db, "SQL", 5, name="Full Star", monthly_meeting_cap=0)
    mentees = [wanting(db, "SQL") for _ in range(8)]
    seen: dict[int, int] = {}
    for mentee in mentees:
        recs = matching.recommendations_for(db, program, mentee, n=3, now=NOW)
        assert len(recs) == 3 and full.id not in matching.mentor_ids(recs)
        again = matching.recommendations_for(db, program, mentee, n=3, now=NOW)
        assert matching.mentor_ids(again) == matching.mentor_ids(recs)  # stable within the week
        for m in recs:
            seen[m.mentor.id] = seen.get(m.mentor.id, 0) + 1
    assert len(seen) > 3  # not the same three for everybody
    assert max(seen.values()) < len(mentees)  # nobody is shown to every mentee
    assert set(seen) <= {m.id for m in equals}


def test_admin_bulk_recommends_the_top_n_and_each_mentee_gets_one_email(client: Any, db: Session) -> None:
    make_program(db, availability_mode="free_text")
    capped = offering(db, "SQL", 5, name="Capped Star", monthly_meeting_cap=1)
    for i in range(5):
        offering(db, "SQL", 3, name=f"Helper {i}")
    mentees = [wanting(db, "SQL") for _ in range(4)]
    admin = make_admin(db)
    login(client, admin)

    resp = client.post("/admin/recommendations/top", data={"n": "0"})
    assert resp.status_code == 422 and 'id="top_n-error"' in resp.get_data(as_text=True)
    assert count_rows(db, Recommendation, Notification) == {"Recommendation": 0, "Notification": 0}

    resp = client.post("/admin/recommendations/top", data={"n": "3"})
    assert resp.status_code in (302, 303)
    recs = list(db.scalars(select(Recommendation)))
    by_mentee: dict[int, set[int]] = {}
    for r in recs:
        by_mentee.setdefault(r.mentee_id, set()).add(r.mentor_id)
    assert {m.id for m in mentees} == set(by_mentee) and all(len(v) == 3 for v in by_mentee.values())
    assert sum(capped.id in v for v in by_mentee.values()) == PER_OPEN_MEETING * 1  # capacity respected
    notes = list(db.scalars(select(Notification).where(Notification.kind == NotificationKind.RECOMMENDATION)))
    assert sorted(n.person_id for n in notes) == sorted(m.id for m in mentees)  # one each
    assert all(n.title.startswith("3 mentors recommended for you:") and n.email == EmailState.PLANNED
               for n in notes)
    emails = db.scalars(select(TimedWork).where(TimedWork.kind == WorkKind.NOTIFICATION_EMAIL)).all()
    assert len(emails) == len(mentees)
