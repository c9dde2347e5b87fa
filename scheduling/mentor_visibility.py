"""Which mentors a person may see: the one rule every list, ranking and card of mentors follows.

Where the program's admin hides the mentor directory ("Hide the mentor directory"), a person who
is not an admin finds only the mentors recommended to them (admin pushes first, then the best
matches, :data:`RECOMMENDED_IN_DIRECTORY` in all), and opens the card, request form or free times of
those, of a mentor they already asked, and their own. Admins see every mentor, and so does everyone
where the directory is open. The people list, the matches and recommendations, the free-mentor
search, the directory page and a mentor's card, request form and messages all ask here, so no list
shows a mentor the card would refuse.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling.matching import MentorMatch, mentor_ids, rank_mentors, recommendations_for
from scheduling.models import MeetingRequest, Person, Program

RECOMMENDED_IN_DIRECTORY = 5  # computed matches shown besides admin pushes when the directory is hidden


def _hidden_from(program: Program | None, viewer: Person) -> bool:
    return program is not None and program.directory_hidden and not viewer.is_admin


def visible_mentor_ids(session: Session, program: Program | None, viewer: Person) -> list[int] | None:
    """The mentors a viewer may find: ``None`` for all, or, where the program hides the
    directory, only their recommendations (admin pushes first, then best matches)."""
    if not _hidden_from(program, viewer):
        return None
    assert program is not None
    return mentor_ids(recommendations_for(session, program, viewer, n=RECOMMENDED_IN_DIRECTORY))


def may_see_mentor(session: Session, program: Program | None, viewer: Person, mentor_id: int) -> bool:
    """Whether a viewer may open a mentor's card, request form or free times: always where the
    directory is open; where it is hidden, only a recommended mentor, one they already asked, or
    themselves."""
    return mentor_id in mentors_seen(session, program, viewer, [mentor_id])


def mentors_seen(session: Session, program: Program | None, viewer: Person, ids: Collection[int]) -> set[int]:
    """Those of ``ids`` the viewer may see (:func:`may_see_mentor`), the recommendations worked out
    once for all of them."""
    wanted = set(ids)
    if wanted <= {viewer.id}:
        return wanted
    visible = visible_mentor_ids(session, program, viewer)
    if visible is None:
        return wanted
    seen = wanted & {*visible, viewer.id}
    rest = wanted - seen
    if rest:
        seen.update(session.scalars(select(MeetingRequest.mentor_id).where(
            MeetingRequest.mentee_id == viewer.id, MeetingRequest.mentor_id.in_(list(rest))).distinct()))
    return seen


def ranked_for(
    session: Session, program: Program, mentee: Person, viewer: Person, *, limit: int | None = None,
    only: Collection[int] | None = None, now: datetime | None = None,
) -> list[MentorMatch]:
    """:func:`scheduling.matching.rank_mentors` for ``mentee`` as ``viewer`` may see it: within
    the mentors the viewer may find (and ``only``, a search's own narrowing, if given)."""
    visible = visible_mentor_ids(session, program, viewer)
    if visible is not None and only is not None:
        keep = set(only)
        visible = [i for i in visible if i in keep]
    chosen = visible if visible is not None else only
    return rank_mentors(session, program, mentee, now=now, limit=limit, mentor_ids=chosen)


def recommended_for(
    session: Session, program: Program, mentee: Person, viewer: Person, *, n: int,
    now: datetime | None = None,
) -> list[MentorMatch]:
    """:func:`scheduling.matching.recommendations_for` as ``viewer`` (the mentee herself or an admin)
    may see them: where the directory is hidden from the viewer, drawn from the very recommendations
    it leaves visible (every admin push, then up to ``n`` in all), so a larger ``n`` reaches no
    further."""
    if not _hidden_from(program, viewer):
        return recommendations_for(session, program, mentee, n=n, now=now)
    found = recommendations_for(session, program, mentee, n=RECOMMENDED_IN_DIRECTORY, now=now)
    pushed = [m for m in found if m.recommended]
    return pushed + [m for m in found if not m.recommended][:max(0, n - len(pushed))]
