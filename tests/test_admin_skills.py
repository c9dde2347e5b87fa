"""The admin skills page through the Flask test client: the catalogue (skills, categories, aliases) and
the role-based competency model, each refused edit shown next to its field with nothing saved."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling.models import Competency, Person, Program, Skill, SkillAlias
from scheduling.services import competencies
from scheduling.services.skills import find_skill
from tests.factories import count_rows, login, make_admin, make_mentee, make_mentor, make_program

AE = "Account Executive"


def html(resp: Any) -> str:
    return resp.get_data(as_text=True)


def text_of(resp: Any) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html(resp))).split())


def error_of(page: str, field: str) -> str:
    found = re.search(rf'id="{re.escape(field)}-error"[^>]*>([^<]*)<', page)
    assert found, f"no error shown for {field}"
    return unescape(found.group(1))


def model(db: Session, program: Program) -> dict[str, dict[str, int]]:
    db.expire_all()
    return {role: {t["skill"]: t["target_level"] for t in targets}
            for role, targets in competencies.competency_model(db, program).items()}


def skill(db: Session, name: str) -> Skill:
    found = find_skill(db, name)
    assert found is not None, name
    return found


@pytest.fixture
def program(db: Session) -> Program:
    program = make_program(db)
    for name, category in (("Salesforce CRM", "Sales"), ("Negotiation", "Sales"), ("Python", "Engineering")):
        competencies.add_skill(db, name, category=category)
    return program


@pytest.fixture
def admin(db: Session, client: Any, program: Program) -> Person:
    person = make_admin(db, email="root@example.com")
    login(client, person)
    return person


def role_form(role: str, rows: list[tuple[str, str]], original: str = "") -> dict[str, str]:
    data = {"original": original, "role": role}
    for k, (name, level) in enumerate([*rows, ("", "")]):
        data[f"skill-{k}"], data[f"level-{k}"] = name, level
    return data


# --- who may ------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [make_mentee, make_mentor])
def test_non_admins_are_refused_and_change_nothing(client, db, program, make):
    login(client, make(db))
    assert client.get("/admin/skills").status_code == 403
    assert client.post("/admin/skills", data={"name": "Golf"}).status_code == 403
    sid = skill(db, "Python").id
    assert client.post(f"/admin/skills/{sid}/alias", data={"alias": "py"}).status_code == 403
    assert client.post("/admin/skills/roles", data=role_form(AE, [("Python", "3")])).status_code == 403
    assert count_rows(db, Skill, SkillAlias, Competency) == {"Skill": 3, "SkillAlias": 0, "Competency": 0}


def test_the_page_lists_the_catalogue_and_is_in_the_admin_nav(client, db, admin):
    resp = client.get("/admin/skills")
    assert resp.status_code == 200
    page = html(resp)
    assert '<a href="/admin/skills" aria-current="page">Skills</a>' in page
    assert "Skill catalogue (3)" in text_of(resp)
    assert '<th scope="row">Negotiation</th>' in page
    sid = skill(db, "Python").id
    assert f'<label class="sr-only" for="category-{sid}">Category of Python</label>' in page
    assert (f'id="category-{sid}" name="category" maxlength="120" list="categories" value="Engineering"'
            in page)
    assert '<a href="/admin/skills">Skills</a>' in html(client.get("/admin/settings"))
    text = text_of(client.get("/admin/skills?q=engin"))
    assert "Python" in text and "Negotiation" not in text


# --- the catalogue ------------------------------------------------------------------------------


def test_adding_a_skill_with_a_category(client, db, admin):
    resp = client.post("/admin/skills", data={"name": "  Public   speaking ", "category": "Communication"})
    assert resp.status_code == 303
    added = skill(db, "public speaking")
    assert (added.name, added.category) == ("Public speaking", "Communication")
    assert "Added Public speaking to the catalogue." in text_of(client.get("/admin/skills"))


@pytest.mark.parametrize(("name", "category", "field", "status", "message"), [
    ("crm - salesforce", "", "new_name", 409, "'crm - salesforce' is already in the catalogue."),
    ("", "", "new_name", 422, "A skill name needs at least one letter or digit."),
    ("!!!", "", "new_name", 422, "A skill name needs at least one letter or digit."),
    ("x" * 121, "", "new_name", 422, "A skill name has at most 120 characters."),
    ("Golf", "c" * 121, "new_category", 422, "A category has at most 120 characters."),
])
def test_a_refused_new_skill_shows_the_error_by_its_field(client, db, admin, name, category, field, status,
                                                          message):
    resp = client.post("/admin/skills", data={"name": name, "category": category})
    assert resp.status_code == status
    page = html(resp)
    assert error_of(page, field) == message
    assert f'aria-describedby="{field}-error" aria-invalid="true"' in page
    assert f'value="{name}"' in page  # what was typed stays
    assert count_rows(db, Skill) == {"Skill": 3}


def test_changing_a_category_and_its_validation(client, db, admin):
    sid = skill(db, "Python").id
    assert client.post(f"/admin/skills/{sid}/category", data={"category": "Data"}).status_code == 303
    db.expire_all()
    assert skill(db, "Python").category == "Data"
    resp = client.post(f"/admin/skills/{sid}/category", data={"category": "d" * 121})
    assert resp.status_code == 422
    assert error_of(html(resp), f"category-{sid}") == "A category has at most 120 characters."
    db.expire_all()
    assert skill(db, "Python").category == "Data"
    assert client.post("/admin/skills/99999/category", data={"category": "x"}).status_code == 404


def test_an_alias_makes_another_spelling_find_the_skill(client, db, admin):
    sid = skill(db, "Salesforce CRM").id
    assert client.post(f"/admin/skills/{sid}/alias", data={"alias": "SFDC"}).status_code == 303
    assert skill(db, "sfdc").id == sid
    assert '<li class="tag">sfdc</li>' in html(client.get("/admin/skills"))


@pytest.mark.parametrize(("alias", "status", "message"), [
    ("negotiation", 409, "'negotiation' already means 'Negotiation'."),
    ("CRM salesforce", 409, "'CRM salesforce' already means this skill."),
    ("  ", 422, "A skill name needs at least one letter or digit."),
])
def test_a_refused_alias_shows_the_error_by_its_field(client, db, admin, alias, status, message):
    sid = skill(db, "Salesforce CRM").id
    resp = client.post(f"/admin/skills/{sid}/alias", data={"alias": alias})
    assert resp.status_code == status
    assert error_of(html(resp), f"alias-{sid}") == message
    assert count_rows(db, SkillAlias) == {"SkillAlias": 0}


# --- the competency model -----------------------------------------------------------------------


def test_adding_editing_renaming_and_removing_a_role(client, db, admin, program):
    data = role_form(AE, [("crm - salesforce", "4"), ("negotiation", "3")])  # any spelling
    resp = client.post("/admin/skills/roles", data=data)
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/admin/skills#model")
    assert model(db, program) == {AE: {"Salesforce CRM": 4, "Negotiation": 3}}
    page = html(client.get("/admin/skills"))
    assert "Saved the targets for Account Executive." in page
    assert 'id="r0-role" name="role" maxlength="200" value="Account Executive"' in page
    assert 'id="r0-0-skill" name="skill-0" list="skill-names"' in page

    # change a level, drop a row, add one
    data = role_form(AE, [("Salesforce CRM", "5"), ("", ""), ("Python", "2")], original=AE)
    assert client.post("/admin/skills/roles", data=data).status_code == 303
    assert model(db, program) == {AE: {"Salesforce CRM": 5, "Python": 2}}

    # a second role, then rename the first: one change, the other role untouched
    client.post("/admin/skills/roles", data=role_form("Engineer", [("Python", "4")]))
    data = role_form("Senior Account Executive", [("Salesforce CRM", "5"), ("Python", "2")], original=AE)
    assert client.post("/admin/skills/roles", data=data).status_code == 303
    assert model(db, program) == {"Engineer": {"Python": 4},
                                  "Senior Account Executive": {"Salesforce CRM": 5, "Python": 2}}

    resp = client.post("/admin/skills/roles/remove", data={"original": "Engineer"})
    assert resp.status_code == 303
    assert model(db, program) == {"Senior Account Executive": {"Salesforce CRM": 5, "Python": 2}}
    assert client.post("/admin/skills/roles/remove", data={"original": "Engineer"}).status_code == 404


def test_refused_role_rows_show_every_error_by_its_input_and_save_nothing(client, db, admin, program):
    competencies.replace_model(db, program, {AE: [{"name": "Python", "level": 2}]})
    before = model(db, program)
    data = role_form(AE, [
        ("Underwater basket weaving", "3"),  # not in the catalogue
        ("Negotiation", ""),                 # no target level
        ("Salesforce CRM", "9"),             # level out of range
        ("negotiation", "2"),                # the same skill twice
        ("", "4"),                           # a level without a skill
    ], original=AE)
    resp = client.post("/admin/skills/roles", data=data)
    assert resp.status_code == 422
    page = html(resp)
    assert "is not in the skill catalogue" in error_of(page, "r0-0-skill")
    assert error_of(page, "r0-1-level") == "A target level from 1 to 5 is required."
    assert error_of(page, "r0-2-level") == "A skill level is a whole number from 1 to 5."
    assert error_of(page, "r0-3-skill") == "Negotiation is already listed for this role."
    assert error_of(page, "r0-4-skill") == "Enter the skill, or clear its target level."
    assert 'value="Underwater basket weaving"' in page  # the posted rows are shown again
    assert model(db, program) == before
    assert count_rows(db, Skill) == {"Skill": 3}


@pytest.mark.parametrize(("role", "rows", "field", "message"), [
    ("   ", [("Python", "3")], "new-role", "A role needs a name: the job title people in it have."),
    ("account   EXECUTIVE", [("Python", "3")], "new-role",
     "There is already a role “account EXECUTIVE”; change that one instead."),
    ("Engineer", [], "new-0-skill", "Give the role at least one skill with a target level."),
    ("E" * 201, [("Python", "3")], "new-role", "A role has at most 200 characters."),
])
def test_a_refused_new_role_shows_the_error_by_its_field(client, db, admin, program, role, rows, field,
                                                         message):
    competencies.replace_model(db, program, {AE: [{"name": "Python", "level": 2}]})
    resp = client.post("/admin/skills/roles", data=role_form(role, rows))
    assert resp.status_code == 422
    assert error_of(html(resp), field) == message
    assert model(db, program) == {AE: {"Python": 2}}


def test_the_model_drives_peoples_gaps(client, db, admin, program):
    client.post("/admin/skills/roles", data=role_form(AE, [("Negotiation", "3")]))
    person = make_mentee(db, title="Account Executive")
    gaps = competencies.gaps_for(db, program, person)
    assert [(g.skill, g.target_level, g.gap) for g in gaps] == [("Negotiation", 3, 3)]
    assert db.scalar(select(Competency.role_key)) == "account executive"
