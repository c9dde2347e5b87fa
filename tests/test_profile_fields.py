"""Admin-defined profile fields and directory filters (seed 003, issue 17): an admin adds fields,
people answer them on their profile, mentees filter the directory by them; bad input changes nothing."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from sqlalchemy.orm import Session

from scheduling.errors import DomainError
from scheduling.models import ProfileAnswer, ProfileField, Program
from scheduling.services import profile_fields as svc
from tests.factories import count_rows, login, make_admin, make_mentee, make_mentor, make_program


def words(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


@pytest.fixture
def program(db: Session) -> Program:
    return make_program(db)


def language_field(db: Session, program: Program) -> ProfileField:
    return svc.add_field(db, make_admin(db), program, label="Language", choices="English\nGerman\nHindi\n",
                         filterable=True)


@pytest.mark.parametrize(("kw", "field", "message"), [
    ({"label": "", "choices": "A"}, "label", "required"),
    ({"label": "Location", "choices": "", "filterable": True}, "filterable", "needs answers"),
    ({"label": "Location", "choices": "Berlin\nberlin"}, "choices", "listed twice"),
    ({"label": "language", "choices": "French"}, "label", "already a field"),
])
def test_bad_fields_are_refused_and_nothing_is_stored(db: Session, program: Program, kw: dict[str, Any],
                                                      field: str, message: str) -> None:
    language_field(db, program)
    before = count_rows(db, ProfileField)
    with pytest.raises(DomainError) as refused:
        svc.add_field(db, make_admin(db), program, **kw)
    assert refused.value.field == field and message in refused.value.message
    db.rollback()
    assert count_rows(db, ProfileField) == before


def test_only_admins_define_fields(db: Session, program: Program) -> None:
    with pytest.raises(DomainError) as refused:
        svc.add_field(db, make_mentor(db), program, label="Location")
    assert refused.value.code == "forbidden"


def test_the_admin_page_adds_and_removes_fields(client: Any, db: Session, program: Program) -> None:
    login(client, make_admin(db))
    resp = client.post("/admin/profile-fields", data={"label": "Location", "choices": "Berlin\nPune",
                                                       "filterable": "1"})
    assert resp.status_code in (302, 303)
    resp = client.post("/admin/profile-fields", data={"label": "Gender", "choices": "", "filterable": "1"})
    assert resp.status_code == 422 and "needs answers to pick from" in words(resp.get_data(as_text=True))
    page = words(client.get("/admin/profile-fields").get_data(as_text=True))
    assert "Location Berlin, Pune Yes" in page and "Gender" not in page.split("Add a field")[0]
    [field] = svc.fields(db, program)
    mentor = make_mentor(db)
    svc.store_answers(db, mentor, {field.id: "Pune"})
    assert client.post(f"/admin/profile-fields/{field.id}/remove").status_code in (302, 303)
    assert count_rows(db, ProfileField, ProfileAnswer) == {"ProfileField": 0, "ProfileAnswer": 0}


def test_people_answer_on_their_profile_and_a_bad_answer_changes_nothing(
    client: Any, db: Session, program: Program
) -> None:
    language = language_field(db, program)
    motto = svc.add_field(db, make_admin(db), program, label="Motto")
    mentor = make_mentor(db)
    login(client, mentor)
    page = client.get("/profile").get_data(as_text=True)
    assert f'id="field-{language.id}"' in page and f'id="field-{motto.id}"' in page
    resp = client.post("/profile", data={f"field-{language.id}": "Klingon", f"field-{motto.id}": "Ask"})
    assert resp.status_code == 422 and "Language: choose one of the answers offered." in words(
        resp.get_data(as_text=True))
    assert svc.answers(db, mentor) == {}
    resp = client.post("/profile", data={f"field-{language.id}": "German", f"field-{motto.id}": "Ask"})
    assert resp.status_code in (302, 303)
    db.expire_all()
    assert svc.answers(db, mentor) == {language.id: "German", motto.id: "Ask"}
    client.post("/profile", data={f"field-{motto.id}": ""})  # cleared; the language stays
    db.expire_all()
    assert svc.answers(db, mentor) == {language.id: "German"}


def test_mentees_filter_the_directory_by_a_field_and_see_the_answer(
    client: Any, db: Session, program: Program
) -> None:
    language = language_field(db, program)
    hindi = make_mentor(db, name="Hari Hindi")
    german = make_mentor(db, name="Greta German")
    make_mentor(db, name="Nobody Answered")
    svc.store_answers(db, hindi, {language.id: "Hindi"})
    svc.store_answers(db, german, {language.id: "German"})
    login(client, make_mentee(db))

    everyone = words(client.get("/mentors").get_data(as_text=True))
    assert "3 mentors found." in everyone and "Language: Hindi" in everyone
    found = client.get(f"/mentors?field-{language.id}=German")
    text = words(found.get_data(as_text=True))
    assert found.status_code == 200 and "1 mentor found." in text
    assert "Greta German" in text and "Hari Hindi" not in text and "Language: German" in text
    refused = client.get(f"/mentors?field-{language.id}=Klingon")
    assert refused.status_code == 422 and "Language: choose one of the answers offered." in words(
        refused.get_data(as_text=True))


def test_the_demo_has_a_language_filter_that_narrows_its_directory(client: Any, db: Session) -> None:
    from sqlalchemy import select

    from scheduling import demo
    from scheduling.models import Person

    demo.load_demo(db)
    [language] = svc.filters(db, db.scalars(select(Program)).one())
    germans = {p.name for p in db.scalars(select(Person).where(
        Person.is_mentor, Person.active, Person.time_zone == "Europe/Berlin"))}
    mentee = db.scalars(select(Person).where(Person.email == demo.LOGINS["mentee"])).one()
    login(client, mentee)
    text = words(client.get(f"/mentors?field-{language.id}=German").get_data(as_text=True))
    assert germans and all(name in text for name in germans - {mentee.name})
    assert "Language: German" in text and "Language: Hindi" not in text
