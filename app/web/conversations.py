"""Around a request and its meeting: the message thread, and what may follow a meeting.

The thread shows on the request's page and on its meeting's page (one thread per
request): the mentee and the mentor write, an admin reads. After a meeting either
side may book a follow-up meeting (a new request, answered like any other) or
propose an ongoing mentorship (the other side accepts or declines here), and the
mentee may re-assess a skill for their manager to confirm. Every action is one
``scheduling.services`` call; a refused one shows the page again with the message
by its field, and nothing changes. What the pages show of the thread and of what follows a
meeting is built in :mod:`app.web.conversation_views` (the request and meeting pages use it too).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from flask import flash, redirect, request, url_for

from app.db import db
from app.web import bp
from app.web.common import FormErrors, failed, me, parse_utc, signed_in
from app.web.conversation_views import FOLLOW_UP_CHOICES
from app.web.meetings import render_meeting, visible_meeting
from app.web.requests import render_request, visible_request
from scheduling.errors import DomainError, ValidationFailed
from scheduling.models import FollowUpKind, Meeting, MeetingRequest, Person
from scheduling.services import followups, messages

# --- the thread ---------------------------------------------------------------------------------


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
