"""Fixtures of the attachment tests: the real clamd and S3 servers (tests/servers.py); apps built
with other settings come from `make_client` (tests/conftest.py)."""

from __future__ import annotations

from tests.conftest import MakeClient
from tests.servers import clamd, s3_bucket, s3_server, storage

__all__ = ["MakeClient", "clamd", "s3_bucket", "s3_server", "storage"]
