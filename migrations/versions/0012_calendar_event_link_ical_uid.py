"""calendar event links keep the UID the provider assigned (Exchange's iCalUId, read-only in Graph)

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calendar_event_links", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ical_uid", sa.String(length=500), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("calendar_event_links", schema=None) as batch_op:
        batch_op.drop_column("ical_uid")
