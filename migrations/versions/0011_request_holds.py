"""request holds: a pending request's tentative holds in the mentor's calendar, and the program setting

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

import scheduling.db

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("programs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("calendar_holds", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        "request_holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("proposed_time_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=255), nullable=False),
        sa.Column("calendar_id", sa.String(length=500), nullable=False),
        sa.Column("event_id", sa.String(length=500), nullable=False),
        sa.Column("etag", sa.String(length=200), nullable=False),
        sa.Column("start_at", scheduling.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("end_at", scheduling.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("answer", sa.String(length=20), nullable=False),
        sa.Column("created_at", scheduling.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["proposed_time_id"], ["proposed_times.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["request_id"], ["meeting_requests.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tenant_id"], ["calendar_tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id", "proposed_time_id"),
        sa.UniqueConstraint("uid"),
    )
    with op.batch_alter_table("request_holds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_request_holds_request_id"), ["request_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("request_holds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_request_holds_request_id"))
    op.drop_table("request_holds")
    with op.batch_alter_table("programs", schema=None) as batch_op:
        batch_op.drop_column("calendar_holds")
