"""The `ticketry` command: serve, worker, migrate, createadmin, demo."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from ticketry.core.config import get_settings

app = typer.Typer(help="Ticketry helpdesk.", no_args_is_help=True, add_completion=False)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Web processes (use PostgreSQL for more than one).")] = 1,
    migrate_first: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="Apply migrations first.")
    ] = True,
) -> None:
    """Serve the web app and API; on a single node also runs the background worker."""
    import uvicorn

    if migrate_first:
        migrate()
    uvicorn.run(
        "ticketry.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        http="httptools",
        loop="uvloop",
        proxy_headers=True,
        log_level=get_settings().log_level.lower(),
        access_log=False,
    )


@app.command()
def worker(
    poll: Annotated[float, typer.Option(help="Seconds between polls when idle.")] = 0.5,
) -> None:
    """Run a standalone job worker (any number at once on PostgreSQL)."""
    from ticketry.app import configure_logging
    from ticketry.core.db import Database
    from ticketry.jobs.worker import Worker

    settings = get_settings()
    configure_logging(settings.log_level)
    db = Database.connect(settings.database_url, pool_size=2)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    Worker(db).run_forever(stop, poll_seconds=poll)
    db.dispose()


@app.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    from ticketry.migrations import upgrade

    upgrade(get_settings().database_url)
    typer.echo("Database is up to date.")


@app.command()
def createadmin(
    email: Annotated[str, typer.Option(prompt=True, help="The admin's e-mail address.")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    name: Annotated[str, typer.Option(help="Display name.")] = "Administrator",
) -> None:
    """Create an admin account (non-interactive with --email and --password)."""
    from ticketry.auth.passwords import hash_password
    from ticketry.auth.service import check_new_password
    from ticketry.core.db import Database
    from ticketry.core.errors import DomainError
    from ticketry.users import service as users
    from ticketry.users.models import Role

    db = Database.connect(get_settings().database_url, pool_size=1)
    try:
        check_new_password(password)
        with db.unit_of_work() as session:
            users.create_user(
                session, email=email, name=name, role=Role.ADMIN, password_hash=hash_password(password)
            )
    except DomainError as error:
        typer.echo(f"Error: {error.message}", err=True)
        raise typer.Exit(code=2) from error
    finally:
        db.dispose()
    typer.echo(f"Admin {email} created.")


@app.command()
def demo(
    tickets: Annotated[int, typer.Option(help="How many tickets to create.")] = 200,
    seed: Annotated[int, typer.Option(help="Random seed, for repeatable data.")] = 7,
) -> None:
    """Load realistic demo data (skipped if it is already there) and print the logins."""
    from ticketry.core.db import Database
    from ticketry.demo import DEMO_PASSWORD, load_demo

    db = Database.connect(get_settings().database_url, pool_size=1)
    try:
        accounts = load_demo(db, tickets=tickets, seed=seed)
    finally:
        db.dispose()
    typer.echo(f"\nDemo logins (password for all: {DEMO_PASSWORD}):")
    for role, email in accounts:
        typer.echo(f"  {role:<9} {email}")
    typer.echo("")


def main() -> None:
    app()
