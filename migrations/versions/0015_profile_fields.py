"""profile fields an admin defines (location, languages...) and each person's answers

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "profile_fields",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=60), nullable=False),
        sa.Column("choices", sa.JSON(), nullable=False),
        sa.Column("filterable", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["program_id"], ["programs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_profile_fields_program_id"), "profile_fields", ["program_id"], unique=False)
    op.create_table(
        "profile_answers",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("field_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["field_id"], ["profile_fields.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("person_id", "field_id"),
    )
    op.create_index(op.f("ix_profile_answers_field_id"), "profile_answers", ["field_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_profile_answers_field_id"), table_name="profile_answers")
    op.drop_table("profile_answers")
    op.drop_index(op.f("ix_profile_fields_program_id"), table_name="profile_fields")
    op.drop_table("profile_fields")
