"""calendar connection health: broken since when and why, failed syncs in a row, last success

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

import scheduling.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calendar_accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "health",
                sa.Enum("ok", "broken", name="connectionhealth", native_enum=False, length=16),
                server_default=sa.text("'ok'"),
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("broken_since", scheduling.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("broken_reason", sa.Text(), server_default=sa.text("''"), nullable=False))
        batch_op.add_column(sa.Column("failed_syncs", sa.Integer(), server_default=sa.text("0"), nullable=False))
        batch_op.add_column(sa.Column("last_ok_at", scheduling.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("calendar_accounts", schema=None) as batch_op:
        batch_op.drop_column("last_ok_at")
        batch_op.drop_column("failed_syncs")
        batch_op.drop_column("broken_reason")
        batch_op.drop_column("broken_since")
        batch_op.drop_column("health")
