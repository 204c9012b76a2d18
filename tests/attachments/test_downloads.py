"""Downloading: the headers that keep a browser from running a file, ranges, validators, HEAD."""

from __future__ import annotations

import hashlib

import pytest
from fastapi.testclient import TestClient

from tests import files
from tests.factories import Persona, make_customer
from tests.files import upload
from ticketry.core.db import Database

SIZE = 3000
CONTENT = files.text_of(SIZE, seed="download")
ETAG = f'"{hashlib.sha256(CONTENT).hexdigest()}"'


def saved(
    client: TestClient, db: Database, name: str = "report.txt", data: bytes = CONTENT
) -> tuple[Persona, str]:
    customer = make_customer(db)
    (item,) = upload(client, customer, (name, data))["data"]
    return customer, f"/api/v1/attachments/{item['id']}/content"


class TestWholeFile:
    def test_the_file_with_its_safety_headers(self, client: TestClient, db: Database) -> None:
        customer, url = saved(client, db)

        response = client.get(url, headers=customer.headers)

        assert response.status_code == 200
        assert response.content == CONTENT
        headers = response.headers
        assert headers["content-type"] == "text/plain; charset=utf-8"
        assert headers["content-length"] == str(SIZE)
        assert (
            headers["content-disposition"]
            == "attachment; filename=\"report.txt\"; filename*=UTF-8''report.txt"
        )
        assert headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in headers["content-security-policy"]
        assert "default-src 'none'" in headers["content-security-policy"]
        assert headers["accept-ranges"] == "bytes"
        assert headers["etag"] == ETAG
        assert headers["cache-control"] == "no-store"  # never stored (issue 12, item 6)
        assert len(headers.get_list("content-security-policy")) == 1  # the app's page CSP stays out

    def test_head_gives_the_headers_without_the_body(self, client: TestClient, db: Database) -> None:
        customer, url = saved(client, db)

        response = client.head(url, headers=customer.headers)

        assert response.status_code == 200
        assert response.content == b""
        assert response.headers["content-length"] == str(SIZE)
        assert response.headers["etag"] == ETAG
        assert response.headers["content-disposition"].startswith("attachment;")

    def test_an_unchanged_file_is_not_sent_again(self, client: TestClient, db: Database) -> None:
        customer, url = saved(client, db)

        response = client.get(url, headers={**customer.headers, "If-None-Match": ETAG})
        changed = client.get(url, headers={**customer.headers, "If-None-Match": '"something-else"'})

        assert (response.status_code, response.content) == (304, b"")
        assert response.headers["etag"] == ETAG
        assert (changed.status_code, changed.content) == (200, CONTENT)

    @pytest.mark.parametrize("header", [f"W/{ETAG}", f'"other", {ETAG}', "*"])
    def test_if_none_match_compares_weakly_and_takes_lists(
        self, client: TestClient, db: Database, header: str
    ) -> None:
        customer, url = saved(client, db)

        response = client.get(url, headers={**customer.headers, "If-None-Match": header})

        assert response.status_code == 304

    def test_a_content_missing_from_storage_is_an_error_not_a_broken_file(
        self, client: TestClient, db: Database
    ) -> None:
        customer, url = saved(client, db)
        storage = client.app.state.files.storage  # type: ignore[attr-defined]
        storage.delete(hashlib.sha256(CONTENT).hexdigest())

        whole = client.get(url, headers=customer.headers)
        part = client.get(url, headers={**customer.headers, "Range": "bytes=0-9"})

        assert (whole.status_code, whole.json()["error"]["code"]) == (503, "content_unavailable")
        assert (part.status_code, part.json()["error"]["code"]) == (503, "content_unavailable")

    def test_inline_is_for_raster_images_only(self, client: TestClient, db: Database) -> None:
        customer, image = saved(client, db, "shot.png", files.png())
        reader, text = saved(client, db, "notes.txt", files.TEXT)

        as_image = client.get(f"{image}?inline=1", headers=customer.headers)
        as_download = client.get(image, headers=customer.headers)
        as_text = client.get(f"{text}?inline=1", headers=reader.headers)

        assert as_image.headers["content-disposition"].startswith("inline;")
        assert as_image.headers["content-type"] == "image/png"
        assert as_download.headers["content-disposition"].startswith("attachment;")
        assert as_text.headers["content-disposition"].startswith("attachment;")


class TestRanges:
    @pytest.mark.parametrize(
        ("header", "start", "end"),
        [
            ("bytes=0-0", 0, 0),
            ("bytes=1-3", 1, 3),
            ("bytes=100-", 100, SIZE - 1),
            ("bytes=-500", SIZE - 500, SIZE - 1),  # the last 500 bytes
            ("bytes=-5000", 0, SIZE - 1),  # more than there is: the whole file
            ("bytes=2990-9999", 2990, SIZE - 1),  # an end past the file is cut to it
            (f"bytes={SIZE - 1}-{SIZE - 1}", SIZE - 1, SIZE - 1),
        ],
    )
    def test_a_satisfiable_range(
        self, client: TestClient, db: Database, header: str, start: int, end: int
    ) -> None:
        customer, url = saved(client, db)

        response = client.get(url, headers={**customer.headers, "Range": header})

        assert response.status_code == 206
        assert response.content == CONTENT[start : end + 1]
        assert response.headers["content-range"] == f"bytes {start}-{end}/{SIZE}"
        assert response.headers["content-length"] == str(end - start + 1)
        assert response.headers["content-disposition"].startswith("attachment;")
        assert response.headers["x-content-type-options"] == "nosniff"

    @pytest.mark.parametrize("header", [f"bytes={SIZE}-", f"bytes={SIZE + 10}-{SIZE + 20}", "bytes=-0"])
    def test_an_unsatisfiable_range_is_416(self, client: TestClient, db: Database, header: str) -> None:
        customer, url = saved(client, db)

        response = client.get(url, headers={**customer.headers, "Range": header})

        assert response.status_code == 416
        assert response.headers["content-range"] == f"bytes */{SIZE}"
        assert response.content == b""

    @pytest.mark.parametrize(
        "header", ["bytes=0-1,5-6", "items=0-5", "bytes=abc", "bytes=-", "", "bytes=5-4"]
    )
    def test_a_range_we_do_not_serve_gives_the_whole_file(
        self, client: TestClient, db: Database, header: str
    ) -> None:
        customer, url = saved(client, db)

        response = client.get(url, headers={**customer.headers, "Range": header})

        assert (response.status_code, response.content) == (200, CONTENT)

    def test_if_range_with_the_current_etag_gives_the_range(self, client: TestClient, db: Database) -> None:
        customer, url = saved(client, db)

        response = client.get(url, headers={**customer.headers, "Range": "bytes=10-19", "If-Range": ETAG})

        assert (response.status_code, response.content) == (206, CONTENT[10:20])

    @pytest.mark.parametrize("validator", ['"0000"', "Wed, 21 Oct 2015 07:28:00 GMT"])
    def test_if_range_with_another_validator_gives_the_whole_file(
        self, client: TestClient, db: Database, validator: str
    ) -> None:
        customer, url = saved(client, db)

        response = client.get(
            url, headers={**customer.headers, "Range": "bytes=10-19", "If-Range": validator}
        )

        assert (response.status_code, response.content) == (200, CONTENT)
        assert "content-range" not in response.headers

    def test_a_range_across_storage_chunks(self, client: TestClient, db: Database) -> None:
        big = files.text_of(700 * 1024, seed="big")
        customer, url = saved(client, db, "big.log", big)
        start, end = 256 * 1024 - 10, 512 * 1024 + 10

        response = client.get(url, headers={**customer.headers, "Range": f"bytes={start}-{end}"})

        assert response.status_code == 206
        assert response.content == big[start : end + 1]
