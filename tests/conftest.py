"""Test databases built by the real migrations, on SQLite and (when configured) PostgreSQL.

Every test that takes `db` runs once per backend. The schema is migrated once per session;
each test then gets a clean copy: a copied SQLite file, or a PostgreSQL database emptied by
TRUNCATE and re-seeded with the rows the migrations seed.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ticketry.app import create_app
from ticketry.core.config import Settings, get_settings
from ticketry.core.db import Database, normalize_url
from ticketry.migrations import upgrade

POSTGRES_URL = os.environ.get("TICKETRY_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]
SEEDED_TABLES = ("departments",)

# Fast, deterministic settings for every test.
os.environ.setdefault("TICKETRY_SECRET_KEY", "test-secret-key")
os.environ["TICKETRY_INPROCESS_WORKER"] = "false"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


class PostgresTemplate:
    """One migrated database per test session; tests reuse it after a TRUNCATE."""

    def __init__(self, base_url: str) -> None:
        self.name = f"ticketry_test_{uuid.uuid4().hex[:10]}"
        base = make_url(normalize_url(base_url))
        self.admin_url = base.set(database="postgres")
        self.url = base.set(database=self.name).render_as_string(hide_password=False)
        admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{self.name}"'))
        admin.dispose()
        upgrade(self.url)
        engine = create_engine(self.url)
        with engine.connect() as connection:
            tables = connection.execute(
                text(
                    "SELECT tablename FROM pg_tables"
                    " WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
                )
            ).scalars()
            self.tables = sorted(tables)
            self.seeds = {
                table: [dict(row._mapping) for row in connection.execute(text(f'SELECT * FROM "{table}"'))]
                for table in SEEDED_TABLES
            }
        engine.dispose()

    def reset(self) -> None:
        engine = create_engine(self.url)
        with engine.begin() as connection:
            names = ", ".join(f'"{t}"' for t in self.tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            for table, rows in self.seeds.items():
                for row in rows:
                    columns = ", ".join(row)
                    values = ", ".join(f":{c}" for c in row)
                    connection.execute(text(f"INSERT INTO {table} ({columns}) VALUES ({values})"), row)
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                        f" (SELECT max(id) FROM {table}))"
                    )
                )
        engine.dispose()

    def drop(self) -> None:
        admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[PostgresTemplate | None]:
    if not POSTGRES_URL:
        yield None
        return
    template = PostgresTemplate(POSTGRES_URL)
    yield template
    template.drop()


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sqlite_template: Path,
    postgres_template: PostgresTemplate | None,
) -> str:
    if request.param == "sqlite":
        path = tmp_path / "ticketry.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite:///{path}"
    assert postgres_template is not None
    postgres_template.reset()
    return postgres_template.url


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database.connect(database_url, pool_size=5)
    yield database
    database.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    get_settings.cache_clear()
    return Settings(database_url=database_url, inprocess_worker=False, storage_url=str(tmp_path / "files"))


@pytest.fixture
def client(db: Database, settings: Settings) -> Iterator[TestClient]:
    """The API in-process; no background threads, so tests run jobs explicitly."""
    app = create_app(settings, db=db, background=False)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


MakeClient = Callable[..., TestClient]


@pytest.fixture
def make_client(
    db: Database, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MakeClient]:
    """`make_client(attachment_max_file_size="1KiB", …)`: the API with these settings.

    They are set as TICKETRY_* variables too: the runtime site settings fall back on the
    process's configuration (`TICKETRY_ATTACHMENT_RETENTION_DAYS`), not on the app's.
    """
    with ExitStack() as stack:

        def make(**overrides: Any) -> TestClient:
            for name, value in overrides.items():
                monkeypatch.setenv(f"TICKETRY_{name.upper()}", str(value))
            get_settings.cache_clear()
            defaults = {"storage_url": str(tmp_path / "files")}
            settings = Settings(
                database_url=database_url, inprocess_worker=False, **{**defaults, **overrides}
            )
            app = create_app(settings, db=db, background=False)
            return stack.enter_context(TestClient(app, raise_server_exceptions=False))

        yield make
    monkeypatch.undo()
    get_settings.cache_clear()
