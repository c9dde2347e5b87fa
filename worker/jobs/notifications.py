"""Jobs of in-app notifications: one notification's immediate email, a person's daily digest."""

from __future__ import annotations

from scheduling import notices, notifications
from scheduling.db import utcnow
from scheduling.models import EmailState, Notification, Person
from worker import runtime
from worker.jobs.notices import send_once


def email_notification(notification_id: int) -> int:
    """Email one notification (no-op once sent, or if the person or the row is gone)."""
    with runtime.session_scope() as db:
        note = db.get(Notification, notification_id)
        if note is None or note.email != EmailState.PLANNED:
            return 0
        person = db.get(Person, note.person_id)
        if person is None or not person.active:
            return 0
        mail = notices.notification_email(person, note.title, note.body, note.link, runtime.base_url())
        sent = send_once(f"notification-{note.id}", mail)
        note.email = EmailState.SENT
        db.commit()
        return int(sent)


def send_digest(person_id: int) -> int:
    """Email everything waiting for the person's digest as one mail; each notification goes once."""
    with runtime.session_scope() as db:
        person = db.get(Person, person_id)
        if person is None or not person.active:
            return 0
        now = utcnow()
        waiting = notifications.waiting_for_digest(db, person_id, now)
        if not waiting:
            return 0
        items = [(n.title, n.link) for n in waiting]
        send_once(f"digest-{person_id}-{waiting[-1].id}",
                  notices.notification_digest(person, items, runtime.base_url()))
        for n in waiting:
            n.email = EmailState.SENT
        db.commit()
        return len(waiting)
