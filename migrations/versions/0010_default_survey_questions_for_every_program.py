"""default survey questions for every program

Reading a program's survey questions used to create its defaults on first look; now a
program gets them when it is created, and this gives every older program that has none
of a variant the same defaults that first look would have made. Data only.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

from scheduling.services.surveys import DEFAULT_QUESTIONS

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

programs = sa.table("programs", sa.column("id", sa.Integer()))
questions = sa.table(
    "survey_questions",
    sa.column("program_id", sa.Integer()),
    sa.column("variant", sa.String()),
    sa.column("audience", sa.String()),
    sa.column("position", sa.Integer()),
    sa.column("text", sa.String()),
    sa.column("kind", sa.String()),
    sa.column("choices", sa.JSON()),
    sa.column("required", sa.Boolean()),
    sa.column("active", sa.Boolean()),
)


def upgrade() -> None:
    conn = op.get_bind()
    present = sa.select(questions.c.program_id, questions.c.variant).distinct()
    have = {tuple(row) for row in conn.execute(present)}
    rows = [
        {"program_id": program_id, "variant": variant.value, "audience": q.audience.value,
         "position": position, "text": q.text, "kind": q.kind.value, "choices": list(q.choices),
         "required": q.required, "active": True}
        for program_id in conn.execute(sa.select(programs.c.id)).scalars()
        for variant, defaults in DEFAULT_QUESTIONS.items()
        if (program_id, variant.value) not in have
        for position, q in enumerate(defaults)
    ]
    if rows:
        op.bulk_insert(questions, rows)


def downgrade() -> None:
    pass  # the questions stay: they may have answers by now
