"""Run Alembic migrations programmatically (used by the CLI and the tests)."""

from __future__ import annotations

import os

from alembic import command
from alembic.config import Config

import migrations

MIGRATIONS_DIR = os.path.dirname(os.path.abspath(migrations.__file__))


def alembic_config(url: str | None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS_DIR)
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str | None, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str | None, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)
