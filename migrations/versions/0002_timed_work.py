"""timed work: follow-ups of state changes kept as rows (the outbox the relay reads)

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

import scheduling.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

KINDS = (
    "request.created", "request.answered", "request.reminder", "request.auto_close",
    "meeting.calendar_write", "meeting.calendar_cancel", "meeting.invite", "meeting.reminder",
    "meeting.survey", "meeting.survey_reminder", "calendar.sync_tenant", "calendar.ensure_push",
    "calendar.sync_round", "calendar.push_round",
)
STATES = ("due", "queued", "done", "canceled", "dead")


def upgrade() -> None:
    op.create_table(
        "timed_work",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.Enum(*KINDS, name="workkind", native_enum=False, length=40), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("due_at", scheduling.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("state", sa.Enum(*STATES, name="workstate", native_enum=False, length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("relays", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("relayed_at", scheduling.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", scheduling.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", scheduling.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timed_work")),
        sa.UniqueConstraint("key", name=op.f("uq_timed_work_key")),
    )
    op.create_index("ix_timed_work_state_due_at", "timed_work", ["state", "due_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_timed_work_state_due_at", table_name="timed_work")
    op.drop_table("timed_work")
