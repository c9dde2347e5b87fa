"""Admin-pushed recommendations: pick list and CSV, all or nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduling.errors import Forbidden, ImportFailed
from scheduling.models import Recommendation
from scheduling.services import recommendations as svc
from tests.factories import make_admin, make_mentee, make_mentor, make_program


def count(db: Session) -> int:
    return db.scalar(select(func.count(Recommendation.id))) or 0


def test_pick_list_recommends_every_mentor_to_every_mentee(db: Session) -> None:
    program, admin = make_program(db), make_admin(db)
    mentees = [make_mentee(db) for _ in range(3)]
    mentors = [make_mentor(db) for _ in range(2)]
    rows = svc.push_pick_list(db, program, admin, [m.id for m in mentees], [m.id for m in mentors], note="hi")
    assert len(rows) == 6 == count(db)
    assert {(r.mentee_id, r.mentor_id) for r in rows} == {(a.id, b.id) for a in mentees for b in mentors}
    assert all(r.note == "hi" and r.pushed_by_id == admin.id for r in rows)
    svc.push_pick_list(db, program, admin, [mentees[0].id], [mentors[0].id])
    assert count(db) == 6


def test_a_bad_pair_refuses_the_whole_push(db: Session) -> None:
    program, admin = make_program(db), make_admin(db)
    mentee, mentor = make_mentee(db), make_mentor(db)
    gone = make_mentor(db, active=False)
    with pytest.raises(ImportFailed) as err:
        svc.push(db, program, admin, [(mentee.id, mentor.id), (mentee.id, gone.id), (mentor.id, mentee.id)])
    assert [(row, field) for row, field, _ in err.value.errors] == [
        (2, "mentor"),
        (3, "mentee"),
        (3, "mentor"),
    ]
    assert count(db) == 0
    with pytest.raises(Forbidden):
        svc.push(db, program, mentee, [(mentee.id, mentor.id)])


def test_csv_with_and_without_header(db: Session) -> None:
    program, admin = make_program(db), make_admin(db)
    mentee, mentor = make_mentee(db, email="mae@example.com"), make_mentor(db, email="mo@example.com")
    rows = svc.push_csv(db, program, admin, "MAE@example.com, mo@example.com ,Talk pipeline\n")
    assert [(r.mentee_id, r.mentor_id, r.note) for r in rows] == [(mentee.id, mentor.id, "Talk pipeline")]
    with pytest.raises(ImportFailed) as err:
        svc.push_csv(
            db, program, admin, "mentee_email,mentor_email\nmae@example.com\nx@example.com,mo@example.com\n"
        )
    assert [(row, field) for row, field, _ in err.value.errors] == [(2, None), (3, "mentee_email")]
    assert count(db) == 1
