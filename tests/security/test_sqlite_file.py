"""The SQLite database file is private to the account that runs Ticketry (issue 12, item 13).

Attack: any other local account on the server (a shell user, a compromised service) reads every
ticket, internal note, password hash and token hash straight from a world-readable database file
or its write-ahead log. CWE-276 (incorrect default permissions), CWE-732 (incorrect permission
assignment for a critical resource). Under the usual umask 022 SQLite created them 0644.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from ticketry.core.db import Database
from ticketry.migrations import upgrade
from ticketry.users import service as users
from ticketry.users.models import Role


@pytest.fixture
def usual_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("usual_umask")
class TestSqliteFile:
    def test_a_new_database_and_its_wal_and_shm_are_owner_only(self, tmp_path: Path) -> None:
        path = tmp_path / "ticketry.db"
        url = f"sqlite:///{path}"
        upgrade(url)  # as `ticketry migrate` (or `serve`) creates it
        db = Database.connect(url, pool_size=1)
        try:
            with db.unit_of_work() as session:
                users.create_user(session, email="owner@example.test", name="Owner", role=Role.ADMIN)
            files = [path, path.with_name("ticketry.db-wal"), path.with_name("ticketry.db-shm")]
            assert all(file.exists() for file in files), sorted(os.listdir(tmp_path))
            assert {file.name: oct(mode(file)) for file in files} == {file.name: "0o600" for file in files}
        finally:
            db.dispose()

    def test_an_existing_file_keeps_the_permissions_its_admin_chose(self, tmp_path: Path) -> None:
        """A group that backs the file up keeps reading it; docs/configuration.md says how to
        tighten the files of an older install."""
        path = tmp_path / "shared.db"
        path.touch(mode=0o640)
        os.chmod(path, 0o640)
        db = Database.connect(f"sqlite:///{path}", pool_size=1)
        try:
            db.ping()
        finally:
            db.dispose()
        assert mode(path) == 0o640
