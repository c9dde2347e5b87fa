"""People, skills and the directory search (scheduling.services.people / skills)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling.errors import Conflict, Forbidden, UnknownTimeZone, ValidationFailed
from scheduling.models import Person, PersonSkill, Skill, SkillAlias
from scheduling.services.people import (
    count_people,
    create_person,
    public_profile,
    search_people,
    set_skills,
    update_person,
)
from scheduling.services.skills import find_skill, get_or_create_skill, skill_key
from tests.factories import count_rows, make_admin, make_mentee, make_mentor, make_person


def names(people: list[Person]) -> list[str]:
    return [p.name for p in people]


# ---------------------------------------------------------------- skill keys


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("CRM - Salesforce", "Salesforce CRM"),
        ("salesforce   crm", "Salesforce CRM"),
        ("Public-Speaking", "speaking, public"),
        ("ÉTUDE", "étude"),
    ],
)
def test_skill_key_ignores_case_punctuation_and_word_order(a: str, b: str) -> None:
    assert skill_key(a) == skill_key(b)


def test_skill_key_keeps_languages_apart() -> None:
    assert len({skill_key("C"), skill_key("C++"), skill_key("C#")}) == 3
    assert skill_key("Python") != skill_key("Python Django")


def test_get_or_create_skill_reuses_keys_and_aliases(db: Session) -> None:
    crm = get_or_create_skill(db, "Salesforce CRM")
    assert get_or_create_skill(db, "CRM - Salesforce") is crm
    crm.aliases.append(SkillAlias(key=skill_key("SFDC")))
    db.flush()
    assert get_or_create_skill(db, "sfdc") is crm
    assert find_skill(db, "S.F.D.C") is None  # "s f d c" is a different key
    db.commit()
    assert db.scalars(select(Skill.name)).all() == ["Salesforce CRM"]


@pytest.mark.parametrize("bad", ["", "   ", "---", 42, None, "x" * 121])
def test_skill_names_are_validated(db: Session, bad: object) -> None:
    with pytest.raises(ValidationFailed) as err:
        get_or_create_skill(db, bad)  # type: ignore[arg-type]
    assert err.value.field == "skill"


# ---------------------------------------------------------------- creating people


def test_create_person_normalises_and_stores(db: Session) -> None:
    person = create_person(
        db,
        name="  Ada Lovelace ",
        email="Ada.Lovelace@Example.COM",
        time_zone="Europe/London",
        roles=["mentor", "mentee"],
        department="Engineering",
        title="Staff Engineer",
        password="s3cret-pass",
    )
    db.expire_all()
    stored = db.get(Person, person.id)
    assert stored is not None
    assert stored.email == "ada.lovelace@example.com"
    assert stored.name == "Ada Lovelace"
    assert stored.roles == ["mentee", "mentor"]
    assert stored.password_hash and "s3cret-pass" not in stored.password_hash


@pytest.mark.parametrize(
    ("fields", "error", "field"),
    [
        ({"email": "not-an-email"}, ValidationFailed, "email"),
        ({"email": "a@b"}, ValidationFailed, "email"),
        ({"email": ""}, ValidationFailed, "email"),
        ({"time_zone": "Mars/Olympus"}, UnknownTimeZone, "time_zone"),
        ({"time_zone": "+02:00"}, UnknownTimeZone, "time_zone"),
        ({"roles": ["guru"]}, ValidationFailed, "roles"),
        ({"roles": []}, ValidationFailed, "roles"),
        ({"name": ""}, ValidationFailed, "name"),
        ({"name": "x" * 201}, ValidationFailed, "name"),
        ({"password": "short"}, ValidationFailed, "password"),
        ({"manager_id": 999999}, ValidationFailed, "manager_id"),
        ({"shoe_size": 44}, ValidationFailed, "shoe_size"),
        ({"name": "Bo\x00"}, ValidationFailed, "name"),  # PostgreSQL cannot store NUL
        ({"department": "\ud800"}, ValidationFailed, "department"),  # nor a lone surrogate
    ],
)
def test_create_person_refuses_bad_fields(db: Session, fields: dict, error: type, field: str) -> None:
    base = {"name": "Bo", "email": "bo@example.com", "time_zone": "UTC", "roles": ["mentee"]}
    with pytest.raises(error) as err:
        create_person(db, {**base, **fields})
    assert err.value.field == field
    assert count_rows(db, Person) == {"Person": 0}


def test_email_is_unique_whatever_the_case(db: Session) -> None:
    make_person(db, email="sam@example.com")
    with pytest.raises(Conflict) as err:
        create_person(db, name="Other Sam", email="SAM@example.com", time_zone="UTC")
    assert err.value.field == "email"
    assert count_rows(db, Person) == {"Person": 1}


# ---------------------------------------------------------------- editing people


def test_person_edits_own_profile_fields(db: Session) -> None:
    me = make_mentee(db, time_zone="UTC")
    update_person(
        db, me, {"title": "Analyst", "time_zone": "Asia/Kolkata", "monthly_meeting_cap": 3}, actor=me
    )
    db.expire_all()
    assert (me.title, me.time_zone, me.monthly_meeting_cap) == ("Analyst", "Asia/Kolkata", 3)


@pytest.mark.parametrize("field", ["email", "roles", "active", "manager_id", "password"])
def test_only_admins_change_admin_fields(db: Session, field: str) -> None:
    me = make_mentee(db)
    values = {
        "email": "x@example.com",
        "roles": ["admin"],
        "active": False,
        "manager_id": None,
        "password": "long-enough-pw",
    }
    with pytest.raises(Forbidden) as err:
        update_person(db, me, {field: values[field]}, actor=me)
    assert err.value.field == field
    db.expire_all()
    assert me.roles == ["mentee"] and me.active


def test_nobody_edits_someone_else_but_admins_do(db: Session) -> None:
    me, other, admin = make_mentee(db), make_mentee(db, title="Before"), make_admin(db)
    with pytest.raises(Forbidden):
        update_person(db, other, {"title": "Hacked"}, actor=me)
    update_person(db, other, {"title": "After", "roles": ["mentor"], "email": "NEW@example.com"}, actor=admin)
    db.expire_all()
    assert (other.title, other.roles, other.email) == ("After", ["mentor"], "new@example.com")


def test_a_refused_edit_changes_nothing(db: Session) -> None:
    me = make_mentee(db, title="Analyst", department="Finance")
    with pytest.raises(UnknownTimeZone):
        update_person(
            db, me, {"title": "Manager", "department": "Sales", "time_zone": "Nowhere/City"}, actor=me
        )
    db.expire_all()
    assert (me.title, me.department, me.time_zone) == ("Analyst", "Finance", "UTC")


def test_email_change_must_stay_unique(db: Session) -> None:
    admin = make_admin(db)
    a, _b = make_mentee(db, email="a@example.com"), make_mentee(db, email="b@example.com")
    with pytest.raises(Conflict) as err:
        update_person(db, a, {"email": "B@example.com"}, actor=admin)
    assert err.value.field == "email"
    update_person(db, a, {"email": "A@EXAMPLE.com"}, actor=admin)  # own address, new case: fine


def test_last_admin_cannot_step_down(db: Session) -> None:
    admin = make_admin(db)
    with pytest.raises(Conflict):
        update_person(db, admin, {"roles": ["mentor"]}, actor=admin)
    with pytest.raises(Conflict):
        update_person(db, admin, {"active": False}, actor=admin)
    other = make_admin(db)
    update_person(db, admin, {"roles": ["mentor"]}, actor=other)
    db.expire_all()
    assert admin.roles == ["mentor"]


def test_manager_chain_cannot_loop(db: Session) -> None:
    admin = make_admin(db)
    boss, lead, dev = make_mentor(db), make_mentor(db), make_mentee(db)
    update_person(db, lead, {"manager_id": boss.id}, actor=admin)
    update_person(db, dev, {"manager_id": lead.id}, actor=admin)
    with pytest.raises(ValidationFailed) as err:
        update_person(db, boss, {"manager_id": dev.id}, actor=admin)
    assert err.value.field == "manager_id"
    with pytest.raises(ValidationFailed):
        update_person(db, boss, {"manager_id": boss.id}, actor=admin)


# ---------------------------------------------------------------- skills of a person


def test_set_skills_replaces_lists_with_levels(db: Session) -> None:
    mentor = make_mentor(db)
    set_skills(db, mentor, {"offers": [{"name": "Python", "level": 5}, "SQL"], "wants": ["Negotiation"]})
    set_skills(db, mentor, {"offers": [{"name": "python", "level": 4}, "Kubernetes"]})
    db.expire_all()
    profile = public_profile(mentor)
    assert profile["offers"] == [{"name": "Kubernetes", "level": None}, {"name": "Python", "level": 4}]
    assert profile["wants"] == [{"name": "Negotiation", "level": None}]


@pytest.mark.parametrize(
    ("lists", "field"),
    [
        ({"offers": [{"name": "Python", "level": 6}]}, "offers[0].level"),
        ({"offers": [{"name": "Python", "level": 0}]}, "offers[0].level"),
        ({"offers": [{"name": "Python", "level": "5"}]}, "offers[0].level"),
        ({"offers": ["Salesforce CRM", "CRM - Salesforce"]}, "offers[1]"),
        ({"offers": "Python"}, "offers"),
        ({"offers": [""]}, "offers[0]"),
        ({"knows": ["Python"]}, "knows"),
    ],
)
def test_set_skills_refuses_bad_lists(db: Session, lists: dict, field: str) -> None:
    mentor = make_mentor(db)
    set_skills(db, mentor, {"offers": ["Go"]})
    with pytest.raises(ValidationFailed) as err:
        set_skills(db, mentor, lists)
    assert err.value.field == field
    db.expire_all()
    assert mentor.skill_names() == ["Go"]


def test_only_mentors_offer_skills(db: Session) -> None:
    mentee = make_mentee(db)
    with pytest.raises(Forbidden):
        set_skills(db, mentee, {"offers": ["Python"]})
    set_skills(db, mentee, {"wants": ["Python"], "has": [{"name": "Python", "level": 1}]})
    assert count_rows(db, PersonSkill) == {"PersonSkill": 2}


# ---------------------------------------------------------------- directory


@pytest.fixture
def directory(db: Session) -> dict[str, Person]:
    people = {
        "ada": make_mentor(
            db,
            name="Ada Lovelace",
            department="Engineering",
            title="Staff Engineer",
            time_zone="Europe/London",
        ),
        "grace": make_mentor(
            db,
            name="Grace Hopper",
            department="engineering",
            title="Engineering Manager",
            time_zone="America/New_York",
        ),
        "sam": make_mentor(
            db, name="Sam Seller", department="Sales", title="Account Executive", time_zone="Australia/Sydney"
        ),
        "mo": make_mentee(db, name="Mo Mentee", department="Sales", title="Sales Engineer"),
        "gone": make_mentor(db, name="Gone Mentor", department="Sales", active=False),
    }
    set_skills(db, people["ada"], {"offers": [{"name": "Python", "level": 5}, "System Design"]})
    set_skills(db, people["grace"], {"offers": ["COBOL", "Python"]})
    set_skills(db, people["sam"], {"offers": [{"name": "CRM - Salesforce", "level": 4}]})
    set_skills(db, people["mo"], {"wants": ["Salesforce CRM"]})
    set_skills(db, people["gone"], {"offers": ["Salesforce CRM"]})
    return people


def test_search_lists_active_mentors_by_name(db: Session, directory: dict[str, Person]) -> None:
    assert names(search_people(db)) == ["Ada Lovelace", "Grace Hopper", "Sam Seller"]
    assert count_people(db) == 3


def test_search_by_skill_any_spelling_or_alias(db: Session, directory: dict[str, Person]) -> None:
    assert names(search_people(db, skill="salesforce crm")) == ["Sam Seller"]
    assert names(search_people(db, skill="CRM-Salesforce")) == ["Sam Seller"]
    crm = find_skill(db, "Salesforce CRM")
    assert crm is not None
    crm.aliases.append(SkillAlias(key=skill_key("SFDC")))
    db.commit()
    assert names(search_people(db, skill="sfdc")) == ["Sam Seller"]
    assert search_people(db, skill="Underwater Basketry") == []
    assert count_people(db, skill="Underwater Basketry") == 0


def test_mentor_search_by_skill_counts_offered_skills_only(db: Session, directory: dict[str, Person]) -> None:
    # Mo wants Salesforce CRM (and is no mentor); among everyone, skill matches any relation.
    assert names(search_people(db, skill="Salesforce CRM", role=None)) == ["Mo Mentee", "Sam Seller"]
    assert names(search_people(db, skill="Salesforce CRM", role="mentee")) == ["Mo Mentee"]


def test_search_free_text_over_name_title_department_and_skills(
    db: Session, directory: dict[str, Person]
) -> None:
    assert names(search_people(db, q="hopper")) == ["Grace Hopper"]
    assert names(search_people(db, q="ENGINEER")) == ["Ada Lovelace", "Grace Hopper"]
    assert names(search_people(db, q="cobol")) == ["Grace Hopper"]
    assert names(search_people(db, q="python design")) == ["Ada Lovelace"]  # every word must match
    assert names(search_people(db, q="sales")) == ["Sam Seller"]  # department, and "Salesforce"
    assert search_people(db, q="100%") == []  # LIKE wildcards are literal


def test_search_filters_combine(db: Session, directory: dict[str, Person]) -> None:
    assert names(search_people(db, department="ENGINEERING")) == ["Ada Lovelace", "Grace Hopper"]
    assert names(search_people(db, title="manager")) == ["Grace Hopper"]
    assert names(search_people(db, time_zone="Australia/Sydney")) == ["Sam Seller"]
    assert names(search_people(db, department="Engineering", skill="Python", time_zone="Europe/London")) == [
        "Ada Lovelace"
    ]
    assert names(search_people(db, role="mentee")) == ["Mo Mentee"]
    assert names(search_people(db, role="any")) == ["Ada Lovelace", "Grace Hopper", "Mo Mentee", "Sam Seller"]


def test_search_pages(db: Session, directory: dict[str, Person]) -> None:
    assert names(search_people(db, limit=2)) == ["Ada Lovelace", "Grace Hopper"]
    assert names(search_people(db, limit=2, offset=2)) == ["Sam Seller"]
    assert count_people(db) == 3


def test_search_refuses_unknown_role(db: Session) -> None:
    with pytest.raises(ValidationFailed) as err:
        search_people(db, role="wizard")
    assert err.value.field == "role"


@pytest.mark.parametrize("field", ["q", "skill", "department", "title", "time_zone"])
def test_search_refuses_unstorable_text(db: Session, field: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        search_people(db, **{field: "a\x00b"})
    assert err.value.field == field


def test_public_profile_has_no_secrets(db: Session) -> None:
    person = make_mentor(db)
    profile = public_profile(person)
    assert "password_hash" not in profile
    assert person.password_hash and person.password_hash not in str(profile)
