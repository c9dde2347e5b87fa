"""Importing people from CSV: all rows or none, every problem named by row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling.errors import ImportFailed
from scheduling.models import Person, PersonSkill, Skill, SkillRelation
from scheduling.services.people_import import import_people
from tests.factories import count_rows, make_person

HEADER = "name,email,department,title,skills,time_zone,roles\n"
GOOD = HEADER + (
    'Ada Lovelace,ADA@example.com,Engineering,Staff Engineer,"Python:5; System Design",Europe/London,mentor\n'
    "Mo Mentee,mo@example.com,Sales,Account Executive,Salesforce CRM,America/New_York,\n"
    'Kim Both,kim@example.com,Finance,Controller,"CRM - Salesforce:4",Asia/Kolkata,"mentor;mentee"\n'
)


def test_good_file_creates_everyone_with_skills_and_roles(db: Session) -> None:
    result = import_people(db, GOOD)
    assert result.count == 3
    db.expire_all()
    people = {p.email: p for p in db.scalars(select(Person))}
    assert set(people) == {"ada@example.com", "mo@example.com", "kim@example.com"}
    ada, mo, kim = people["ada@example.com"], people["mo@example.com"], people["kim@example.com"]
    assert (ada.roles, ada.time_zone, ada.title) == (["mentor"], "Europe/London", "Staff Engineer")
    assert {(ps.skill.name, ps.level) for ps in ada.skills if ps.relation == SkillRelation.OFFERS} == {
        ("Python", 5),
        ("System Design", None),
    }
    assert mo.roles == ["mentee"]
    assert mo.skill_names(SkillRelation.WANTS) == ["Salesforce CRM"]  # mentees want their skills
    assert kim.roles == ["mentee", "mentor"]
    assert kim.skill_names(SkillRelation.OFFERS) == ["Salesforce CRM"]  # same catalogue skill as Mo's
    assert count_rows(db, Skill) == {"Skill": 3}
    assert ada.password_hash is None


def test_bom_and_column_order_and_case_do_not_matter(db: Session) -> None:
    data = ("\ufeffEmail,Name,Time_Zone,Roles\na@example.com,A Person,UTC,mentee\n").encode()
    assert import_people(db, data).count == 1


def test_every_bad_row_is_reported_and_nothing_is_created(db: Session) -> None:
    data = HEADER + (
        "Ok Person,ok@example.com,Eng,Dev,Python,UTC,mentee\n"  # row 2: fine
        "No Email,,Eng,Dev,Python,UTC,mentee\n"  # row 3
        "Bad Zone,zone@example.com,Eng,Dev,Python,Mars/Base,mentee\n"  # row 4
        "Bad Role,role@example.com,Eng,Dev,Python,UTC,guru\n"  # row 5
        "\n"  # row 6: blank lines are skipped
        "Bad Level,level@example.com,Eng,Dev,Python:9,UTC,mentor\n"  # row 7
        "Twice,OK@example.com,Eng,Dev,,UTC,mentee\n"  # row 8: same email as row 2
        ",noname@example.com,Eng,Dev,,UTC,mentee\n"  # row 9
        "Too,many,values,in,this,row,here,extra\n"  # row 10
    )
    with pytest.raises(ImportFailed) as err:
        import_people(db, data)
    found = {(row, field) for row, field, _ in err.value.errors}
    assert found == {
        (3, "email"),
        (4, "time_zone"),
        (5, "roles"),
        (7, "skills"),
        (8, "email"),
        (9, "name"),
        (10, None),
    }
    assert "row 8: email: ok@example.com is also on row 2" in err.value.message
    assert err.value.message.startswith("Nothing was imported; 7 row(s) need fixing")
    assert count_rows(db, Person, Skill, PersonSkill) == {"Person": 0, "Skill": 0, "PersonSkill": 0}


def test_existing_email_refuses_the_whole_file(db: Session) -> None:
    make_person(db, email="mo@example.com")
    with pytest.raises(ImportFailed) as err:
        import_people(db, GOOD)
    assert [(row, field) for row, field, _ in err.value.errors] == [(3, "email")]
    assert count_rows(db, Person, Skill) == {"Person": 1, "Skill": 0}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("", "empty"),
        ("name,email\nA,a@example.com\n", "missing column(s): time_zone"),
        ("name,email,time_zone,shoe_size\n", "unknown column(s): shoe_size"),
        (HEADER, "no people"),
        (b"\xff\xfe\x00n", "not UTF-8"),
    ],
)
def test_unusable_files_are_refused_clearly(db: Session, data: str | bytes, message: str) -> None:
    with pytest.raises(ImportFailed) as err:
        import_people(db, data)
    assert message in err.value.message


def test_cli_import(app: Any, db: Session, tmp_path: Path) -> None:
    runner = app.test_cli_runner()
    good = tmp_path / "people.csv"
    good.write_text(GOOD)
    result = runner.invoke(args=["people", "import", str(good)])
    assert result.exit_code == 0, result.output
    assert "Imported 3 people." in result.output

    again = runner.invoke(args=["people", "import", str(good)])
    assert again.exit_code == 1
    assert "row 2: email: ada@example.com already exists" in again.output
    assert count_rows(db, Person) == {"Person": 3}
