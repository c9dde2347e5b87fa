"""Managers find mentors for a report's competency gap ("who could mentor this", from what mentors
offer against the role's target) and recommend one; the report is notified and emailed. Nobody else
may, and a mentor not on the list is refused with nothing written."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling.errors import Forbidden, ValidationFailed
from scheduling.models import EmailState, Notification, NotificationKind, Person, Recommendation
from scheduling.services import competencies
from scheduling.services.gap_mentors import mentors_for_gap, recommend_for_gap
from scheduling.services.people import set_skills
from tests.factories import NOW, count_rows, login, make_mentee, make_mentor, make_program


def _team(db: Session) -> dict[str, Any]:
    program = make_program(db)
    competencies.set_role_targets(db, program, "Engineer", [{"name": "Python", "level": 4}])
    manager = make_mentor(db, name="Manny Manager")
    report = make_mentee(db, name="Rae Report", title="Engineer", manager_id=manager.id)
    set_skills(db, report, {"has": [{"name": "Python", "level": 1}]})
    expert = make_mentor(db, name="Exa Expert")
    set_skills(db, expert, {"offers": [{"name": "Python", "level": 5}]})
    novice = make_mentor(db, name="Nov Novice")
    set_skills(db, novice, {"offers": [{"name": "Python", "level": 2}]})
    paused = make_mentor(db, name="Pau Paused", paused_until=NOW.replace(year=2099))
    set_skills(db, paused, {"offers": [{"name": "Python", "level": 5}]})
    skill = competencies.known_skill(db, "Python")
    return {"program": program, "manager": manager, "report": report, "expert": expert, "novice": novice,
            "skill": skill}


def test_who_could_mentor_a_gap_puts_mentors_at_the_target_first(db: Session) -> None:
    t = _team(db)
    gap, found = mentors_for_gap(db, t["program"], t["report"], t["manager"], t["skill"].id, now=NOW)
    assert (gap.target_level, gap.current_level, gap.gap) == (4, 1, 3)
    assert [f.match.mentor.name for f in found] == ["Exa Expert"]  # level 2 is below the target; paused out
    with pytest.raises(Forbidden):
        mentors_for_gap(db, t["program"], t["report"], t["novice"], t["skill"].id, now=NOW)


def test_the_manager_recommends_a_mentor_and_the_report_is_emailed(client: Any, db: Session) -> None:
    t = _team(db)
    with pytest.raises(ValidationFailed):  # not on the list
        recommend_for_gap(db, t["program"], t["manager"], t["report"], t["skill"].id, t["novice"].id)
    with pytest.raises(Forbidden):  # not their manager
        recommend_for_gap(db, t["program"], t["novice"], t["report"], t["skill"].id, t["expert"].id)
    assert count_rows(db, Recommendation, Notification) == {"Recommendation": 0, "Notification": 0}

    login(client, t["manager"])
    team = client.get("/team").get_data(as_text=True)
    url = f"/team/{t['report'].id}/gaps/{t['skill'].id}/mentors"
    assert f'href="{url}"' in team and "Who could mentor this" in team
    page = client.get(url).get_data(as_text=True)
    assert "Exa Expert" in page and "Nov Novice" not in page and "% match" in page
    resp = client.post(f"/team/{t['report'].id}/gaps/{t['skill'].id}/recommend",
                       data={"mentor_id": str(t["expert"].id)})
    assert resp.status_code == 302
    rec = db.scalars(select(Recommendation)).one()
    assert (rec.mentee_id, rec.mentor_id) == (t["report"].id, t["expert"].id)
    assert rec.pushed_by_id == t["manager"].id
    note = db.scalars(select(Notification).where(Notification.person_id == t["report"].id)).one()
    assert note.kind == NotificationKind.RECOMMENDATION and note.email == EmailState.PLANNED
    assert "Your manager Manny Manager suggests them for Python" in note.body

    stranger: Person = make_mentee(db)
    login(client, stranger)
    assert client.get(url).status_code == 403
