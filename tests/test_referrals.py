"""A mentor refers the mentee of a meeting to another mentor: a recommendation the mentee sees first
(even with the directory hidden), a notification whose link opens the request form with the topic
filled in; refused referrals change nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling.errors import Forbidden, ValidationFailed
from scheduling.models import Notification, NotificationKind, Recommendation
from scheduling.services.referrals import refer
from tests.factories import NOW, count_rows, login, make_meeting, make_mentee, make_mentor, make_program


def test_a_mentor_refers_the_mentee_and_the_link_prefills_the_request(client: Any, db: Session) -> None:
    program = make_program(db, directory_hidden=True)
    mentor, mentee = make_mentor(db, name="Ref Erer"), make_mentee(db)
    other = make_mentor(db, name="Other Expert", email="other@example.com")
    meeting = make_meeting(db, program=program, mentee=mentee, mentor=mentor, topic="Pricing strategy")

    for bad, error in (("nobody@example.com", ValidationFailed), (mentor.email, ValidationFailed),
                       (mentee.email, ValidationFailed)):
        with pytest.raises(error):
            refer(db, meeting, mentor, bad, now=NOW)
    with pytest.raises(Forbidden):
        refer(db, meeting, other, other.email, now=NOW)
    assert count_rows(db, Recommendation, Notification)["Recommendation"] == 0

    login(client, mentor)
    assert "Refer " in client.get(f"/meetings/{meeting.id}").get_data(as_text=True)
    resp = client.post(f"/meetings/{meeting.id}/refer", data={"to_email": "OTHER@example.com",
                                                               "note": "She priced three launches."})
    assert resp.status_code == 302
    rec = db.scalars(select(Recommendation)).one()
    assert (rec.mentee_id, rec.mentor_id, rec.pushed_by_id) == (mentee.id, other.id, mentor.id)
    note = db.scalars(select(Notification).where(Notification.kind == NotificationKind.RECOMMENDATION)).one()
    assert note.person_id == mentee.id and "She priced three launches." in note.body

    login(client, mentee)
    form = client.get(note.link).get_data(as_text=True)  # visible although the directory is hidden
    assert 'value="Pricing strategy"' in form
