"""The models and the Alembic migrations describe the same schema, on SQLite and PostgreSQL, and
the migrations run down to nothing and back up again."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from ticketry.core.db import make_engine
from ticketry.migrations import alembic_config, downgrade, upgrade
from ticketry.migrations.models import include_name, metadata


def schema_diffs(url: str) -> list[Any]:
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"include_name": include_name, "compare_type": True}
            )
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def table_names(url: str) -> set[str]:
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as connection:
            return set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def snapshot(url: str) -> dict[str, object]:
    """Tables with their columns, indexes, unique constraints and foreign keys."""
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as connection:
            inspector = inspect(connection)
            return {
                table: (
                    sorted((c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)),
                    sorted((i["name"], tuple(i["column_names"])) for i in inspector.get_indexes(table)),
                    sorted(
                        (u["name"], tuple(u["column_names"])) for u in inspector.get_unique_constraints(table)
                    ),
                    sorted(
                        (tuple(f["constrained_columns"]), f["referred_table"])
                        for f in inspector.get_foreign_keys(table)
                    ),
                )
                for table in inspector.get_table_names()
                if table != "alembic_version"
            }
    finally:
        engine.dispose()


def current_revision(url: str) -> str | None:
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head(url: str) -> str:
    heads = ScriptDirectory.from_config(alembic_config(url)).get_heads()
    assert len(heads) == 1, f"the migrations have several heads: {heads}"
    return heads[0]


class TestModelsMatchMigrations:
    def test_migrated_database_has_no_differences_from_the_models(self, database_url: str) -> None:
        assert schema_diffs(database_url) == []

    def test_every_model_table_is_created(self, database_url: str) -> None:
        assert set(metadata.tables) <= table_names(database_url)

    def test_one_head(self, database_url: str) -> None:
        assert current_revision(database_url) == head(database_url)


class TestDowngradeAndUpgrade:
    def test_down_to_base_and_up_again(self, empty_url: str) -> None:
        upgrade(empty_url)
        assert schema_diffs(empty_url) == []
        downgrade(empty_url, "base")
        assert table_names(empty_url) <= {"alembic_version"}
        assert current_revision(empty_url) is None
        upgrade(empty_url)
        assert current_revision(empty_url) == head(empty_url)
        assert schema_diffs(empty_url) == []
        engine = make_engine(empty_url, pool_size=1)
        try:
            with engine.connect() as connection:
                slugs = set(connection.execute(text("SELECT slug FROM departments")).scalars())
        finally:
            engine.dispose()
        assert slugs == {"technical", "billing", "sales", "general"}

    def test_each_downgrade_undoes_its_upgrade(self, empty_url: str) -> None:
        script = ScriptDirectory.from_config(alembic_config(empty_url))
        revisions = [r.revision for r in script.walk_revisions()][::-1]  # oldest first
        before = snapshot(empty_url)
        for revision in revisions:
            upgrade(empty_url, revision)
            after = snapshot(empty_url)
            downgrade(empty_url, "-1")
            assert snapshot(empty_url) == before, f"downgrade of {revision} left the schema changed"
            upgrade(empty_url, revision)
            assert snapshot(empty_url) == after, f"{revision} upgrades differently the second time"
            before = after
        assert current_revision(empty_url) == head(empty_url)
