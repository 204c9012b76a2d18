"""Alembic environment: runs against the URL given by `ticketry.migrations.alembic_config`."""

from __future__ import annotations

from alembic import context

from ticketry.core.db import make_engine
from ticketry.migrations.models import include_name, metadata

config = context.config


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url must be set"
    engine = make_engine(url, pool_size=1)
    # Migrations write: take the SQLite write lock up front like any writer.
    with engine.connect().execution_options(ticketry_write=True) as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            include_name=include_name,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
