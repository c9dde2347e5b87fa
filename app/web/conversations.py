"""Around a request and its meeting: the message thread, and what may follow a meeting.

The thread shows on the request's page and on its meeting's page (one thread per
request): the mentee and the mentor write, an admin reads. After a meeting either
side may book a follow-up meeting (a new request, answered like any other) or
propose an ongoing mentorship (the other side accepts or declines here), and the
mentee may re-assess a skill for their manager to confirm. Every action is one
``scheduling.services`` call; a refused one shows the page again with the message
by its field, and nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import flash, redirect, request, url_for
from sqlalchemy import select

from app.db import db
from app.web import bp
from app.web.common import FormErrors, failed, iso, me, parse_utc, signed_in, span, when
from app.web.meetings import render_meeting, visible_meeting
from app.web.requests import STATE_LABELS, render_request, visible_request
from scheduling.availability import bookable_slots
from scheduling.db import utcnow
from scheduling.errors import DomainError, ValidationFailed
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


def _worded(exc: DomainError) -> DomainError:
    """The service names the field ``body``; the form calls it 'Message'."""
    if exc.field == "body" and exc.message.startswith("Body "):
        exc.message = "Message " + exc.message[len("Body "):]
    return exc


def _post(person: Person, req: MeetingRequest) -> None:
    messages.post_message(db(), req.id, person, request.form.get("body") or "")


@bp.post("/requests/<int:request_id>/messages")
@signed_in()
def request_message_post(request_id: int) -> Any:
    person = me()
    req = visible_request(request_id, person, admin_reads=True)
    try:
        _post(person, req)
    except DomainError as exc:
        failed(exc)
        errors = section_errors(_worded(exc), {"body": "body"}, "thread")
        return render_request(visible_request(request_id, person, admin_reads=True), person, errors,
                              dict(request.form), status=_status(exc))
    flash("Message sent.", "info")
    return redirect(url_for("web.request_detail", request_id=req.id, _anchor="messages"))


@bp.post("/meetings/<int:meeting_id>/messages")
@signed_in()
def meeting_message_post(meeting_id: int) -> Any:
    def post(person: Person, meeting: Meeting) -> None:
        _post(person, meeting.request)

    return _on_meeting(meeting_id, post, "Message sent.", {"body": "body"}, "thread", anchor="messages",
                       word=_worded)


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


@bp.post("/meetings/<int:meeting_id>/follow-up")
@signed_in()
def meeting_follow_up(meeting_id: int) -> Any:
    chosen = [(i, (request.form.get(f"fu_time{i}") or "").strip()) for i in range(1, FOLLOW_UP_CHOICES + 1)]
    filled = [(i, raw) for i, raw in chosen if raw]

    def book(person: Person, meeting: Meeting) -> None:
        if not filled:
            raise ValidationFailed("Choose at least one time.", "fu_time1")
        minutes = meeting.request.program.slot_minutes
        times = []
        for i, raw in filled:
            start = parse_utc(raw, f"fu_time{i}")
            times.append((start, start + timedelta(minutes=minutes)))
        try:
            followups.propose(db(), meeting, person, FollowUpKind.FOLLOW_UP, times=times,
                              message=request.form.get("fu_message") or "",
                              topic=(request.form.get("fu_topic") or "").strip() or None)
        except DomainError as exc:
            if exc.field and exc.field.startswith("times["):  # point at the select the person used
                exc.field = f"fu_time{filled[int(exc.field[6:].split(']')[0])][0]}"
            raise

    fields = {"times": "fu_time1", "topic": "fu_topic", "message": "fu_message", "description": "fu_message",
              **{f"fu_time{i}": f"fu_time{i}" for i, _ in chosen}}
    done = "Follow-up meeting proposed; the other side answers it like any request."
    return _on_meeting(meeting_id, book, done, fields, "follow_up", anchor="after")


@bp.post("/meetings/<int:meeting_id>/ongoing")
@signed_in()
def meeting_ongoing(meeting_id: int) -> Any:
    def propose(person: Person, meeting: Meeting) -> None:
        followups.propose(db(), meeting, person, FollowUpKind.ONGOING,
                          message=request.form.get("ongoing_message") or "")

    return _on_meeting(meeting_id, propose, "Ongoing mentorship proposed.", {"message": "ongoing_message"},
                       "ongoing", anchor="after")


@bp.post("/follow-ups/<int:follow_up_id>/<any(accept, decline):answer>")
@signed_in()
def follow_up_answer(follow_up_id: int, answer: str) -> Any:
    person = me()
    follow = followups.get_follow_up(db(), follow_up_id, person)

    def reply(actor: Person, meeting: Meeting) -> None:
        followups.answer(db(), follow, actor, accept=answer == "accept")

    done = "Agreed: you continue as an ongoing mentorship." if answer == "accept" else "Proposal declined."
    return _on_meeting(follow.meeting_id, reply, done, {}, f"follow_up_{follow_up_id}", anchor="after")


@bp.post("/meetings/<int:meeting_id>/reassess")
@signed_in()
def meeting_reassess(meeting_id: int) -> Any:
    def reassess(person: Person, meeting: Meeting) -> None:
        skill = (request.form.get("skill") or "").strip()
        if not skill:
            raise ValidationFailed("Choose a skill.", "skill")
        raw = (request.form.get("level") or "").strip()
        level: object = int(raw) if raw.isdigit() else (raw or None)
        followups.reassess(db(), person, skill, level, meeting_id=meeting.id)

    return _on_meeting(meeting_id, reassess, "New level sent to your manager to confirm.",
                       {"skill": "skill", "level": "level"}, "reassess", anchor="after")


# --- shared -------------------------------------------------------------------------------------


def section_errors(exc: DomainError, field_map: Mapping[str, str], section: str) -> FormErrors:
    """The message by its form field; one without a field on this form goes to the form's section."""
    target = section
    name = exc.field or ""
    for prefix, mapped in field_map.items():
        if name == prefix or name.startswith(prefix + ".") or name.startswith(prefix + "["):
            target = mapped
            break
    errors = FormErrors()
    errors[target] = exc.message
    return errors


def _status(exc: DomainError) -> int:
    return exc.status if 400 <= exc.status < 500 else 422


def _on_meeting(meeting_id: int, action: Callable[[Person, Meeting], None], done: str,
                field_map: Mapping[str, str], section: str, *, anchor: str,
                word: Callable[[DomainError], DomainError] | None = None) -> Any:
    """Run one action from the meeting page; refused, show the page again with the error in place."""
    person = me()
    meeting = visible_meeting(meeting_id, person, admin_reads=True)
    try:
        action(person, meeting)
    except DomainError as exc:
        failed(exc)
        errors = section_errors(word(exc) if word else exc, field_map, section)
        return render_meeting(visible_meeting(meeting_id, person, admin_reads=True), person, errors,
                              dict(request.form), status=_status(exc))
    flash(done, "info")
    return redirect(url_for("web.meeting_detail", meeting_id=meeting.id, _anchor=anchor))
