"""The program health report admins read: how requests fare, what meetings happen, what people say.

Counting is done by the database (GROUP BY, COUNT, AVG) so the report stays
cheap on a big program; the median too (``percentile_cont`` on PostgreSQL; elsewhere
the middle one or two rows in order: ``bench/reports.py``). The SQL is written to run on SQLite and
PostgreSQL alike; the two places they differ (seconds between two timestamps,
the month of a timestamp) are chosen by dialect. Months are UTC calendar months.

Definitions:

* *time pending*: ``created_at`` → ``answered_at`` (the answerer's accept,
  counter or decline) of every answered request, in hours.
* *acceptance rate*: accepted / (accepted + declined + expired), the share of
  requests the answerer settled (or let lapse) that became a meeting;
  withdrawn and still-open requests are left out. ``None`` when nothing was settled.
* *requested skills*: for every request, the skills its mentor offers (a skill
  counts once per request); *wanted*: active mentees who want the skill;
  *offered*: active mentors who offer it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, and_, case, cast, func, literal_column, select
from sqlalchemy.orm import Session

from scheduling.csv_cells import csv_writer
from scheduling.models import (
    ACTIVE_MEETING_STATES,
    DeclineReason,
    Meeting,
    MeetingRequest,
    MeetingState,
    Person,
    PersonSkill,
    Program,
    QuestionKind,
    RequestKind,
    RequestState,
    Skill,
    SkillRelation,
    SurveyAnswer,
    SurveyInvitation,
    SurveyQuestion,
    SurveyVariant,
)
from scheduling.services import followups, messages, modes
from scheduling.services.surveys import RATING_MAX, RATING_MIN
from scheduling.services.validation import current_time

TOP_SKILLS = 10
HOUR = 3600.0
SETTLED_STATES = (RequestState.ACCEPTED, RequestState.DECLINED, RequestState.EXPIRED)
MONTH_COLUMNS = ("held", "not_held", "canceled", "upcoming")

TEXT_ANSWERS = 50  # written answers shown per free-text question, newest first

def program_health(
    session: Session, program: Program, *, now: datetime | None = None, top_skills: int = TOP_SKILLS
) -> dict[str, Any]:
    """Every figure of the health report as plain JSON-ready values (see the module docstring)."""
    now = current_time(now)
    dialect = session.get_bind().dialect.name
    by_state = _requests_by_state(session, program)
    settled = sum(by_state[s.value] for s in SETTLED_STATES)
    return {
        "program": {"id": program.id, "name": program.name},
        "generated_at": now.isoformat().replace("+00:00", "Z"),
        "requests_by_state": by_state,
        "requests_total": sum(by_state.values()),
        "time_pending_hours": _time_pending(session, program, dialect, now),
        "acceptance_rate": _ratio(by_state[RequestState.ACCEPTED.value], settled),
        "meetings_per_month": _meetings_per_month(session, program, dialect),
        "surveys": _survey_results(session, program),
        "skills": _skills(session, program, top_skills),
        "meetings_by_skill": _meetings_by_skill(session, program),
        "decline_reasons": _decline_reasons(session, program),
        "conversations": messages.message_counts(session, program),
        "skill_changes": followups.skill_changes(session, program)["by_skill"],
        "mentoring_modes": _mentoring_modes(session, program),
    }


def _mentoring_modes(session: Session, program: Program) -> dict[str, Any]:
    """The program's mode, what active mentors offer (they choose under ``mentor_choice``), and
    requests by kind (one meeting, or a mentoring connection)."""
    kinds = {k.value: 0 for k in RequestKind}
    for kind, n in session.execute(
        select(MeetingRequest.kind, func.count(MeetingRequest.id))
        .where(MeetingRequest.program_id == program.id).group_by(MeetingRequest.kind)
    ):
        kinds[RequestKind(kind).value] = int(n)
    return {"program_mode": program.mentoring_mode.value, "mentors": modes.mode_counts(session),
            "requests_by_kind": kinds}


# --- requests -----------------------------------------------------------------------------------


def _requests_by_state(session: Session, program: Program) -> dict[str, int]:
    counts = {state.value: 0 for state in RequestState}
    rows = session.execute(
        select(MeetingRequest.state, func.count(MeetingRequest.id))
        .where(MeetingRequest.program_id == program.id)
        .group_by(MeetingRequest.state)
    )
    for state, n in rows:
        counts[RequestState(state).value] = int(n)
    return counts


def _seconds_between(dialect: str, start: Any, end: Any) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def _time_pending(session: Session, program: Program, dialect: str, now: datetime) -> dict[str, Any]:
    seconds = _seconds_between(dialect, MeetingRequest.created_at, MeetingRequest.answered_at)
    answered = and_(MeetingRequest.program_id == program.id, MeetingRequest.answered_at.is_not(None))
    if dialect == "postgresql":  # one pass, no row leaves the database
        count, average, median = session.execute(
            select(func.count(MeetingRequest.id), func.avg(seconds),
                   func.percentile_cont(0.5).within_group(seconds)).where(answered)
        ).one()
    else:
        count, average = session.execute(
            select(func.count(MeetingRequest.id), func.avg(seconds)).where(answered)
        ).one()
        median = _middle(session, seconds, answered, int(count))
    waiting, oldest = session.execute(
        select(func.count(MeetingRequest.id), func.min(MeetingRequest.created_at)).where(
            MeetingRequest.program_id == program.id, MeetingRequest.state == RequestState.PENDING
        )
    ).one()
    return {
        "answered": int(count),
        "average": _hours(average),
        "median": _hours(median),
        "still_pending": int(waiting),
        "oldest_pending": _hours((now - oldest).total_seconds()) if oldest is not None else None,
    }


def _middle(
    session: Session, value: ColumnElement[Any], where: ColumnElement[bool], count: int
) -> float | None:
    """The median of ``value`` over ``count`` rows (``statistics.median``'s: the mean of the middle
    two for an even count), in SQL without ``percentile_cont``: only the middle one or two rows are read."""
    if not count:
        return None
    middle = (select(value.label("v")).where(where).order_by(value)
              .limit(2 - count % 2).offset((count - 1) // 2))
    found = session.scalar(select(func.avg(middle.subquery().c.v)))
    return None if found is None else float(found)


def _decline_reasons(session: Session, program: Program) -> dict[str, int]:
    counts = {reason.value: 0 for reason in DeclineReason}
    rows = session.execute(
        select(MeetingRequest.decline_reason, func.count(MeetingRequest.id))
        .where(
            MeetingRequest.program_id == program.id,
            MeetingRequest.state == RequestState.DECLINED,
            MeetingRequest.decline_reason.is_not(None),
        )
        .group_by(MeetingRequest.decline_reason)
    )
    for reason, n in rows:
        counts[DeclineReason(str(reason)).value] = int(n)
    return counts


# --- meetings -----------------------------------------------------------------------------------


def _month_of(dialect: str, column: Any) -> ColumnElement[str]:
    if dialect == "postgresql":
        # Literals, not bound parameters: PostgreSQL must see the GROUP BY expression as the selected one.
        return func.to_char(func.timezone(literal_column("'UTC'"), column), literal_column("'YYYY-MM'"))
    return func.strftime(literal_column("'%Y-%m'"), column)


def _meetings_per_month(session: Session, program: Program, dialect: str) -> list[dict[str, Any]]:
    """Per UTC month of the meeting's start: held (completed), not held, canceled, still to come."""
    month = _month_of(dialect, Meeting.start_at).label("month")
    rows = session.execute(
        select(month, Meeting.state, func.count(Meeting.id))
        .where(Meeting.program_id == program.id)
        .group_by(month, Meeting.state)
    )
    table: dict[str, dict[str, Any]] = {}
    for label, state, n in rows:
        row = table.setdefault(label, {"month": label, **dict.fromkeys(MONTH_COLUMNS, 0)})
        state = MeetingState(state)
        if state == MeetingState.COMPLETED:
            row["held"] += int(n)
        elif state == MeetingState.NOT_HELD:
            row["not_held"] += int(n)
        elif state == MeetingState.CANCELED:
            row["canceled"] += int(n)
        elif state in ACTIVE_MEETING_STATES:
            row["upcoming"] += int(n)
    return [table[m] for m in sorted(table)]


# --- surveys ------------------------------------------------------------------------------------


def _survey_results(session: Session, program: Program) -> dict[str, Any]:
    invited = session.execute(
        select(
            SurveyInvitation.variant,
            func.count(SurveyInvitation.id),
            func.count(SurveyInvitation.answered_at),
        )
        .join(Meeting, Meeting.id == SurveyInvitation.meeting_id)
        .where(Meeting.program_id == program.id)
        .group_by(SurveyInvitation.variant)
    )
    invitations = {v.value: {"sent": 0, "answered": 0} for v in SurveyVariant}
    for variant, sent, answered in invited:
        invitations[SurveyVariant(variant).value] = {"sent": int(sent), "answered": int(answered)}

    value_text = cast(SurveyAnswer.value, String)
    counted: dict[int, dict[str, int]] = {}
    for question_id, raw, n in session.execute(
        select(SurveyAnswer.question_id, value_text, func.count(SurveyAnswer.id))
        .join(SurveyQuestion, SurveyQuestion.id == SurveyAnswer.question_id)
        .where(SurveyQuestion.program_id == program.id)
        .group_by(SurveyAnswer.question_id, value_text)
    ):
        counted.setdefault(question_id, {})[raw or "null"] = int(n)

    questions = session.scalars(
        select(SurveyQuestion)
        .where(SurveyQuestion.program_id == program.id)
        .order_by(
            SurveyQuestion.variant, SurveyQuestion.active.desc(), SurveyQuestion.position, SurveyQuestion.id
        )
    )
    texts = _text_answers(session, program)
    results = [
        _question_result(q, counted.get(q.id, {}), texts.get(q.id, []))
        for q in questions
        if q.active or q.id in counted
    ]
    return {
        "invitations": invitations,
        "disagreements": _disagreements(session, program),
        "questions": results,
    }


def _text_answers(session: Session, program: Program) -> dict[int, list[dict[str, Any]]]:
    """The written answers of each free-text question, newest first (at most ``TEXT_ANSWERS`` each),
    with whether a mentor or a mentee wrote them (not who: the report is read by every admin)."""
    rows = session.execute(
        select(SurveyAnswer.question_id, SurveyAnswer.text, SurveyInvitation.answered_at,
               SurveyInvitation.person_id, Meeting.mentor_id)
        .join(SurveyQuestion, SurveyQuestion.id == SurveyAnswer.question_id)
        .join(SurveyInvitation, SurveyInvitation.id == SurveyAnswer.invitation_id)
        .join(Meeting, Meeting.id == SurveyInvitation.meeting_id)
        .where(SurveyQuestion.program_id == program.id, SurveyQuestion.kind == QuestionKind.TEXT,
               SurveyAnswer.text != "")
        .order_by(SurveyInvitation.answered_at.desc(), SurveyAnswer.id.desc())
    )
    out: dict[int, list[dict[str, Any]]] = {}
    for question_id, text, answered_at, person_id, mentor_id in rows:
        found = out.setdefault(question_id, [])
        if len(found) < TEXT_ANSWERS:
            when = answered_at.isoformat().replace("+00:00", "Z") if answered_at else ""
            found.append({"text": text, "by": "mentor" if person_id == mentor_id else "mentee",
                          "answered_at": when})
    return out


def _question_result(
    question: SurveyQuestion, counts: dict[str, int], texts: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """One question's figures from ``{json-encoded value: count}`` (and a text question's answers)."""
    values = {json.loads(raw): n for raw, n in counts.items()} if question.kind != QuestionKind.TEXT else {}
    out: dict[str, Any] = {
        "question_id": question.id,
        "variant": question.variant.value,
        "position": question.position,
        "text": question.text,
        "kind": question.kind.value,
        "active": question.active,
        "audience": question.audience.value,
        "answers": sum(counts.values()),
    }
    if question.kind == QuestionKind.TEXT:
        out["texts"] = list(texts or [])
    if question.kind == QuestionKind.TOOK_PLACE:
        out["yes"] = values.get(True, 0)
        out["no"] = values.get(False, 0)
    elif question.kind == QuestionKind.RATING:
        distribution = {str(r): values.get(r, 0) for r in range(RATING_MIN, RATING_MAX + 1)}
        total = sum(distribution.values())
        mean = sum(int(r) * n for r, n in distribution.items()) / total if total else None
        out["distribution"] = distribution
        out["mean"] = round(mean, 2) if mean is not None else None
    elif question.kind == QuestionKind.CHOICE:
        choices = list(question.choices or [])
        choices += sorted(str(v) for v in values if v not in choices)  # answers to a since-renamed choice
        out["counts"] = {c: values.get(c, 0) for c in choices}
    return out


def _disagreements(session: Session, program: Program) -> int:
    """Meetings whose two answered surveys disagree on whether the meeting took place."""
    split = (
        select(SurveyInvitation.meeting_id)
        .join(Meeting, Meeting.id == SurveyInvitation.meeting_id)
        .where(Meeting.program_id == program.id, SurveyInvitation.took_place.is_not(None))
        .group_by(SurveyInvitation.meeting_id)
        .having(func.count(func.distinct(SurveyInvitation.took_place)) > 1)
        .subquery()
    )
    return int(session.scalar(select(func.count()).select_from(split)) or 0)


# --- skills -------------------------------------------------------------------------------------


def _skills(session: Session, program: Program, limit: int) -> list[dict[str, Any]]:
    # Requests per mentor first (a few hundred rows), then spread over the mentors' skills:
    # much cheaper than joining every request to every skill. (person, skill, relation) is
    # unique, so a request counts once per skill.
    per_mentor = (
        select(MeetingRequest.mentor_id, func.count(MeetingRequest.id).label("n"))
        .where(MeetingRequest.program_id == program.id)
        .group_by(MeetingRequest.mentor_id)
        .subquery()
    )
    requested = session.execute(
        select(Skill.name, func.sum(per_mentor.c.n))
        .join(PersonSkill, PersonSkill.skill_id == Skill.id)
        .join(per_mentor, per_mentor.c.mentor_id == PersonSkill.person_id)
        .where(PersonSkill.relation == SkillRelation.OFFERS)
        .group_by(Skill.name)
    )
    table: dict[str, dict[str, Any]] = {}

    def row(name: str) -> dict[str, Any]:
        return table.setdefault(name, {"skill": name, "requested": 0, "wanted": 0, "offered": 0})

    for name, n in requested:
        row(name)["requested"] = int(n)
    for key, relation, role in (
        ("wanted", SkillRelation.WANTS, Person.is_mentee),
        ("offered", SkillRelation.OFFERS, Person.is_mentor),
    ):
        for name, n in session.execute(
            select(Skill.name, func.count(PersonSkill.person_id))
            .join(PersonSkill, PersonSkill.skill_id == Skill.id)
            .join(Person, Person.id == PersonSkill.person_id)
            .where(PersonSkill.relation == relation, Person.active.is_(True), role.is_(True))
            .group_by(Skill.name)
        ):
            row(name)[key] = int(n)
    ranked = sorted(table.values(), key=lambda r: (-r["requested"], -r["wanted"], -r["offered"], r["skill"]))
    return ranked[:limit]


SKILL_MEETING_COLUMNS = ("requests", "held", "upcoming", "not_held", "canceled", "action_plans")


def _meetings_by_skill(session: Session, program: Program) -> list[dict[str, Any]]:
    """Per skill a request named (so outcomes tie to skills): requests, their meetings by outcome,
    and the held meetings that closed with an action plan; most held first."""
    table: dict[str, dict[str, Any]] = {}

    def row(name: str) -> dict[str, Any]:
        return table.setdefault(name, {"skill": name, **dict.fromkeys(SKILL_MEETING_COLUMNS, 0)})

    for name, n in session.execute(
        select(Skill.name, func.count(MeetingRequest.id))
        .join(MeetingRequest, MeetingRequest.skill_id == Skill.id)
        .where(MeetingRequest.program_id == program.id)
        .group_by(Skill.name)
    ):
        row(name)["requests"] = int(n)
    planned = func.sum(case((Meeting.action_plan != "", 1), else_=0))
    for name, state, n, plans in session.execute(
        select(Skill.name, Meeting.state, func.count(Meeting.id), planned)
        .join(MeetingRequest, MeetingRequest.skill_id == Skill.id)
        .join(Meeting, Meeting.request_id == MeetingRequest.id)
        .where(MeetingRequest.program_id == program.id)
        .group_by(Skill.name, Meeting.state)
    ):
        entry, state = row(name), MeetingState(state)
        if state == MeetingState.COMPLETED:
            entry["held"] += int(n)
        elif state == MeetingState.NOT_HELD:
            entry["not_held"] += int(n)
        elif state == MeetingState.CANCELED:
            entry["canceled"] += int(n)
        else:
            entry["upcoming"] += int(n)
        entry["action_plans"] += int(plans or 0)
    return sorted(table.values(), key=lambda r: (-r["held"], -r["requests"], r["skill"].casefold()))


# --- helpers ------------------------------------------------------------------------------------


def _hours(seconds: Any) -> float | None:
    return None if seconds is None else round(float(seconds) / HOUR, 2)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


# --- CSV ----------------------------------------------------------------------------------------


def health_csv(report: dict[str, Any]) -> str:
    """The report as CSV: one section per table, each a title row, a header row, data rows, a blank row.

    Columns are fixed per section (rating 1..5 and yes/no are columns, not keys)
    so a spreadsheet built on an export keeps working on the next one.
    """
    out = io.StringIO()
    writer = csv_writer(out, lineterminator="\n")  # no cell a spreadsheet would run as a formula

    def section(title: str, header: list[str], rows: Iterable[list[Any]]) -> None:
        writer.writerow([title])
        writer.writerow(header)
        for r in rows:
            writer.writerow(["" if v is None else v for v in r])
        writer.writerow([])

    pending = report["time_pending_hours"]
    surveys = report["surveys"]
    section(
        "summary",
        ["measure", "value"],
        [
            ["program", report["program"]["name"]],
            ["generated_at", report["generated_at"]],
            ["requests_total", report["requests_total"]],
            ["acceptance_rate", report["acceptance_rate"]],
            ["requests_answered", pending["answered"]],
            ["average_hours_pending", pending["average"]],
            ["median_hours_pending", pending["median"]],
            ["still_pending", pending["still_pending"]],
            ["oldest_pending_hours", pending["oldest_pending"]],
            *[[f"surveys_{v}_sent", n["sent"]] for v, n in surveys["invitations"].items()],
            *[[f"surveys_{v}_answered", n["answered"]] for v, n in surveys["invitations"].items()],
            ["took_place_disagreements", surveys["disagreements"]],
            ["messages", report["conversations"]["messages"]],
            ["requests_with_messages", report["conversations"]["threads"]],
        ],
    )
    section("requests_by_state", ["state", "count"], [[s, n] for s, n in report["requests_by_state"].items()])
    section(
        "meetings_per_month",
        ["month", *MONTH_COLUMNS],
        [[m["month"], *[m[c] for c in MONTH_COLUMNS]] for m in report["meetings_per_month"]],
    )
    ratings = [str(r) for r in range(RATING_MIN, RATING_MAX + 1)]
    section(
        "survey_questions",
        ["variant", "position", "question_id", "question", "kind", "active", "answers", "mean",
         *[f"rating_{r}" for r in ratings], "yes", "no"],
        [
            [q["variant"], q["position"], q["question_id"], q["text"], q["kind"], q["active"], q["answers"],
             q.get("mean"), *[q.get("distribution", {}).get(r) for r in ratings], q.get("yes"), q.get("no")]
            for q in surveys["questions"]
        ],
    )
    section(
        "survey_choices",
        ["variant", "question_id", "question", "choice", "count"],
        [
            [q["variant"], q["question_id"], q["text"], choice, n]
            for q in surveys["questions"]
            for choice, n in q.get("counts", {}).items()
        ],
    )
    section(
        "skills",
        ["skill", "requested", "wanted", "offered"],
        [[s["skill"], s["requested"], s["wanted"], s["offered"]] for s in report["skills"]],
    )
    section(
        "meetings_by_skill",
        ["skill", *SKILL_MEETING_COLUMNS],
        [[s["skill"], *[s[c] for c in SKILL_MEETING_COLUMNS]] for s in report["meetings_by_skill"]],
    )
    section("decline_reasons", ["reason", "count"], [[r, n] for r, n in report["decline_reasons"].items()])
    section(
        "skill_changes_after_meetings",
        ["skill", "people", "average_level_change"],
        [[c["skill"], c["people"], c["average_delta"]] for c in report["skill_changes"]],
    )
    return out.getvalue()
