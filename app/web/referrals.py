"""A mentor refers the mentee of a meeting to another mentor (``scheduling.services.referrals``)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for

from app.db import db
from app.web import bp
from app.web.common import me, signed_in
from app.web.meetings import visible_meeting
from scheduling.errors import DomainError
from scheduling.services import referrals


@bp.post("/meetings/<int:meeting_id>/refer")
@signed_in("mentor")
def meeting_refer(meeting_id: int) -> Any:
    person = me()
    meeting = visible_meeting(meeting_id, person)
    session = db()
    try:
        rec = referrals.refer(session, meeting, person, request.form.get("to_email"),
                              request.form.get("note", ""))
    except DomainError as exc:
        session.rollback()
        flash(f"Not referred: {exc.message}", "error")
    else:
        flash(f"Referred {meeting.mentee.name} to {rec.mentor.name}; they were emailed.", "info")
    return redirect(url_for("web.meeting_detail", meeting_id=meeting_id) + "#refer")
