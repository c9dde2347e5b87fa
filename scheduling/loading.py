"""What a job's notice reads, loaded in one round trip instead of one lazy load per attribute.

A reminder job touched the request, its program, both people and (through ``lazy="selectin"``)
each person's skills and weekly slots: twelve statements for one mail. A notice reads names,
emails, zones and the program's settings, never the skills or slots, so those stay lazy here.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, joinedload, lazyload
from sqlalchemy.orm.strategy_options import _AbstractLoad

from scheduling.models import Meeting, MeetingRequest, Person


def _person(path: _AbstractLoad) -> _AbstractLoad:
    return path.options(lazyload(Person.skills), lazyload(Person.weekly_slots))


def request_for_notice(db: Session, request_id: int) -> MeetingRequest | None:
    return db.get(
        MeetingRequest,
        request_id,
        options=[
            joinedload(MeetingRequest.program),
            _person(joinedload(MeetingRequest.mentee)),
            _person(joinedload(MeetingRequest.mentor)),
        ],
    )


def meeting_for_notice(db: Session, meeting_id: int) -> Meeting | None:
    return db.get(
        Meeting,
        meeting_id,
        options=[
            joinedload(Meeting.request).joinedload(MeetingRequest.program),
            _person(joinedload(Meeting.mentee)),
            _person(joinedload(Meeting.mentor)),
        ],
    )
