"""My profile and my team through the Flask test client: saving a profile, bad input shown next to its
field with nothing saved, competency gaps, and a manager confirming a re-assessed level."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from sqlalchemy.orm import Session

from scheduling.errors import Forbidden, ValidationFailed
from scheduling.models import Person, PersonSkill, Program, ReassessmentState, Skill, SkillRelation
from scheduling.services import competencies, followups
from scheduling.services.people import set_skills, update_profile
from tests.factories import count_rows, login, make_admin, make_mentee, make_mentor, make_program

AE = "Account Executive"


def html(resp: Any) -> str:
    return resp.get_data(as_text=True)


def text_of(resp: Any) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html(resp))).split())


def error_of(page: str, field: str) -> str:
    """The error text tied to ``field`` (the element with id ``<field>-error``)."""
    found = re.search(rf'id="{re.escape(field)}-error"[^>]*>([^<]*)<', page)
    assert found, f"no error shown for {field}"
    return unescape(found.group(1))


def skills_of(db: Session, person: Person) -> dict[str, dict[str, int | None]]:
    """``{"wants": {name: level}, ...}`` as stored, read fresh."""
    db.expire_all()
    out: dict[str, dict[str, int | None]] = {r.value: {} for r in SkillRelation}
    for ps in db.get(Person, person.id).skills:  # type: ignore[union-attr]
        out[ps.relation.value][ps.skill.name] = ps.level
    return out


def gap_rows(resp: Any) -> list[tuple[str, ...]]:
    """(skill, target, level, gap) of every row of the first gaps table, as shown."""
    table = re.search(r'<table class="gaps">(.*?)</table>', html(resp), re.S)
    assert table, "no gaps table"
    rows = re.findall(r"<tr><th scope=\"row\">(.*?)</tr>", table.group(1), re.S)
    return [tuple(" ".join(unescape(re.sub(r"<[^>]+>", " ", cell)).split())
                  for cell in re.split(r"</th>|</td>", row) if cell.strip()) for row in rows]


@pytest.fixture
def program(db: Session) -> Program:
    program = make_program(db)
    for name, category in (("Salesforce CRM", "Sales"), ("Negotiation", "Sales"), ("Python", "Engineering")):
        competencies.add_skill(db, name, category=category)
    competencies.add_alias(db, competencies.known_skill(db, "Salesforce CRM"), "sfdc")
    return program


def with_model(db: Session, program: Program) -> None:
    competencies.replace_model(db, program, {AE: [
        {"name": "Salesforce CRM", "level": 4}, {"name": "Negotiation", "level": 3},
        {"name": "Python", "level": 2},
    ]})


def form(**overrides: str) -> dict[str, str]:
    values = {"department": "Sales", "title": AE, "time_zone": "Europe/Paris",
              "wants-0-skill": "", "wants-0-level": "", "offers-0-skill": "", "offers-0-level": ""}
    values.update(overrides)
    return values


# --- the profile ---------------------------------------------------------------------------------


def test_profile_is_linked_in_the_nav_and_shows_my_fields(client, db, program):
    me = make_mentee(db, department="Finance", title="Analyst", time_zone="America/New_York")
    set_skills(db, me, {"wants": ["Negotiation"], "has": [{"name": "Negotiation", "level": 2}]})
    login(client, me)
    page = html(client.get("/home"))
    assert '<a href="/profile">Profile</a>' in page and 'href="/team"' not in page
    resp = client.get("/profile")
    assert resp.status_code == 200
    page = html(resp)
    assert 'id="department" name="department" type="text" value="Finance"' in page
    assert 'value="America/New_York"' in page and '<option value="Europe/London">' in page
    assert 'id="wants-0-skill" name="wants-0-skill" type="text" list="skill-names"' in page
    assert 'value="Negotiation"' in page
    assert re.search(r'id="wants-0-level".*?<option value="2" selected>', page, re.S)
    assert '<option value="sfdc">' not in page and '<option value="Salesforce CRM">' in page
    assert "Skills I offer" not in page  # only mentors offer skills


def test_saving_the_profile_changes_it_and_skill_names_go_through_the_catalogue(client, db, program):
    me = make_mentor(db, is_mentee=True, department="Old", title="Old title")
    set_skills(db, me, {"wants": [{"name": "Python", "level": 4}], "has": [{"name": "Python", "level": 1}]})
    login(client, me)
    resp = client.post("/profile", data=form(**{
        "wants-0-skill": "SFDC", "wants-0-level": "2",           # an alias
        "wants-1-skill": "negotiation", "wants-1-level": "",     # another spelling, not assessed
        "wants-2-skill": "", "wants-2-level": "",                # an empty row is skipped
        "offers-0-skill": "python", "offers-0-level": "4",
    }))
    assert resp.status_code == 302 and resp.headers["Location"] == "/profile"
    db.expire_all()
    person = db.get(Person, me.id)
    assert (person.department, person.title, person.time_zone) == ("Sales", AE, "Europe/Paris")
    assert skills_of(db, me) == {
        "wants": {"Salesforce CRM": None, "Negotiation": None},
        "has": {"Salesforce CRM": 2, "Python": 1},  # Python no longer wanted: its level stays
        "offers": {"Python": 4},
    }
    page = html(client.get("/profile"))
    assert "Profile saved." in page
    assert 'value="Salesforce CRM"' in page and 'value="Europe/Paris"' in page


def test_a_kept_wanted_skill_keeps_the_level_i_want_to_reach(client, db, program):
    me = make_mentee(db)
    set_skills(db, me, {"wants": [{"name": "Python", "level": 4}]})
    login(client, me)
    client.post("/profile", data=form(**{"wants-0-skill": "Python", "wants-0-level": "3"}))
    assert skills_of(db, me)["wants"] == {"Python": 4}
    assert skills_of(db, me)["has"] == {"Python": 3}
    client.post("/profile", data=form(**{"wants-0-skill": "Python", "wants-0-level": ""}))
    assert skills_of(db, me)["has"] == {}  # an empty "my level now" clears the self-assessment


def test_a_bad_time_zone_is_shown_next_to_the_field_and_nothing_is_saved(client, db, program):
    me = make_mentee(db, department="Finance", time_zone="UTC")
    login(client, me)
    before = count_rows(db, PersonSkill)
    resp = client.post("/profile", data=form(**{"time_zone": "Mars/Olympus_Mons", "department": "Sales",
                                                "wants-0-skill": "Python", "wants-0-level": "3"}))
    assert resp.status_code == 422
    page = html(resp)
    assert "Unknown time zone 'Mars/Olympus_Mons'" in error_of(page, "time_zone")
    assert 'aria-describedby="time_zone-help time_zone-error" aria-invalid="true"' in page
    assert 'value="Mars/Olympus_Mons"' in page and 'value="Python"' in page  # what was typed stays
    assert "Nothing was saved" in page
    db.expire_all()
    assert (db.get(Person, me.id).department, db.get(Person, me.id).time_zone) == ("Finance", "UTC")
    assert count_rows(db, PersonSkill) == before


@pytest.mark.parametrize("level", ["7", "0", "two", "-1"])
def test_a_bad_level_is_shown_next_to_its_row_and_nothing_is_saved(client, db, program, level):
    me = make_mentor(db, is_mentee=True, department="Finance")
    set_skills(db, me, {"offers": [{"name": "Python", "level": 5}]})
    login(client, me)
    resp = client.post("/profile", data=form(**{"wants-0-skill": "Negotiation", "wants-0-level": "2",
                                                "offers-0-skill": "Python", "offers-0-level": level}))
    assert resp.status_code == 422
    assert error_of(html(resp), "offers-0-level") == "A skill level is a whole number from 1 to 5."
    assert db.get(Person, me.id).department == "Finance"
    assert skills_of(db, me) == {"wants": {}, "has": {}, "offers": {"Python": 5}}


def test_unknown_and_repeated_skills_are_refused_next_to_their_rows_all_at_once(client, db, program):
    me = make_mentee(db, department="Finance")
    set_skills(db, me, {"wants": ["Python"]})
    login(client, me)
    resp = client.post("/profile", data=form(**{
        "department": "Sales",
        "wants-0-skill": "Underwater basket weaving", "wants-0-level": "2",
        "wants-1-skill": "Salesforce CRM", "wants-1-level": "",
        "wants-2-skill": "crm salesforce", "wants-2-level": "",   # the same catalogue skill again
        "wants-3-skill": "", "wants-3-level": "3",               # a level without a skill
        "wants-4-skill": "Python", "wants-4-level": "9",
    }))
    assert resp.status_code == 422
    page = html(resp)
    assert "'Underwater basket weaving' is not in the skill catalogue" in error_of(page, "wants-0-skill")
    assert error_of(page, "wants-2-skill") == "Salesforce CRM is already in this list."
    assert error_of(page, "wants-3-skill") == "Enter the skill, or clear its level."
    assert error_of(page, "wants-4-level") == "A skill level is a whole number from 1 to 5."
    assert 'id="wants-1-skill-error"' not in page
    assert "fix the 4 problems" in page
    assert db.get(Person, me.id).department == "Finance"
    assert skills_of(db, me)["wants"] == {"Python": None}
    assert count_rows(db, Skill) == {"Skill": 3}  # nothing was added to the catalogue


def test_a_mentee_cannot_offer_skills_from_the_form(client, db, program):
    me = make_mentee(db)
    login(client, me)
    resp = client.post("/profile", data=form(**{"offers-0-skill": "Python", "offers-0-level": "5"}))
    assert resp.status_code == 302
    assert skills_of(db, me)["offers"] == {}


def test_fields_and_lists_the_form_did_not_post_are_left_alone(client, db, program):
    me = make_mentor(db, is_mentee=True, title="Analyst", time_zone="Asia/Tokyo")
    set_skills(db, me, {"wants": ["Negotiation"], "offers": [{"name": "Python", "level": 3}]})
    login(client, me)
    assert client.post("/profile", data={"department": "Sales"}).status_code == 302
    db.expire_all()
    person = db.get(Person, me.id)
    assert (person.department, person.title, person.time_zone) == ("Sales", "Analyst", "Asia/Tokyo")
    assert skills_of(db, me)["wants"] == {"Negotiation": None}
    assert skills_of(db, me)["offers"] == {"Python": 3}


# --- gaps ----------------------------------------------------------------------------------------


def test_gaps_are_target_minus_my_level_biggest_first(client, db, program):
    with_model(db, program)
    me = make_mentee(db, title="account  EXECUTIVE")  # the role is the title, case and spacing ignored
    set_skills(db, me, {"has": [{"name": "Negotiation", "level": 3}]})
    login(client, me)
    client.post("/profile", data=form(**{"title": "account  EXECUTIVE",
                                         "wants-0-skill": "sfdc", "wants-0-level": "1"}))
    resp = client.get("/profile")
    assert "My competency gaps" in html(resp)
    assert gap_rows(resp) == [
        ("Salesforce CRM", "4", "1", "3 levels to go"),
        ("Python", "2", "not assessed", "2 levels to go"),
        ("Negotiation", "3", "3", "on target"),
    ]
    # raising my own level closes the gap
    client.post("/profile", data=form(**{"title": AE, "wants-0-skill": "Salesforce CRM",
                                         "wants-0-level": "3"}))
    assert gap_rows(client.get("/profile"))[0] == ("Python", "2", "not assessed", "2 levels to go")
    assert ("Salesforce CRM", "4", "3", "1 level to go") in gap_rows(client.get("/profile"))


def test_gaps_section_depends_on_the_model_and_my_title(client, db, program):
    me = make_mentee(db, title="")
    login(client, me)
    assert "My competency gaps" not in html(client.get("/profile"))  # no model yet
    with_model(db, program)
    assert "Set your job title to see the targets for your role." in text_of(client.get("/profile"))
    client.post("/profile", data=form(title="Engineer"))
    assert "The program has no competency targets for “Engineer”." in text_of(client.get("/profile"))


# --- the manager's team --------------------------------------------------------------------------


@pytest.fixture
def team(db: Session, program: Program) -> dict[str, Person]:
    with_model(db, program)
    boss = make_mentor(db, name="Bo Boss", title="Sales Director")
    ada = make_mentee(db, name="Ada Report", title=AE, manager_id=boss.id)
    ben = make_mentee(db, name="Ben Report", title="Engineer", manager_id=boss.id)
    cy = make_mentee(db, name="Cy Colleague", title=AE)
    set_skills(db, ada, {"wants": ["Negotiation"], "has": [{"name": "Salesforce CRM", "level": 2},
                                                           {"name": "Negotiation", "level": 1}]})
    return {"boss": boss, "ada": ada, "ben": ben, "cy": cy}


def test_a_manager_sees_reports_with_their_gaps(client, db, team):
    login(client, team["boss"])
    page = html(client.get("/home" if team["boss"].is_mentee else "/requests"))
    assert '<a href="/team">Team</a>' in page
    resp = client.get("/team")
    assert resp.status_code == 200
    text = text_of(resp)
    assert "Ada Report" in text and "Ben Report" in text and "Cy Colleague" not in text
    assert gap_rows(resp) == [
        ("Negotiation", "3", "1", "2 levels to go"),
        ("Python", "2", "not assessed", "2 levels to go"),
        ("Salesforce CRM", "4", "2", "2 levels to go"),
    ]
    assert "No competency targets for “Engineer”." in text
    assert "Nothing to confirm." in text
    resp = client.get(f"/team/{team['ada'].id}")
    assert resp.status_code == 200 and "Competency gaps: Ada Report" in text_of(resp)


def test_a_manager_confirms_a_reassessment_and_the_level_and_gap_change(client, db, team):
    ada = team["ada"]
    row = followups.reassess(db, ada, "sfdc", 4)
    other = followups.reassess(db, ada, "Negotiation", 3)
    login(client, team["boss"])
    text = text_of(client.get("/team"))
    assert "Ada Report : Salesforce CRM Level now 2 New level 4 Role target 4" in text
    resp = client.post(f"/team/reassessments/{row.id}/confirm", data={"next": f"/team/{ada.id}"})
    assert resp.status_code == 302 and resp.headers["Location"] == f"/team/{ada.id}"
    assert skills_of(db, ada)["has"]["Salesforce CRM"] == 4
    page = client.get(f"/team/{ada.id}")
    assert "Confirmed: Ada Report's level in Salesforce CRM is now 4." in text_of(page)
    assert ("Salesforce CRM", "4", "4", "on target") in gap_rows(page)

    resp = client.post(f"/team/reassessments/{other.id}/reject")
    assert resp.status_code == 302 and resp.headers["Location"] == "/team"
    db.expire_all()
    assert skills_of(db, ada)["has"]["Negotiation"] == 1
    assert db.get(type(other), other.id).state == ReassessmentState.REJECTED

    # answering twice is refused and changes nothing
    resp = client.post(f"/team/reassessments/{other.id}/confirm")
    assert resp.status_code == 409
    assert "already rejected" in text_of(resp)
    assert skills_of(db, ada)["has"]["Negotiation"] == 1


def test_a_non_manager_is_refused_gaps_and_confirming(client, db, team):
    ada, cy = team["ada"], team["cy"]
    row = followups.reassess(db, ada, "Salesforce CRM", 5)
    login(client, cy)
    assert 'href="/team"' not in html(client.get("/profile"))
    assert client.get("/team").status_code == 403
    resp = client.get(f"/team/{ada.id}")
    assert resp.status_code == 403
    assert "Only the person, their manager and admins see competency gaps." in text_of(resp)
    assert client.post(f"/team/reassessments/{row.id}/confirm").status_code == 404
    # nor may a person confirm their own new level
    login(client, ada)
    assert client.get(f"/team/{ada.id}").status_code == 200  # their own gaps
    assert client.post(f"/team/reassessments/{row.id}/confirm").status_code == 403
    db.expire_all()
    assert db.get(type(row), row.id).state == ReassessmentState.PENDING
    assert skills_of(db, ada)["has"]["Salesforce CRM"] == 2
    assert "Waiting for your manager" in text_of(client.get("/profile"))


def test_an_admin_may_confirm_anyones_reassessment(client, db, team):
    cy = team["cy"]
    row = followups.reassess(db, cy, "Python", 2)
    login(client, make_admin(db))
    assert client.get(f"/team/{cy.id}").status_code == 200
    assert "Cy Colleague" in text_of(client.get("/team"))
    assert client.post(f"/team/reassessments/{row.id}/confirm").status_code == 302
    assert skills_of(db, cy)["has"] == {"Python": 2}


# --- the service behind the page -----------------------------------------------------------------


def test_update_profile_saves_all_or_nothing_and_only_for_oneself(db, program):
    me = make_mentee(db, department="Finance")
    with pytest.raises(ValidationFailed) as refused:
        update_profile(db, me, {"department": "Sales"}, {"wants": [{"name": "Nope", "level": 2}]}, actor=me)
    assert refused.value.field == "wants[0].name"
    with pytest.raises(ValidationFailed):
        update_profile(db, me, {"email": "new@example.com"}, {}, actor=me)  # not a profile field
    with pytest.raises(Forbidden):
        update_profile(db, me, {}, {"offers": ["Python"]}, actor=me)  # only mentors offer
    with pytest.raises(Forbidden):
        update_profile(db, me, {"title": "Boss"}, {}, actor=make_mentee(db))
    db.expire_all()
    assert (db.get(Person, me.id).department, db.get(Person, me.id).title) == ("Finance", "")
    assert skills_of(db, me) == {"wants": {}, "has": {}, "offers": {}}
    update_profile(db, me, {"title": "Analyst"}, {"wants": ["sfdc"]}, actor=make_admin(db))
    assert db.get(Person, me.id).title == "Analyst"
    assert skills_of(db, me)["wants"] == {"Salesforce CRM": None}
