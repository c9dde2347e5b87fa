"""In-app notifications with an unread count, and per-person email preferences: immediately (a timed
work row planned with the change), a daily digest (one row per person and day), or off; a pushed
recommendation's email is always sent. Rows are written in the change's own transaction."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling import notifications
from scheduling.models import (
    EmailChoice,
    EmailState,
    Notification,
    NotificationKind,
    NotificationPreference,
    TimedWork,
    WorkKind,
)
from scheduling.services import messages, recommendations
from tests.factories import (
    NOW,
    count_rows,
    login,
    make_admin,
    make_mentee,
    make_mentor,
    make_program,
    make_request,
)
from tests.worker_harness import Life, life

__all__ = ["life"]  # the fixture


def _work(db: Session, kind: WorkKind) -> list[TimedWork]:
    return list(db.scalars(select(TimedWork).where(TimedWork.kind == kind).order_by(TimedWork.id)))


def test_a_message_notifies_the_other_side_and_plans_its_email(db: Session) -> None:
    program = make_program(db)
    mentor, mentee = make_mentor(db), make_mentee(db)
    request = make_request(db, program=program, mentee=mentee, mentor=mentor)
    messages.post_message(db, request.id, mentee, "Shall I bring my CV?", now=NOW)
    note = db.scalars(select(Notification).where(Notification.kind == NotificationKind.MESSAGE)).one()
    assert note.person_id == mentor.id and note.link == f"/requests/{request.id}"
    assert note.email == EmailState.PLANNED
    [row] = _work(db, WorkKind.NOTIFICATION_EMAIL)
    assert row.key == f"notification-{note.id}-email" and row.args == [note.id] and row.due_at == NOW
    # the request itself: an in-app copy for the mentor, emailed by the request's own rule
    request_note = db.scalars(select(Notification).where(Notification.kind == NotificationKind.REQUEST)).one()
    assert request_note.person_id == mentor.id and request_note.email == EmailState.NONE


def test_digest_and_off_preferences_are_kept_per_kind(db: Session) -> None:
    program = make_program(db)
    mentor, mentee = make_mentor(db, time_zone="Europe/Berlin"), make_mentee(db)
    request = make_request(db, program=program, mentee=mentee, mentor=mentor)
    notifications.set_preferences(db, mentor, {"message": "digest", "follow_up": "off"})
    for text in ("One", "Two"):
        messages.post_message(db, request.id, mentee, text, now=NOW)
    assert {n.email for n in db.scalars(select(Notification).where(
        Notification.kind == NotificationKind.MESSAGE))} == {EmailState.DIGEST}
    assert not _work(db, WorkKind.NOTIFICATION_EMAIL)
    [digest] = _work(db, WorkKind.NOTIFICATION_DIGEST)  # two messages, one digest
    assert digest.args == [mentor.id]
    assert digest.due_at == notifications.digest_at(mentor, NOW)
    assert digest.due_at.astimezone(notifications.zone_of(mentor)).hour == notifications.DIGEST_HOUR
    assert NOW < digest.due_at <= NOW + timedelta(days=1)


def test_a_pushed_recommendation_is_always_emailed(db: Session) -> None:
    program = make_program(db)
    mentor, mentee, admin = make_mentor(db, name="Rita Recommended"), make_mentee(db), make_admin(db)
    db.add(NotificationPreference(person_id=mentee.id, kind=NotificationKind.RECOMMENDATION,
                                  email=EmailChoice.OFF))  # not choosable: ignored
    db.commit()
    recommendations.push(db, program, admin, [(mentee.id, mentor.id)])
    note = db.scalars(select(Notification).where(Notification.person_id == mentee.id)).one()
    assert note.title == "Recommended for you: Rita Recommended" and note.email == EmailState.PLANNED
    assert len(_work(db, WorkKind.NOTIFICATION_EMAIL)) == 1
    recommendations.push(db, program, admin, [(mentee.id, mentor.id)])  # pushed again: nothing new
    assert count_rows(db, Notification)["Notification"] == 1


def test_refused_preferences_change_nothing(client: Any, db: Session) -> None:
    make_program(db)
    person = make_mentee(db)
    login(client, person)
    page = client.get("/notifications/preferences").get_data(as_text=True)
    assert 'name="message"' in page and "Mentors recommended to me" in page  # listed as always emailed
    resp = client.post("/notifications/preferences", data={"message": "digest", "routed": "hourly"})
    assert resp.status_code == 422 and 'id="routed-error"' in resp.get_data(as_text=True)
    assert count_rows(db, NotificationPreference)["NotificationPreference"] == 0
    assert client.post("/notifications/preferences", data={"message": "off"}).status_code == 302
    assert notifications.preferences(db, person)[NotificationKind.MESSAGE] == EmailChoice.OFF


def test_the_list_shows_unread_notifications_and_marks_them_read(client: Any, db: Session) -> None:
    program = make_program(db)
    mentor, mentee = make_mentor(db, name="Mo Mentor"), make_mentee(db)
    request = make_request(db, program=program, mentee=mentee, mentor=mentor)
    messages.post_message(db, request.id, mentor, "See you then", now=NOW)
    login(client, mentee)
    page = client.get("/notifications").get_data(as_text=True)
    assert "Mo Mentor wrote about" in page and "1 unread." in page
    assert '<span class="badge">1<span class="sr-only"> unread</span>' in page
    note = db.scalars(select(Notification).where(Notification.person_id == mentee.id)).one()
    resp = client.post("/notifications/read", data={"id": str(note.id), "next": note.link})
    assert resp.status_code == 302 and resp.headers["Location"] == f"/requests/{request.id}"
    page = client.get("/notifications").get_data(as_text=True)
    assert "0 unread." in page and 'class="badge"' not in page
    assert client.post("/notifications/read", data={"id": "x"}).status_code == 400


# --- through the real worker: relay, RQ, SMTP ------------------------------------------------------


def test_the_worker_sends_immediate_emails_once_and_one_digest_a_day(life: Life) -> None:
    from worker.jobs import notifications as jobs

    db = life.db
    program = make_program(db)
    mentor, mentee = make_mentor(db, email="mo@example.com"), make_mentee(db, email="mia@example.com")
    request = make_request(db, program=program, mentee=mentee, mentor=mentor)
    notifications.set_preferences(db, mentee, {"message": "digest"})
    messages.post_message(db, request.id, mentee, "First question", now=life.at(NOW + timedelta(minutes=5)))
    for text in ("Reply one", "Reply two"):
        messages.post_message(db, request.id, mentor, text, now=NOW + timedelta(minutes=6))
    life.run_until(NOW + timedelta(minutes=10))
    to_mentor = life.mail_to("mo@example.com")
    assert [s for s in to_mentor if "wrote about" in s] == [f"{mentee.name} wrote about “{request.topic}”"]
    assert not [s for s in life.mail_to("mia@example.com") if "digest" in s]  # waits for the morning
    note = db.scalars(select(Notification).where(Notification.person_id == mentor.id,
                                                 Notification.kind == NotificationKind.MESSAGE)).one()
    assert note.email == EmailState.SENT
    assert jobs.email_notification(note.id) == 0  # a second run sends nothing

    life.run_until(notifications.digest_at(mentee, NOW) + timedelta(minutes=1))
    digests = [s for s in life.mail_to("mia@example.com") if "digest" in s]
    assert digests == ["Your Flashmentor digest: 2 updates"]
    assert jobs.send_digest(mentee.id) == 0
