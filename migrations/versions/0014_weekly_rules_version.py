"""people.weekly_rules_version: a new random value whenever a person's weekly slots change, so
processes may memoise each mentor's weekly rules (scheduling.availability.mentors_rules)

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("weekly_rules_version", sa.BigInteger(), server_default="0", nullable=False)
        )
    # Existing people get a random version each (0 means "never memoise").
    if op.get_bind().dialect.name == "postgresql":
        fresh = "1 + floor(random() * 4611686018427387903)::bigint"
    else:
        fresh = "1 + abs(random() % 4611686018427387903)"
    op.execute(f"UPDATE people SET weekly_rules_version = {fresh}")


def downgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_column("weekly_rules_version")
