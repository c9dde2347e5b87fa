"""What a request's and a meeting's pages show of their conversation: the message thread
(one per request: the mentee and the mentor write, an admin reads) and, once a meeting is
over, what may follow it. Read-only views; the actions are in :mod:`app.web.conversations`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from app.db import db
from app.web.common import FormErrors, iso, span, when
from app.web.request_labels import STATE_LABELS
from scheduling.availability import bookable_slots
from scheduling.db import utcnow
from scheduling.models import (
    FollowUp,
    FollowUpKind,
    FollowUpState,
    Meeting,
    MeetingRequest,
    MeetingState,
    MentoringMode,
    Person,
    ReassessmentState,
    Skill,
    SkillReassessment,
    SkillRelation,
)
from scheduling.services import followups, messages
from scheduling.services import requests as request_svc
from scheduling.services.messages import BODY_MAX

FOLLOW_UP_DAYS = 14
FOLLOW_UP_OPTIONS = 80
FOLLOW_UP_CHOICES = 3  # selects on the form; the service takes up to MAX_PROPOSED_TIMES
SKILL_OPTIONS = 300
LEVELS = [(str(n), f"{n} of 5") for n in range(1, 6)]
KIND_LABELS = {FollowUpKind.ONGOING: "Ongoing mentorship", FollowUpKind.FOLLOW_UP: "Follow-up meeting"}
FOLLOW_STATE_LABELS = {FollowUpState.PROPOSED: "Waiting for an answer", FollowUpState.ACCEPTED: "Agreed",
                       FollowUpState.DECLINED: "Declined"}
REASSESS_LABELS = {ReassessmentState.PENDING: "Waiting for your manager to confirm",
                   ReassessmentState.CONFIRMED: "Confirmed", ReassessmentState.REJECTED: "Not confirmed"}


# --- the thread ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ThreadMessage:
    author: str
    mine: bool
    at: str  # in the viewer's zone, zone named
    at_iso: str
    body: str


@dataclass(frozen=True)
class Thread:
    messages: list[ThreadMessage]
    can_write: bool  # the mentee and the mentor; an admin only reads
    post_url: str
    max_length: int = BODY_MAX


def thread_for(req: MeetingRequest, viewer: Person, post_url: str) -> Thread:
    """The request's messages as ``viewer`` reads them (``messages.thread`` decides who may)."""
    names = {req.mentee_id: req.mentee.name, req.mentor_id: req.mentor.name}
    rows = []
    for m in messages.thread(db(), req.id, viewer):
        author = names.get(m.author_id, "Someone")  # only the two people write
        rows.append(ThreadMessage(author, m.author_id == viewer.id, when(m.created_at, viewer),
                                  iso(m.created_at), m.body))
    return Thread(rows, request_svc.is_participant(req, viewer), post_url)


# --- after a meeting ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FollowUpRow:
    id: int
    kind: str
    proposer: str
    mine: bool
    state: str
    message: str
    created: str
    can_answer: bool  # an ongoing proposal, still open, proposed by the other side
    request_id: int | None
    request_state: str | None


@dataclass
class AfterMeeting:
    """What the meeting page offers once the meeting is over (and what was already proposed)."""

    over: bool
    participant: bool
    follow_ups: list[FollowUpRow] = field(default_factory=list)
    can_book: bool = False
    book_note: str = ""
    slot_options: list[tuple[str, str]] = field(default_factory=list)
    choices: int = FOLLOW_UP_CHOICES
    can_propose_ongoing: bool = False
    ongoing_note: str = ""
    can_reassess: bool = False
    skill_options: list[tuple[str, str]] = field(default_factory=list)
    levels: list[tuple[str, str]] = field(default_factory=lambda: LEVELS)
    reassessments: list[tuple[str, int, str]] = field(default_factory=list)  # skill, level, state

    def place(self, errors: FormErrors) -> FormErrors:
        """A section's error shows in its section; one for a section this viewer does not see, at the top."""
        shown = {f"follow_up_{f.id}" for f in self.follow_ups}
        if self.over and self.participant:
            shown |= {"follow_up", "ongoing"} | ({"reassess"} if self.can_reassess else set())
        placed = FormErrors(errors)
        for key in ("follow_up", "ongoing", "reassess"):
            if key in placed and key not in shown:
                placed.setdefault("form", placed.pop(key))
        return placed


def is_over(meeting: Meeting, now: datetime) -> bool:
    if meeting.state in (MeetingState.CANCELED, MeetingState.NOT_HELD):
        return False
    return meeting.state == MeetingState.COMPLETED or meeting.end_at <= now


def after_meeting(meeting: Meeting, viewer: Person) -> AfterMeeting:
    now = utcnow()
    participant = viewer.id in (meeting.mentor_id, meeting.mentee_id)
    after = AfterMeeting(over=is_over(meeting, now), participant=participant)
    follows = followups.follow_ups_of(db(), meeting)
    after.follow_ups = [_follow_row(f, meeting, viewer) for f in follows]
    if not (after.over and participant):
        return after
    prog = meeting.request.program
    if viewer.id == meeting.mentor_id and not prog.mentors_may_create:
        after.book_note = "In this program only mentees book meetings; the mentee can book a follow-up."
    else:
        after.can_book = True
        slots = bookable_slots(db(), prog, meeting.mentor, meeting.mentee, now,
                               now + timedelta(days=FOLLOW_UP_DAYS))
        after.slot_options = [(iso(s.start), span(s.start, s.end, viewer)) for s in slots][:FOLLOW_UP_OPTIONS]
    open_ongoing = any(f.kind == FollowUpKind.ONGOING and f.state != FollowUpState.DECLINED for f in follows)
    if prog.mentoring_mode == MentoringMode.ONE_TIME:
        after.ongoing_note = "This program offers one-time meetings only."
    elif open_ongoing:
        after.ongoing_note = "An ongoing mentorship is already proposed or agreed."
    else:
        after.can_propose_ongoing = True
    if viewer.id == meeting.mentee_id:
        after.can_reassess = True
        after.skill_options = _skill_options(meeting)
        rows = db().scalars(select(SkillReassessment).where(
            SkillReassessment.meeting_id == meeting.id, SkillReassessment.person_id == viewer.id,
        ).order_by(SkillReassessment.created_at, SkillReassessment.id))
        after.reassessments = [(r.skill.name, r.new_level, REASSESS_LABELS[r.state]) for r in rows]
    return after


def _follow_row(follow: FollowUp, meeting: Meeting, viewer: Person) -> FollowUpRow:
    names = {meeting.mentee_id: meeting.mentee.name, meeting.mentor_id: meeting.mentor.name}
    req = db().get(MeetingRequest, follow.request_id) if follow.request_id else None
    can_answer = (follow.kind == FollowUpKind.ONGOING and follow.state == FollowUpState.PROPOSED
                  and viewer.id in names and viewer.id != follow.proposed_by_id)
    return FollowUpRow(
        id=follow.id, kind=KIND_LABELS[follow.kind], proposer=names.get(follow.proposed_by_id, "?"),
        mine=follow.proposed_by_id == viewer.id, state=FOLLOW_STATE_LABELS[follow.state],
        message=follow.message, created=when(follow.created_at, viewer), can_answer=can_answer,
        request_id=req.id if req else None, request_state=STATE_LABELS[req.state] if req else None,
    )


def _skill_options(meeting: Meeting) -> list[tuple[str, str]]:
    """The skills this meeting was about: the mentee's wanted and held ones, the mentor's offered ones;
    the whole catalogue when none are listed."""
    names = set(meeting.mentee.skill_names(SkillRelation.WANTS)) | set(
        meeting.mentee.skill_names(SkillRelation.HAS)) | set(meeting.mentor.skill_names(SkillRelation.OFFERS))
    if not names:
        names = set(db().scalars(select(Skill.name).order_by(Skill.name).limit(SKILL_OPTIONS)))
    held = {ps.skill.name: ps.level for ps in meeting.mentee.skills if ps.relation == SkillRelation.HAS}
    ordered = sorted(names, key=str.casefold)
    return [(n, f"{n} (now {held[n]} of 5)" if held.get(n) else n) for n in ordered]
