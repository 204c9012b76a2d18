"""Fixtures of the attachment tests: the real clamd and S3 servers (tests/servers.py), and apps
built with other settings than the `client` fixture's."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.servers import clamd, s3_bucket, s3_server, storage
from ticketry.app import create_app
from ticketry.core.config import Settings, get_settings
from ticketry.core.db import Database

__all__ = ["clamd", "make_client", "s3_bucket", "s3_server", "storage"]

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
