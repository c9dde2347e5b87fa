"""timed work rows remember the RQ job of a batched hand-over (several rows of one kind per job)

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("timed_work", schema=None) as batch_op:
        batch_op.add_column(sa.Column("batch_job_id", sa.String(length=250), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("timed_work", schema=None) as batch_op:
        batch_op.drop_column("batch_job_id")
