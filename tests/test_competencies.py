"""The competency model and each person's gaps against it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduling.errors import Conflict, DomainError, Forbidden
from scheduling.models import Competency
from scheduling.services import competencies as svc
from scheduling.services.people import set_skills
from scheduling.services.skills import find_skill
from tests.factories import make_admin, make_mentee, make_mentor, make_program


def test_gaps_follow_the_role_of_the_title(db: Session) -> None:
    program = make_program(db)
    svc.replace_model(
        db,
        program,
        {
            "Account Executive": [{"name": "Negotiation", "level": 4}, {"name": "Forecasting", "level": 2}],
            "Engineer": [{"name": "Python", "level": 5}],
        },
    )
    person = make_mentee(db, title="  ACCOUNT executive ")
    set_skills(
        db, person, {"has": [{"name": "negotiation", "level": 2}, {"name": "Forecasting", "level": 3}]}
    )
    gaps = svc.gaps_for(db, program, person)
    assert [(g.skill, g.target_level, g.current_level, g.gap) for g in gaps] == [
        ("Negotiation", 4, 2, 2),
        ("Forecasting", 2, 3, 0),
    ]
    assert svc.gaps_for(db, program, make_mentee(db, title="")) == []
    assert svc.gaps_for(db, program, make_mentee(db, title="Astronaut")) == []


def test_gaps_are_for_the_person_their_manager_and_admins(db: Session) -> None:
    program = make_program(db)
    manager = make_mentee(db)
    person = make_mentee(db, title="Engineer", manager_id=manager.id)
    svc.set_role_targets(db, program, "Engineer", [{"name": "Python", "level": 3}])
    for viewer in (person, manager, make_admin(db)):
        assert [g.gap for g in svc.visible_gaps(db, program, person, viewer)] == [3]
    for viewer in (make_mentor(db), make_mentee(db)):
        with pytest.raises(Forbidden):
            svc.visible_gaps(db, program, person, viewer)


@pytest.mark.parametrize(
    "model, field",
    [
        ({"Engineer": [{"name": "Python", "level": 6}]}, "roles.Engineer[0].level"),
        ({"Engineer": [{"name": "Python"}]}, "roles.Engineer[0].level"),
        ({"Engineer": [{"name": "Python", "level": 2}, {"name": "python", "level": 3}]}, "roles.Engineer[1]"),
        ({"Engineer": "Python"}, "roles.Engineer"),
        ({"  ": []}, "roles"),
        ({"Engineer": [], "engineer": []}, "roles.engineer"),
    ],
)
def test_a_bad_model_is_refused_and_changes_nothing(db: Session, model: dict, field: str) -> None:
    program = make_program(db)
    svc.replace_model(db, program, {"Sales": [{"name": "Negotiation", "level": 3}]})
    with pytest.raises(DomainError) as err:
        svc.replace_model(db, program, model)
    assert err.value.field == field
    assert svc.competency_model(db, program) == {
        "Sales": [{"skill": "Negotiation", "skill_id": find_skill(db, "Negotiation").id, "target_level": 3}]
    }


def test_replacing_the_model_drops_roles_left_out(db: Session) -> None:
    program = make_program(db)
    svc.replace_model(
        db,
        program,
        {"Sales": [{"name": "Negotiation", "level": 3}], "Support": [{"name": "Empathy", "level": 4}]},
    )
    svc.replace_model(db, program, {"Sales": [{"name": "Negotiation", "level": 5}]})
    assert list(svc.competency_model(db, program)) == ["Sales"]
    assert db.scalar(select(func.count(Competency.id))) == 1


def test_aliases_make_spellings_meet(db: Session) -> None:
    skill = svc.add_skill(db, "Salesforce CRM", category="Sales tools")
    assert find_skill(db, "CRM - Salesforce") is skill  # word order and punctuation never mattered
    svc.add_alias(db, skill, "SFDC")
    assert find_skill(db, "sfdc") is skill
    with pytest.raises(Conflict):
        svc.add_alias(db, skill, "sfdc")
    with pytest.raises(Conflict):
        svc.add_skill(db, "crm salesforce")
    assert svc.catalogue(db) == [
        {"id": skill.id, "name": "Salesforce CRM", "category": "Sales tools", "aliases": ["sfdc"]}
    ]
