"""``flask --app wsgi tenants ...``: connect calendar tenants, test them, link people, sync.

Secrets are never taken from the command line (shell history, process lists): they are
read from a file (``--secret-file``, ``-`` for stdin) or asked for without echo.
"""

from __future__ import annotations

import json
from typing import IO, Any

import click
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import new_session
from scheduling.errors import DomainError

tenants_cli = AppGroup("tenants", help="Calendar tenants (Google, Microsoft 365, CalDAV).")


def _read_secret(secret_file: IO[str] | None, ask: bool, prompt: str) -> str | None:
    if secret_file is not None:
        return secret_file.read().strip() or None
    if ask:
        value: str = click.prompt(prompt, hide_input=True, default="", show_default=False)
        return value or None
    return None


def _tenant(session: Session, ref: str) -> Any:
    from scheduling.models import CalendarTenant

    tenant = session.get(CalendarTenant, int(ref)) if ref.isdigit() else None
    tenant = tenant or session.scalar(select(CalendarTenant).where(CalendarTenant.name == ref))
    if tenant is None:
        raise click.ClickException(f"No tenant {ref!r}.")
    return tenant


def _person(session: Session, email: str) -> Any:
    from scheduling.models import Person

    person = session.scalar(select(Person).where(Person.email == email.strip().lower()))
    if person is None:
        raise click.ClickException(f"No person with email {email!r}.")
    return person


@tenants_cli.command("add")
@click.option("--name", required=True)
@click.option("--provider", required=True, type=click.Choice(["google", "microsoft", "caldav"]))
@click.option(
    "--config", "config_json", default="{}", help='Settings as JSON, e.g. \'{"domain": "example.com"}\'.'
)
@click.option("--secret-file", type=click.File("r"), help="File holding the secret ('-' for stdin).")
@click.option("--ask-secret", is_flag=True, help="Prompt for the secret without echo.")
def tenants_add(
    name: str, provider: str, config_json: str, secret_file: IO[str] | None, ask_secret: bool
) -> None:
    """Connect a calendar tenant (the secret is stored encrypted)."""
    from scheduling import tenants

    try:
        config = json.loads(config_json)
    except ValueError:
        raise click.ClickException("--config is not valid JSON.") from None
    secret = _read_secret(secret_file, ask_secret, "Secret")
    with new_session() as session:
        try:
            tenant = tenants.create_tenant(
                session, name=name, provider=provider, config=config, secret=secret
            )
        except DomainError as exc:
            raise click.ClickException(f"{exc.field or 'tenant'}: {exc.message}") from None
        click.echo(f"Added tenant {tenant.id} {tenant.name!r} ({tenant.provider.value}).")
        consent = tenants.admin_consent_url(tenant, "http://localhost/admin/tenants/consent")
        if consent:
            click.echo(f"Admin consent: {consent}")


@tenants_cli.command("list")
def tenants_list() -> None:
    """List tenants (secrets show only as set / not set)."""
    from scheduling import tenants

    with new_session() as session:
        for tenant in tenants.list_tenants(session):
            info = tenants.describe_tenant(tenant)
            click.echo(
                f"{info['id']}\t{info['name']}\t{info['provider']}\tsecret {info['secret']}\t"
                f"{info['accounts']} account(s)\t{info['last_sync_status'] or 'never synced'}"
            )


@tenants_cli.command("test")
@click.argument("tenant")
@click.option("--person", "email", help="Also open this person's calendar.")
def tenants_test(tenant: str, email: str | None) -> None:
    """Try the tenant's credentials and say what failed."""
    from scheduling import tenants

    with new_session() as session:
        found = _tenant(session, tenant)
        person = _person(session, email) if email else None
        check = tenants.test_connection(session, found, person=person)
    click.echo(("OK: " if check.ok else f"FAILED ({check.problem}): ") + check.message)
    if not check.ok:
        raise SystemExit(1)


@tenants_cli.command("connect")
@click.argument("tenant")
@click.option("--person", "email", required=True)
@click.option("--external-id", default=None, help="Calendar address (Google/Microsoft) or URL (CalDAV).")
@click.option("--username", default="")
@click.option("--secret-file", type=click.File("r"), help="Per-person credential ('-' for stdin).")
@click.option("--ask-secret", is_flag=True)
def tenants_connect(
    tenant: str,
    email: str,
    external_id: str | None,
    username: str,
    secret_file: IO[str] | None,
    ask_secret: bool,
) -> None:
    """Link a person to their calendar in the tenant."""
    from scheduling import tenants

    secret = _read_secret(secret_file, ask_secret, "Password or token")
    with new_session() as session:
        found = _tenant(session, tenant)
        person = _person(session, email)
        try:
            account = tenants.connect_account(
                session,
                person=person,
                tenant=found,
                external_id=external_id,
                username=username,
                secret=secret,
                assigned_by=tenants.OPERATOR,
            )
        except DomainError as exc:
            raise click.ClickException(f"{exc.field or 'account'}: {exc.message}") from None
        click.echo(f"Connected {person.email} -> {account.external_id}.")


@tenants_cli.command("sync")
@click.argument("tenant")
def tenants_sync(tenant: str) -> None:
    """Apply calendar changes (moves, deletes, declines) to meetings now."""
    from worker.calendar_jobs import sync_tenant

    with new_session() as session:
        found = _tenant(session, tenant)
        result = sync_tenant(found.id, session=session)
    click.echo(f"{len(result.applied)} change(s) applied; {len(result.errors)} calendar(s) failed.")
    for error in result.errors:
        click.echo("  " + error)


def register_secrets_rotate(secrets_cli: AppGroup) -> None:
    """Add ``secrets rotate`` to the existing ``secrets`` group."""

    @secrets_cli.command("rotate")
    def secrets_rotate() -> None:
        """Re-encrypt stored calendar secrets with the first key in FLASHMENTOR_SECRET_KEYS."""
        from scheduling.tenants import rotate_secrets

        with new_session() as session:
            count = rotate_secrets(session)
        click.echo(f"Re-encrypted {count} secret(s) with the newest key.")
