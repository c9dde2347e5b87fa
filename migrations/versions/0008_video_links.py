"""video links: a meeting's join link, and the program's video settings

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("video_url", sa.String(length=1300), server_default="", nullable=False))
    with op.batch_alter_table("programs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("video_links", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(
            sa.Column("video_url_template", sa.String(length=500), server_default="", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("programs", schema=None) as batch_op:
        batch_op.drop_column("video_url_template")
        batch_op.drop_column("video_links")
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_column("video_url")
