"""The `ticketry` command: serve, worker, migrate, createadmin, demo, storage migrate."""

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

    from ticketry import serving

    if migrate_first:
        migrate()
    # TICKETRY_TRUSTED_PROXIES is the one switch for X-Forwarded-*: uvicorn would otherwise believe
    # them from 127.0.0.1 whatever the setting says (and `http.deps.client_ip` reads the same list).
    proxies = get_settings().trusted_proxies.replace(",", " ").split()
    options = {
        "app": "ticketry.app:create_app",
        "factory": True,
        "http": "httptools",
        "loop": "uvloop",
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": ",".join(proxies) or None,
        "log_level": get_settings().log_level.lower(),
        "access_log": False,
    }
    if workers > 1 and serving.supported():
        # One socket per process, so connections spread over them (ticketry/serving.py).
        try:
            serving.serve(host, port, workers, options)
        except OSError as error:
            typer.echo(f"Error: cannot listen on {host}:{port}: {error.strerror or error}", err=True)
            raise typer.Exit(code=1) from error
        except serving.GaveUp as error:
            typer.echo(f"Error: {error}; see the log above.", err=True)
            raise typer.Exit(code=1) from error
        return
    uvicorn.run(host=host, port=port, workers=workers, **options)  # type: ignore[arg-type]


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
    from ticketry.attachments.intake import FileStore
    from ticketry.core.db import Database
    from ticketry.demo import DEMO_PASSWORD, load_demo

    settings = get_settings()
    db = Database.connect(settings.database_url, pool_size=1)
    try:
        accounts = load_demo(db, tickets=tickets, seed=seed, files=FileStore.from_settings(settings))
    finally:
        db.dispose()
    typer.echo(f"\nDemo logins (password for all: {DEMO_PASSWORD}):")
    for role, email in accounts:
        typer.echo(f"  {role:<9} {email}")
    typer.echo("")


storage_app = typer.Typer(help="Attachment storage.", no_args_is_help=True)
app.add_typer(storage_app, name="storage")


@storage_app.command("migrate")
def storage_migrate(
    source: Annotated[
        str, typer.Option("--from", help="Where the files are: a directory or s3://bucket/prefix.")
    ],
    target: Annotated[
        str | None, typer.Option("--to", help="Where they go (default: TICKETRY_STORAGE_URL).")
    ] = None,
) -> None:
    """Copy every stored file to another backend, verifying each. Interrupt and rerun at will:
    files already there are skipped. Then point TICKETRY_STORAGE_URL at the target."""
    from ticketry.attachments import service as attachments
    from ticketry.attachments.storage import storage_from_url
    from ticketry.core.db import Database

    settings = get_settings()
    try:
        origin = storage_from_url(source, settings)
        goal = storage_from_url(target or settings.storage_url, settings)
    except ValueError as error:
        typer.echo(f"Error: {error}", err=True)
        raise typer.Exit(code=2) from error
    if origin.description == goal.description:
        typer.echo(f"Error: --from and --to are the same storage ({goal.description}).", err=True)
        raise typer.Exit(code=2)
    db = Database.connect(settings.database_url, pool_size=1)
    done = 0

    def progress(key: str, outcome: str) -> None:
        nonlocal done
        done += 1
        if outcome in ("missing", "corrupt"):
            typer.echo(f"  {outcome}: {key}", err=True)
        elif done % 100 == 0:
            typer.echo(f"  {done} files…")

    try:
        report = attachments.migrate_storage(db, origin, goal, progress=progress)
    finally:
        db.dispose()
    typer.echo(
        f"{origin.description} → {goal.description}: {report.copied} copied, "
        f"{report.skipped} already there, {len(report.missing)} missing, {len(report.corrupt)} corrupt."
    )
    if report.missing or report.corrupt:
        raise typer.Exit(code=1)


def main() -> None:
    app()
