"""the mentee's answer to the invitation (an iTIP REPLY by mail)

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

import scheduling.db

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "mentee_answer",
                sa.Enum("accepted", "tentative", "declined", name="attendeeanswer", native_enum=False, length=16),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("mentee_answered_at", scheduling.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_column("mentee_answered_at")
        batch_op.drop_column("mentee_answer")
