"""In-app notifications and the emails that follow them, by each person's preferences.

:func:`notify` adds a notification in the caller's transaction and, by the person's preference
for its kind, plans its email as timed work written with it (``notification-<id>-email`` now, or
the person's ``digest-<person>-<day>`` row the next morning). Some mails a program's rules
require are always sent: a pushed recommendation's (REQUIRED_EMAIL). Requests, meetings and
surveys have their own rule-driven emails (``scheduling.timed_work``), so their notifications are
in-app only (:func:`for_events` adds them from the domain events before commit).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from scheduling import timed_work
from scheduling.db import utcnow
from scheduling.errors import ValidationFailed
from scheduling.events import (
    DomainEvent,
    MeetingCanceled,
    MeetingRescheduled,
    MeetingScheduled,
    RequestAnswered,
    RequestCreated,
)
from scheduling.models import (
    EmailChoice,
    EmailState,
    Meeting,
    MeetingRequest,
    Notification,
    NotificationKind,
    NotificationPreference,
    Person,
    RequestState,
    WorkKind,
)
from scheduling.terms import DEFAULT as DEFAULT_TERMS
from scheduling.terms import Terms
from scheduling.zones import zone_of

TITLE_MAX = 300
DIGEST_HOUR = 8  # the daily digest goes out at 08:00 in the person's zone
LIST_LIMIT = 50

KIND_LABELS: dict[NotificationKind, str] = {
    NotificationKind.REQUEST: "Meeting requests",
    NotificationKind.MEETING: "Meetings booked, moved or canceled",
    NotificationKind.RECOMMENDATION: "Mentors recommended to me",
    NotificationKind.MESSAGE: "New messages",
    NotificationKind.ROUTED: "Mentors assigned by an admin",
    NotificationKind.FOLLOW_UP: "Follow-up and ongoing mentorship proposals",
    NotificationKind.REASSESSMENT: "Skill re-assessments to confirm",
    NotificationKind.SURVEY: "Feedback on past meetings",
    NotificationKind.CALENDAR: "My calendar connection stopped working",
}
# The program's rules require these emails: always sent at once, whatever the preference.
# A broken calendar connection too: until it is mended, others may be offered times when the
# person is busy (``scheduling.calendar_health``).
REQUIRED_EMAIL = frozenset({NotificationKind.RECOMMENDATION, NotificationKind.CALENDAR})
# These kinds are emailed by their own rules (request notice, meeting invitation, survey):
# the notification is the in-app copy.
RULE_MAILED = frozenset({NotificationKind.REQUEST, NotificationKind.MEETING, NotificationKind.SURVEY})
CHOOSABLE = tuple(k for k in NotificationKind if k not in REQUIRED_EMAIL | RULE_MAILED)


def kind_label(kind: NotificationKind, terms: Terms = DEFAULT_TERMS) -> str:
    """The kind's label in the program's own words ("Guides recommended to me")."""
    return KIND_LABELS[kind].replace("Mentors", terms.Mentors)


# --- preferences ---------------------------------------------------------------------------------


def preferences(session: Session, person: Person) -> dict[NotificationKind, EmailChoice]:
    """The person's email choice per choosable kind (immediate unless they said otherwise)."""
    chosen = {p.kind: p.email for p in session.scalars(
        select(NotificationPreference).where(NotificationPreference.person_id == person.id))}
    return {k: chosen.get(k, EmailChoice.IMMEDIATE) for k in CHOOSABLE}


def set_preferences(session: Session, person: Person, choices: Mapping[str, str]) -> None:
    """Save choices by kind value ("immediate", "digest", "off"); every one checked first. Commits."""
    parsed: dict[NotificationKind, EmailChoice] = {}
    for key, value in choices.items():
        try:
            kind = NotificationKind(key)
        except ValueError:
            raise ValidationFailed(f"Unknown kind of notification {key!r}.", key) from None
        if kind not in CHOOSABLE:
            raise ValidationFailed(f"{KIND_LABELS[kind]}: these emails are always sent.", key)
        try:
            parsed[kind] = EmailChoice(value)
        except ValueError:
            raise ValidationFailed("Choose immediately, a daily digest, or off.", key) from None
    existing = {p.kind: p for p in session.scalars(
        select(NotificationPreference).where(NotificationPreference.person_id == person.id))}
    for kind, choice in parsed.items():
        row = existing.get(kind)
        if row is None:
            session.add(NotificationPreference(person_id=person.id, kind=kind, email=choice))
        else:
            row.email = choice
    session.commit()


def email_choice(session: Session, person_id: int, kind: NotificationKind) -> EmailChoice | None:
    """How this notification is emailed: None when its rule's own email says it."""
    if kind in REQUIRED_EMAIL:
        return EmailChoice.IMMEDIATE
    if kind in RULE_MAILED:
        return None
    chosen = session.scalar(select(NotificationPreference.email).where(
        NotificationPreference.person_id == person_id, NotificationPreference.kind == kind))
    return chosen or EmailChoice.IMMEDIATE


# --- adding ---------------------------------------------------------------------------------------


def notify(
    session: Session, person_id: int, kind: NotificationKind, title: str, *, body: str = "", link: str = "",
    now: datetime | None = None,
) -> Notification:
    """Add a notification and plan its email (no commit: it is part of the caller's change)."""
    now = now or utcnow()
    note = Notification(person_id=person_id, kind=kind, title=title[:TITLE_MAX], body=body, link=link,
                        created_at=now, email=EmailState.NONE)
    session.add(note)
    session.flush()
    choice = email_choice(session, person_id, kind)
    if choice == EmailChoice.IMMEDIATE:
        note.email = EmailState.PLANNED
        timed_work.plan(session, WorkKind.NOTIFICATION_EMAIL, f"notification-{note.id}-email", due_at=now,
                        args=[note.id])
    elif choice == EmailChoice.DIGEST:
        note.email = EmailState.DIGEST
        person = session.get(Person, person_id)
        due = digest_at(person, now) if person is not None else now + timedelta(days=1)
        timed_work.plan_once(session, WorkKind.NOTIFICATION_DIGEST, digest_key(person_id, due), due_at=due,
                             args=[person_id])
    return note


def digest_key(person_id: int, due: datetime) -> str:
    return f"digest-{person_id}-{due:%Y-%m-%d}"


def digest_at(person: Person, now: datetime) -> datetime:
    """The next 08:00 in the person's zone after ``now`` (UTC)."""
    tz = zone_of(person)
    local = now.astimezone(tz)
    due = datetime.combine(local.date(), time(DIGEST_HOUR), tzinfo=tz)
    if due <= local:
        due = datetime.combine(local.date() + timedelta(days=1), time(DIGEST_HOUR), tzinfo=tz)
    return due.astimezone(UTC)


def for_events(session: Session, events: Iterable[DomainEvent], *, now: datetime | None = None) -> None:
    """The in-app notifications of request and meeting changes (their emails are the rules' own)."""
    now = now or utcnow()
    for ev in events:
        if isinstance(ev, RequestCreated):
            req = session.get(MeetingRequest, ev.request_id)
            if req is not None:
                asked, asker = ((req.mentor_id, req.mentee) if req.initiated_by.value == "mentee"
                                else (req.mentee_id, req.mentor))
                notify(session, asked, NotificationKind.REQUEST,
                       f"{asker.name} asks for a meeting: {req.topic}", link=f"/requests/{req.id}", now=now)
        elif isinstance(ev, RequestAnswered) and ev.state != RequestState.ACCEPTED.value:
            req = session.get(MeetingRequest, ev.request_id)
            if req is not None:
                for pid in (req.mentee_id, req.mentor_id):
                    notify(session, pid, NotificationKind.REQUEST,
                           f"Request “{req.topic}” is now {ev.state}", link=f"/requests/{req.id}", now=now)
        elif isinstance(ev, MeetingScheduled | MeetingRescheduled | MeetingCanceled):
            meeting = session.get(Meeting, ev.meeting_id)
            if meeting is not None:
                what = {MeetingScheduled: "booked", MeetingRescheduled: "moved", MeetingCanceled: "canceled"}
                for pid in (meeting.mentee_id, meeting.mentor_id):
                    title = f"Meeting {what[type(ev)]}: {meeting.topic}"
                    notify(session, pid, NotificationKind.MEETING, title,
                           link=f"/meetings/{meeting.id}", now=now)


# --- reading -------------------------------------------------------------------------------------


def unread_count(session: Session, person: Person) -> int:
    return session.scalar(select(func.count(Notification.id)).where(
        Notification.person_id == person.id, Notification.read_at.is_(None))) or 0


def latest(session: Session, person: Person, limit: int = LIST_LIMIT) -> list[Notification]:
    return list(session.scalars(
        select(Notification).where(Notification.person_id == person.id)
        .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)))


def mark_read(session: Session, person: Person, notification_id: int | None = None,
              *, now: datetime | None = None) -> int:
    """Mark one of the person's notifications (or all of them) read. Commits; returns how many."""
    query = update(Notification).where(Notification.person_id == person.id, Notification.read_at.is_(None))
    if notification_id is not None:
        query = query.where(Notification.id == notification_id)
    result = session.execute(query.values(read_at=now or utcnow()))
    session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


def waiting_for_digest(session: Session, person_id: int, until: datetime) -> list[Notification]:
    return list(session.scalars(
        select(Notification).where(Notification.person_id == person_id,
                                   Notification.email == EmailState.DIGEST, Notification.created_at <= until)
        .order_by(Notification.created_at, Notification.id)))
