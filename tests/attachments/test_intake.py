"""Receiving a file: limits while streaming, the type by content, names made harmless."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests import files
from ticketry.attachments import kinds
from ticketry.attachments.errors import FileTooLarge, TicketAttachmentsTooLarge, UnsupportedFileType
from ticketry.attachments.intake import Intake, Limits
from ticketry.attachments.names import content_disposition, extension, sanitize_filename

KIB = 1024


def intake_at(
    staging: Path, *, max_file: int = 4 * KIB, max_ticket: int = 10 * KIB, allowed: str = ""
) -> Intake:
    staging.mkdir(exist_ok=True)
    return Intake(Limits(max_file, max_ticket, kinds.parse_allowed(allowed)), staging)


def chunks(data: bytes, size: int = 1000) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


class TestLimitsWhileStreaming:
    def test_a_file_of_exactly_the_limit_is_received(self, tmp_path: Path) -> None:
        intake = intake_at(tmp_path / "staging")
        data = files.text_of(4 * KIB)

        staged = intake.receive_all("notes.txt", chunks(data))

        assert (staged.size, staged.path.read_bytes()) == (len(data), data)
        assert staged.kind.name == "text"

    def test_the_first_byte_over_the_file_limit_is_refused(self, tmp_path: Path) -> None:
        staging = tmp_path / "staging"
        receiver = intake_at(staging).receive("big.txt")
        for chunk in chunks(files.text_of(4 * KIB)):
            receiver.write(chunk)

        with pytest.raises(FileTooLarge) as refused:
            receiver.write(b"x")

        assert refused.value.status == 413
        assert refused.value.details["limit"] == 4 * KIB
        assert "4.0 KB" in str(refused.value)
        assert list(staging.iterdir()) == []

    def test_a_stream_over_the_limit_stops_being_read(self, tmp_path: Path) -> None:
        staging = tmp_path / "staging"
        read: list[int] = []

        def endless() -> Iterator[bytes]:
            while True:
                read.append(1)
                yield b"a" * 1000

        with pytest.raises(FileTooLarge):
            intake_at(staging).receive_all("endless.txt", endless())

        assert len(read) == 5  # 5000 bytes: the chunk that crossed 4 KiB was the last one read
        assert list(staging.iterdir()) == []

    def test_the_ticket_limit_counts_the_files_it_already_has(self, tmp_path: Path) -> None:
        staging = tmp_path / "staging"
        intake = intake_at(staging)

        with pytest.raises(TicketAttachmentsTooLarge) as refused:
            intake.receive_all("more.txt", chunks(files.text_of(2 * KIB + 1)), used=8 * KIB)

        assert refused.value.status == 413
        assert refused.value.details["limit"] == 10 * KIB
        assert list(staging.iterdir()) == []

    def test_what_still_fits_the_ticket_is_received(self, tmp_path: Path) -> None:
        staged = intake_at(tmp_path / "staging").receive_all(
            "more.txt", chunks(files.text_of(2 * KIB)), used=8 * KIB
        )
        assert staged.size == 2 * KIB

    def test_a_stream_that_breaks_leaves_nothing_staged(self, tmp_path: Path) -> None:
        staging = tmp_path / "staging"

        def broken() -> Iterator[bytes]:
            yield b"first part\n"
            raise ConnectionResetError("client went away")

        with pytest.raises(ConnectionResetError):
            intake_at(staging).receive_all("notes.txt", broken())

        assert list(staging.iterdir()) == []

    def test_a_refused_type_leaves_nothing_staged(self, tmp_path: Path) -> None:
        staging = tmp_path / "staging"

        with pytest.raises(UnsupportedFileType):
            intake_at(staging).receive_all("page.html", [files.HTML])

        assert list(staging.iterdir()) == []

    def test_the_staged_file_is_private_and_named_by_us(self, tmp_path: Path) -> None:
        staged = intake_at(tmp_path / "staging").receive_all("../../etc/cron.d/evil.txt", [files.TEXT])

        assert staged.path.parent == tmp_path / "staging"
        assert staged.path.name.startswith("upload-")
        assert staged.path.stat().st_mode & 0o777 == 0o600
        assert staged.filename == "evil.txt"

    def test_the_hash_is_of_the_whole_content(self, tmp_path: Path) -> None:
        data = files.text_of(3 * KIB + 7)

        staged = intake_at(tmp_path / "staging").receive_all("a.txt", chunks(data, 333))

        assert staged.sha256 == hashlib.sha256(data).hexdigest()


ACCEPTED = [
    ("shot.png", files.png(), "png", "image/png"),
    ("photo.jpg", files.JPEG, "jpeg", "image/jpeg"),
    ("photo.JPEG", files.JPEG, "jpeg", "image/jpeg"),
    ("anim.gif", files.GIF, "gif", "image/gif"),
    ("pic.webp", files.WEBP, "webp", "image/webp"),
    ("invoice.pdf", files.PDF, "pdf", "application/pdf"),
    ("logs.zip", files.ZIP, "zip", "application/zip"),
    (
        "letter.docx",
        files.DOCX,
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    ("letter.odt", files.ODT, "odt", "application/vnd.oasis.opendocument.text"),
    ("old.doc", files.OLE, "doc", "application/msword"),
    ("old.xls", files.OLE, "xls", "application/vnd.ms-excel"),
    ("notes.txt", files.TEXT, "text", "text/plain; charset=utf-8"),
    ("data.csv", b"a,b\n1,2\n", "text", "text/plain; charset=utf-8"),
    ("README", files.TEXT, "text", "text/plain; charset=utf-8"),  # no extension: the content decides
    ("unicode.txt", "Grüße, 日本語\n".encode(), "text", "text/plain; charset=utf-8"),
    ("less.txt", b"1 < 2, and <b> is not at the start\n", "text", "text/plain; charset=utf-8"),
]

REFUSED = [
    ("page.html", files.HTML, "markup"),
    ("page.htm", files.HTML, "markup"),
    ("page.txt", files.HTML, "markup"),  # markup is never text, whatever the name
    ("logo.svg", files.SVG, "markup"),
    ("logo.png", files.SVG, "markup"),
    ("data.xml", files.XML, "markup"),
    ("data.txt", b"  \n<?xml version='1.0'?><a/>", "markup"),
    ("bom.txt", b"\xef\xbb\xbf<html><script>alert(1)</script>", "markup"),
    ("bom-space.txt", b"\xef\xbb\xbf \r\n\t<svg onload=alert(1)>", "markup"),
    ("setup.exe", files.EXE, "a program"),
    ("setup.txt", files.EXE, "a program"),
    ("shot.jpg", files.png(), "named .jpg but its content is a PNG image"),
    ("shot.gif", files.JPEG, "named .gif but its content is a JPEG image"),
    ("notes.png", files.TEXT, "named .png but its content is a text file"),
    ("invoice.pdf", files.ZIP, "named .pdf but its content is a ZIP archive"),
    ("letter.docx", files.ZIP, "named .docx"),  # a ZIP without Word's parts is not a .docx
    ("letter.odt", files.DOCX, "named .odt"),
    ("macro.docm", files.DOCX, "named .docm"),
    ("script.js", files.TEXT, "named .js but its content is a text file"),
    ("page.html", files.TEXT, "named .html but its content is a text file"),
    ("binary.txt", b"\x00\x01\x02\x03 not text", "not accepted"),
    ("latin1.txt", "café".encode("latin-1") + b" and more text after it", "not accepted"),
    ("empty.txt", b"", "not accepted"),
]


class TestTypeByContent:
    @pytest.mark.parametrize(("name", "data", "kind", "mime"), ACCEPTED, ids=[a[0] for a in ACCEPTED])
    def test_accepted_with_a_matching_name(
        self, tmp_path: Path, name: str, data: bytes, kind: str, mime: str
    ) -> None:
        staged = intake_at(tmp_path / "staging").receive_all(name, [data])

        assert (staged.kind.name, staged.kind.mime) == (kind, mime)

    @pytest.mark.parametrize(
        ("name", "data", "reason"), REFUSED, ids=[f"{r[0]}-{i}" for i, r in enumerate(REFUSED)]
    )
    def test_refused(self, tmp_path: Path, name: str, data: bytes, reason: str) -> None:
        staging = tmp_path / "staging"

        with pytest.raises(UnsupportedFileType) as refused:
            intake_at(staging).receive_all(name, chunks(data) if data else [b""])

        assert refused.value.status == 415
        assert reason in str(refused.value)
        assert list(staging.iterdir()) == []

    def test_the_signature_is_read_across_chunks(self, tmp_path: Path) -> None:
        """A client may send the first bytes one at a time; the head is still sniffed whole."""
        staged = intake_at(tmp_path / "staging").receive_all("shot.png", chunks(files.png(), 1))
        assert staged.kind.name == "png"

    def test_markup_after_the_sniffed_head_does_not_matter(self, tmp_path: Path) -> None:
        data = files.text_of(kinds.HEAD_BYTES) + b"<html>"
        staged = intake_at(tmp_path / "staging", max_file=200 * KIB, max_ticket=200 * KIB).receive_all(
            "long.txt", chunks(data)
        )
        assert staged.kind.name == "text"

    def test_the_allow_list_narrows_what_is_accepted(self, tmp_path: Path) -> None:
        intake = intake_at(tmp_path / "staging", allowed="png, pdf")

        assert intake.receive_all("shot.png", [files.png()]).kind.name == "png"
        with pytest.raises(UnsupportedFileType, match="text file"):
            intake.receive_all("notes.txt", [files.TEXT])

    def test_an_unknown_kind_in_the_allow_list_is_a_configuration_error(self) -> None:
        with pytest.raises(ValueError, match="exe"):
            kinds.parse_allowed("png,exe")

    def test_only_raster_images_are_previewable(self) -> None:
        previewable = {name for name in kinds.KINDS if kinds.is_previewable(name)}
        assert previewable == {"png", "jpeg", "gif", "webp"}
        assert not kinds.is_previewable("svg")
        assert not kinds.is_previewable("html")


SANITIZED = [
    ("report.pdf", "report.pdf"),
    ("../../etc/passwd", "passwd"),
    ("..\\..\\windows\\win.ini", "win.ini"),
    ("/etc/shadow", "shadow"),
    ("C:\\Users\\me\\Desktop\\scan.png", "scan.png"),
    ("dir/sub\\mixed/name.txt", "name.txt"),
    ("..", "file"),
    ("../..", "file"),
    ("../", "file"),
    ("...txt", "txt"),
    ("a\x00b\x01c\x1f\x7f.txt", "abc.txt"),
    ("line\r\nbreak.txt", "linebreak.txt"),
    ("tab\there.txt", "tabhere.txt"),
    ("invoice\u202egpj.exe", "invoicegpj.exe"),  # RIGHT-TO-LEFT OVERRIDE: would show as invoiceexe.jpg
    ("a\u202db\u2066c\u2069.txt", "abc.txt"),  # other bidi controls
    ("pay\u200bpal\u200c\u200d\u2060.pdf", "paypal.pdf"),  # zero-width characters
    ("\ufeffbom.txt", "bom.txt"),
    ('what<>:"|?*.txt', "what_______.txt"),
    ("  spaced   out  .txt ", "spaced out .txt"),
    ("para\u2028graph.txt", "para graph.txt"),
    ("trailing dots...", "trailing dots"),
    ("CON", "_CON"),
    ("con.txt", "_con.txt"),
    ("NUL.tar.gz", "_NUL.tar.gz"),
    ("COM1.log", "_COM1.log"),
    ("lpt9.pdf", "_lpt9.pdf"),
    ("aux", "_aux"),
    ("console.txt", "console.txt"),
    ("com10.txt", "com10.txt"),
    ("Cafe\u0301.txt", "Café.txt"),  # combining accent composed (NFC)
    ("", "file"),
    ("   ", "file"),
    ("\u202e\u200b", "file"),
    ("\x00", "file"),
]


class TestSanitizeFilename:
    @pytest.mark.parametrize(("raw", "clean"), SANITIZED, ids=[repr(r) for r, _ in SANITIZED])
    def test_names(self, raw: str, clean: str) -> None:
        assert sanitize_filename(raw) == clean

    @pytest.mark.parametrize("stem", ["a" * 300, "é" * 200, "日本語" * 60, "x" * 251 + "é"])
    def test_overlong_names_keep_their_extension(self, stem: str) -> None:
        name = sanitize_filename(stem + ".pdf")

        assert len(name.encode()) <= 255
        assert name.endswith(".pdf")
        assert extension(name) == "pdf"
        assert stem.startswith(name.removesuffix(".pdf"))  # cut on a character boundary

    def test_a_300_byte_name_is_cut_to_255_bytes(self) -> None:
        assert len(sanitize_filename("b" * 296 + ".txt").encode()) == 255

    def test_an_overlong_extension_is_not_kept(self) -> None:
        name = sanitize_filename("a" * 250 + "." + "b" * 40)
        assert len(name.encode()) <= 255

    @pytest.mark.parametrize("raw", [s[0] for s in SANITIZED] + ["a" * 300 + ".txt", "x/" * 200])
    def test_a_clean_name_has_no_separator_control_or_format_character(self, raw: str) -> None:
        name = sanitize_filename(raw)

        assert name
        assert not re.search(r'[/\\<>:"|?*]', name)
        assert all(unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in name)
        assert name not in (".", "..")
        assert sanitize_filename(name) == name  # stable

    def test_extension_of(self) -> None:
        assert [extension(n) for n in ("a.PDF", "a.tar.gz", "README", ".bashrc", "a.")] == [
            "pdf",
            "gz",
            "",
            "",
            "",
        ]


# The whole header as RFC 6266 wants it: a quoted ASCII fallback, then the exact name in RFC 8187.
DISPOSITION = re.compile(
    r"^(?P<type>attachment|inline); filename=\"(?P<fallback>[\x20\x21\x23-\x24\x26-\x5b\x5d-\x7e]*)\"; "
    r"filename\*=UTF-8''(?P<encoded>[A-Za-z0-9%._~-]*)$"
)


def parsed(header: str) -> dict[str, str]:
    match = DISPOSITION.match(header)
    assert match, f"malformed Content-Disposition: {header!r}"
    return match.groupdict()


class TestContentDisposition:
    def test_an_ascii_name(self) -> None:
        assert (
            content_disposition("report.pdf")
            == "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
        )

    def test_inline(self) -> None:
        assert parsed(content_disposition("shot.png", inline=True))["type"] == "inline"

    @pytest.mark.parametrize(
        ("name", "fallback"),
        [
            ("Résumé.pdf", "Resume.pdf"),
            ("Grüße.txt", "Grue.txt"),  # ß has no ASCII decomposition: dropped
            ("日本語.txt", ".txt"),
            ("日本語", "file"),
            ("naïve café.doc", "naive cafe.doc"),
        ],
    )
    def test_non_ascii_names_get_an_ascii_fallback_and_the_exact_name(self, name: str, fallback: str) -> None:
        header = parsed(content_disposition(name))

        assert header["fallback"] == fallback
        assert unquote(header["encoded"], encoding="utf-8", errors="strict") == name

    @pytest.mark.parametrize(
        "name",
        [
            'quote".txt',
            'a"; filename="evil.html',
            "back\\slash.txt",
            "crlf\r\nSet-Cookie: session=stolen.txt",
            "lf\nContent-Type: text/html.txt",
            "semi;colon.txt",
            "percent%22.txt",
            "100%.txt",
            "\u202eexe.png",
            "tab\there.txt",
            "nul\x00byte.txt",
            'ünïcödé "quoted" \\ ;\r\n.txt',
        ],
    )
    def test_nothing_in_a_name_can_break_the_header(self, name: str) -> None:
        header = content_disposition(name)

        fields = parsed(header)
        assert "\r" not in header and "\n" not in header
        assert unquote(fields["encoded"], encoding="utf-8", errors="strict") == name
        assert "%" not in fields["fallback"]  # some browsers would percent-decode the fallback
