"""The survey editor: the questions asked after a meeting that was held, and after one that was canceled.

A plain form (no script): one row per question with its text, kind, choices (one
per line), whether it is required, its order, and a "remove" box; blank rows add
questions. The rows become the list :func:`replace_questions` takes, and its errors
(``questions[2].choices``) are shown next to the row they are about. The first
question ("Did this meeting take place?") is fixed in place, as the service requires.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flask import flash, render_template, request

from app.admin import bp
from app.admin.forms import back_to
from app.db import db
from scheduling.errors import DomainError
from scheduling.models import QuestionKind, SurveyAudience, SurveyVariant
from scheduling.services.program import get_program
from scheduling.services.surveys import questions_for, replace_questions
from scheduling.terms import Terms, terms_of

NEW_ROWS = 3
MAX_ROWS = 40
EDITABLE_KINDS = tuple(k for k in QuestionKind if k != QuestionKind.TOOK_PLACE)
_ERROR_FIELD = re.compile(r"^questions\[(\d+)\](?:\.(\w+))?")


def audiences(terms: Terms) -> list[tuple[str, str]]:
    """The "Asked of" choices, in the program's own words ("Guides only")."""
    return [(SurveyAudience.EVERYONE.value, "Both sides"),
            (SurveyAudience.MENTOR.value, f"{terms.Mentors} only"),
            (SurveyAudience.MENTEE.value, f"{terms.Mentees} only")]


@dataclass
class Row:
    """One question row of the form, as shown (and as posted back)."""

    index: int
    id: int | None = None
    text: str = ""
    kind: str = QuestionKind.RATING.value
    choices: str = ""
    required: bool = False
    remove: bool = False
    order: str = ""
    fixed: bool = False  # the took-place question: first, required, not removable
    audience: str = SurveyAudience.EVERYONE.value  # the mentor survey, the mentee survey, or both
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def blank(self) -> bool:
        return self.id is None and not self.text.strip() and not self.choices.strip()

    def as_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {"text": self.text, "kind": self.kind, "required": self.required,
                                "audience": SurveyAudience.EVERYONE.value if self.fixed else self.audience}
        if self.id is not None:
            item["id"] = self.id
        if self.kind == QuestionKind.CHOICE.value or self.choices.strip():
            item["choices"] = [c.strip() for c in self.choices.splitlines() if c.strip()]
        return item


def _variant() -> SurveyVariant:
    raw = request.values.get("variant") or SurveyVariant.HELD.value
    try:
        return SurveyVariant(raw)
    except ValueError:
        return SurveyVariant.HELD


def _rows_from_db(variant: SurveyVariant) -> list[Row]:
    session = db()
    questions = questions_for(session, get_program(session), variant)
    rows = [
        Row(i, q.id, q.text, q.kind.value, "\n".join(q.choices or []), q.required, False, str(i + 1),
            fixed=q.kind == QuestionKind.TOOK_PLACE, audience=q.audience.value)
        for i, q in enumerate(questions)
    ]
    start = len(rows)
    rows += [Row(start + j, order=str(start + j + 1)) for j in range(NEW_ROWS)]
    return rows


def _rows_from_form() -> list[Row]:
    raw_count = request.form.get("rows", "0")
    count = min(int(raw_count), MAX_ROWS) if raw_count.isdigit() else 0
    rows = []
    for i in range(count):
        def get(name: str, i: int = i) -> str:
            return request.form.get(f"q-{i}-{name}", "")

        raw_id = get("id").strip()
        rows.append(Row(
            index=i,
            id=int(raw_id) if raw_id.isdigit() else None,
            text=get("text"),
            kind=get("kind") or QuestionKind.RATING.value,
            choices=get("choices"),
            required=bool(get("required")),
            remove=bool(get("remove")),
            order=get("order").strip(),
            fixed=get("kind") == QuestionKind.TOOK_PLACE.value and i == 0,
            audience=get("audience") or SurveyAudience.EVERYONE.value,
        ))
    return rows


def _order_key(row: Row) -> tuple[int, float, int]:
    if row.fixed:
        return (0, 0.0, row.index)
    try:
        return (1, float(row.order), row.index)
    except ValueError:
        return (1, float(row.index + 1), row.index)


def _render(variant: SurveyVariant, rows: list[Row], problem: str = "", status: int = 200) -> Any:
    return render_template(
        "admin/surveys.html",
        variant=variant,
        variants=list(SurveyVariant),
        rows=rows,
        kinds=EDITABLE_KINDS,
        audiences=audiences(terms_of(get_program(db()))),
        problem=problem,
    ), status


@bp.get("/surveys")
def surveys_page() -> Any:
    variant = _variant()
    return _render(variant, _rows_from_db(variant))


@bp.post("/surveys")
def surveys_save() -> Any:
    variant = _variant()
    rows = _rows_from_form()
    kept = sorted((r for r in rows if not r.blank and not (r.remove and not r.fixed)), key=_order_key)
    session = db()
    try:
        replace_questions(session, get_program(session), variant, [r.as_item() for r in kept])
    except DomainError as exc:
        session.rollback()
        match = _ERROR_FIELD.match(exc.field or "")
        if match and int(match[1]) < len(kept):
            kept[int(match[1])].errors[match[2] or "text"] = exc.message
            return _render(variant, rows, "Nothing was saved: fix the question marked below.", 422)
        return _render(variant, rows, f"Nothing was saved: {exc.message}", 422)
    flash(f"The {variant.value} survey is saved ({len(kept)} questions).", "success")
    return back_to("admin.surveys_page", variant=variant.value)
