"""``flask --app wsgi ...`` commands: database, demo data, worker, secrets."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

db_cli = AppGroup("db", help="Database schema.")
secrets_cli = AppGroup("secrets", help="Encryption keys for stored calendar secrets.")


@db_cli.command("upgrade")
@click.option("--revision", default="head")
def db_upgrade(revision: str) -> None:
    """Create or migrate the database schema (Alembic)."""
    from scheduling.migrate import upgrade

    upgrade(current_app.config.get("DATABASE_URL"), revision)
    click.echo("database is at " + revision)


@secrets_cli.command("genkey")
def secrets_genkey() -> None:
    """Print a new Fernet key for FLASHMENTOR_SECRET_KEYS."""
    from scheduling.crypto import generate_key

    click.echo(generate_key())


def register_cli(app: Flask) -> None:
    app.cli.add_command(db_cli)
    app.cli.add_command(secrets_cli)
