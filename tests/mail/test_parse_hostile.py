"""Hostile mail (docs/product.md §4, mail in: "never crashes and stays bounded in time and memory"): parse
must return a well-formed ParsedMail within its limits for arbitrary bytes, for random MIME
built from strategies, and for generated worst cases. Timings are printed (`pytest -s`), never
asserted."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import nh3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ticketry.mailparse import htmlbody
from ticketry.mailparse import parse as parse_module
from ticketry.mailparse.decode import MAX_HEADER_VALUE, decode_header_value, split_params
from ticketry.mailparse.htmlbody import html_to_text, sanitise_html
from ticketry.mailparse.htmlbounds import bound_markup
from ticketry.mailparse.parse import (
    MAX_BODY,
    MAX_PARTS,
    MAX_PROBLEMS,
    DeliveryReport,
    MailFile,
    ParsedMail,
    parse,
)
from ticketry.mailparse.quotes import reply_text

FUZZ = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


def check(parsed: ParsedMail) -> ParsedMail:
    """The promised types and limits of every field."""
    assert isinstance(parsed, ParsedMail)
    assert parsed.message_id is None or (
        parsed.message_id.startswith("<") and parsed.message_id.endswith(">")
    )
    for ids in (parsed.in_reply_to, parsed.references):
        assert isinstance(ids, tuple)
        assert all(isinstance(i, str) and i.startswith("<") for i in ids)
    assert len(parsed.references) <= 50
    assert parsed.from_address == "" or (
        "@" in parsed.from_address and parsed.from_address == parsed.from_address.lower()
    )
    assert isinstance(parsed.from_name, str)
    for addresses in (parsed.reply_to, parsed.to, parsed.cc, parsed.delivered_to):
        assert all(isinstance(a, str) and "@" in a for a in addresses)
    assert isinstance(parsed.subject, str)
    assert len(parsed.subject) <= 500
    assert "\n" not in parsed.subject
    assert parsed.date is None or (isinstance(parsed.date, datetime) and parsed.date.tzinfo is UTC)
    assert isinstance(parsed.text, str)
    assert len(parsed.text) <= MAX_BODY
    assert "\x00" not in parsed.text
    assert parsed.html is None or (isinstance(parsed.html, str) and "<script" not in parsed.html.lower())
    assert isinstance(parsed.reply_text, str)
    assert bool(parsed.reply_text.strip()) == bool(parsed.text.strip())
    assert len(parsed.files) <= MAX_PARTS
    assert all(isinstance(f, MailFile) and f.filename and isinstance(f.content, bytes) for f in parsed.files)
    assert parsed.report is None or isinstance(parsed.report, DeliveryReport)
    assert len(parsed.problems) <= MAX_PROBLEMS
    assert all(isinstance(p, str) for p in parsed.problems)
    for name in ("Subject", "auto-submitted", "X-Spam-Flag", "List-Id"):
        assert parsed.header(name) is None or isinstance(parsed.header(name), str)
    return parsed


def timed(label: str, raw: bytes, **options: bool) -> ParsedMail:
    started = time.perf_counter()
    parsed = parse(raw, **options)
    print(f"\n{label}: {len(raw) / 1e6:.2f} MB parsed in {time.perf_counter() - started:.3f} s")
    return check(parsed)


# Ordinary markup and its irregular corners (comments ended the HTML5 ways, bogus comments,
# quoted ">" in attributes, misnesting, tables with stray content); not raw-text elements
# inside SVG or MathML, whose reading the bounding pass simplifies on purpose.
MARKUP_TOKENS = [
    *("<div>", "</div>", "<p>", "</p>", "<b>", "</b>", "<i>", "</i>", "<font>", "</font>", "<br>", "</br>"),
    *("<a href='https://x.example/a'>", "</a>", '<a title=">" href=https://q.example/>', "<p title='a>b'>"),
    *("<table>", "</table>", "<tr>", "</tr>", "<td>", "</td>", "<th>", "<caption>", "</caption>", "<tbody>"),
    *("<ul>", "</ul>", "<li>", "<blockquote>", "</blockquote>", "<pre>", "</pre>", "<h1>", "</h1>", "<hr>"),
    *("<!--", "-->", "<!-->", "--!>", "<!x>", "<?p?>", "</ x>", "</>", "<select>", "<option>", "</select>"),
    *("<style>", "</style>", "<script>", "</script>", "<title>", "</title>", "<noscript>", "</noscript>"),
    *("<img src='cid:x'>", "<template>", "</template>", "x", "y z", " ", "\n", "&amp;", "<", ">", "'", "="),
]
NH3_OPTIONS: dict[str, Any] = {
    "tags": set(htmlbody.ALLOWED_TAGS),
    "clean_content_tags": set(htmlbody._DROPPED_WITH_CONTENT),
    "attributes": htmlbody.ALLOWED_ATTRIBUTES,
    "url_schemes": set(htmlbody._URL_SCHEMES),
}


# --- fuzzing ------------------------------------------------------------------------------------


class TestFuzzing:
    @FUZZ
    @given(st.binary(max_size=4000))
    def test_arbitrary_bytes(self, raw: bytes) -> None:
        check(parse(raw))

    @FUZZ
    @given(st.binary(max_size=2000))
    def test_arbitrary_bytes_after_a_header(self, body: bytes) -> None:
        check(parse(b"From: a@example.org\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n" + body))

    @FUZZ
    @given(st.text(max_size=300))
    def test_header_values(self, value: str) -> None:
        assert isinstance(decode_header_value(value), str)
        main, params = split_params(value)
        assert isinstance(main, str)
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in params.items())
        check(
            parse(
                b"From: "
                + value.encode("utf-8", "replace")
                + b"\r\nSubject: "
                + value.encode("utf-8", "replace")
            )
        )

    @FUZZ
    @given(st.text(alphabet=st.sampled_from(list("> \n-_:OnwroteFmSbjc0123456789@<>abc")), max_size=400))
    def test_quote_stripping(self, text: str) -> None:
        stripped = reply_text(text)

        assert bool(stripped) == bool(text.strip())

    @FUZZ
    @given(st.text(alphabet=st.sampled_from(list("<>/!-[]?=\"' abdiv pscrtyle:qoubkle")), max_size=600))
    def test_html(self, html: str) -> None:
        clean, blocked = sanitise_html(html)

        assert "<script" not in clean
        assert blocked >= 0
        assert isinstance(html_to_text(clean), str)

    @FUZZ
    @given(st.lists(st.sampled_from(MARKUP_TOKENS), max_size=40))
    def test_bounding_the_markup_changes_nothing_nh3_keeps(self, tokens: list[str]) -> None:
        """Below every limit, `bound_markup` only removes what nh3 removes anyway (comments,
        doctypes, scripts, styles), so a real mail reads the same."""
        html = "".join(tokens)

        assert nh3.clean(bound_markup(html), **NH3_OPTIONS) == nh3.clean(html, **NH3_OPTIONS)

    @FUZZ
    @given(st.deferred(lambda: MESSAGES))
    def test_structured_mime(self, raw: bytes) -> None:
        check(parse(raw))


# Random MIME: headers, boundaries, charsets, transfer encodings, nesting, and damage.

CHARSETS = [
    "utf-8",
    "iso-8859-1",
    "us-ascii",
    "windows-1252",
    "ks_c_5601-1987",
    "x-unknown",
    "utf-16",
    "utf-7",
    "iso-2022-jp",
    "big5",
    "gb2312",
    "koi8-r",
    "base64",
    "idna",
    '"utf-8"',
    "utf-8*en",
    "",
]
ENCODINGS = ["", "7bit", "8bit", "base64", "quoted-printable", "x-uuencode", "binary", "bogus"]
LEAF_TYPES = [
    "text/plain",
    "text/html",
    "image/png",
    "application/pdf",
    "message/rfc822",
    "message/delivery-status",
    "text/rfc822-headers",
    "application/ms-tnef",
    "text/calendar",
    "garbage",
    "",
]
SUBTYPES = ["mixed", "alternative", "related", "report", "signed", "digest", "weird"]
header_text = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=60)
word = st.builds(
    lambda charset, kind, data: f"=?{charset}?{kind}?{data}?=",
    st.sampled_from(CHARSETS),
    st.sampled_from("QqBbX"),
    st.text(alphabet=st.characters(codec="ascii", exclude_characters="?\r\n"), max_size=20),
)
value = st.one_of(header_text, word, st.lists(st.one_of(header_text, word), max_size=4).map(" ".join))
HEADER_NAMES = [
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "References",
    "In-Reply-To",
    "Content-ID",
    "Auto-Submitted",
    "X-Random",
    "Reply-To",
    "Delivered-To",
]
header = st.tuples(
    st.sampled_from(HEADER_NAMES),
    value,
).map(lambda pair: f"{pair[0]}: {pair[1]}")
body = st.one_of(
    st.binary(max_size=300), st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass"))
)


@st.composite
def leaves(draw: st.DrawFn) -> bytes:
    ctype = draw(st.sampled_from(LEAF_TYPES))
    lines = [f"Content-Type: {ctype}; charset={draw(st.sampled_from(CHARSETS))}; name={draw(header_text)}"]
    encoding = draw(st.sampled_from(ENCODINGS))
    if encoding:
        lines.append(f"Content-Transfer-Encoding: {encoding}")
    if draw(st.booleans()):
        disposition = draw(st.sampled_from(["inline", "attachment", "x"]))
        lines.append(f"Content-Disposition: {disposition}; filename*={draw(value)}")
    lines.extend(draw(st.lists(header, max_size=3)))
    content = draw(body)
    if encoding == "base64" and draw(st.booleans()):
        content = base64.encodebytes(content)
    return "\r\n".join(lines).encode("utf-8", "surrogatepass") + b"\r\n\r\n" + content


@st.composite
def multiparts(draw: st.DrawFn, children: st.SearchStrategy[bytes]) -> bytes:
    boundary = draw(
        st.sampled_from(["b", "same", "=_Part_1", "---- x", "a" * 70, ""]) | st.text(min_size=1, max_size=10)
    )
    encoded = boundary.encode("utf-8", "surrogatepass")
    parts = draw(st.lists(children, max_size=5))
    head = f'Content-Type: multipart/{draw(st.sampled_from(SUBTYPES))}; boundary="{boundary}"'
    head += "; report-type=delivery-status" if draw(st.booleans()) else ""
    out = head.encode("utf-8", "surrogatepass") + b"\r\n\r\npreamble\r\n"
    for part in parts:
        out += b"--" + encoded + b"\r\n" + part + b"\r\n"
    if draw(st.booleans()):  # sometimes the closing delimiter is missing
        out += b"--" + encoded + b"--\r\n"
    return out


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    tree = draw(st.recursive(leaves(), multiparts, max_leaves=12))
    top = "\r\n".join(draw(st.lists(header, max_size=8))).encode("utf-8", "surrogatepass")
    raw = top + b"\r\n" + tree
    if draw(st.booleans()):  # damage: cut somewhere
        raw = raw[: draw(st.integers(0, len(raw)))]
    return raw


MESSAGES: st.SearchStrategy[bytes] = messages()


# --- generated worst cases ----------------------------------------------------------------------


def nested_multiparts(depth: int) -> bytes:
    out = [b"From: a@example.org\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n"]
    out.extend(
        b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (n - 1, n) for n in range(1, depth)
    )
    out.append(b"--b%d\r\nContent-Type: text/plain\r\n\r\ndeepest\r\n" % (depth - 1))
    out.extend(b"--b%d--\r\n" % n for n in reversed(range(depth)))
    return b"".join(out)


def flat(parts: int, make: Callable[[int], bytes]) -> bytes:
    body = b"".join(b"--XX\r\n" + make(n) + b"\r\n" for n in range(parts))
    return b"From: a@example.org\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n" + body + b"--XX--\r\n"


class TestWorstCases:
    def test_ten_thousand_parts(self) -> None:
        raw = flat(
            10_000,
            lambda n: b'Content-Type: application/octet-stream; name="f%d.bin"\r\n\r\npart %d' % (n, n),
        )
        parsed = timed("10,000 attachments", raw)

        assert len(parsed.files) == MAX_PARTS - 1  # the multipart itself is the first part walked
        assert "9,501 parts beyond the 500-part limit were ignored" in parsed.problems

    def test_ten_thousand_text_parts(self) -> None:
        parsed = timed(
            "10,000 text parts", flat(10_000, lambda n: b"Content-Type: text/plain\r\n\r\nline %d" % n)
        )

        assert parsed.text.startswith("line 0\n\nline 1")
        assert "line 498" in parsed.text
        assert "line 499" not in parsed.text

    def test_multipart_nested_ten_thousand_deep(self) -> None:
        parsed = timed("multipart nested 10,000 deep", nested_multiparts(10_000))

        assert parsed.problems == ("1 part nested deeper than 20 levels was ignored",)
        assert parsed.text == ""

    def test_multipart_nested_within_the_limit(self) -> None:
        assert check(parse(nested_multiparts(20))).text == "deepest"

    def test_rfc822_nested_ten_thousand_deep(self) -> None:
        layer = b"From: a@example.org\r\nSubject: layer\r\nContent-Type: message/rfc822\r\n\r\n"
        parsed = timed("message/rfc822 nested 10,000 deep", layer * 10_000 + b"Subject: core\r\n\r\nhi")

        assert [f.filename for f in parsed.files] == ["layer.eml"]
        assert parsed.files[0].content.endswith(b"hi")

    def test_rfc822_inside_multipart_nested_deep(self) -> None:
        layer = (
            b"Content-Type: multipart/mixed; boundary=%d\r\n\r\n--%d\r\nContent-Type: message/rfc822\r\n\r\n"
        )
        raw = (
            b"From: a@example.org\r\n"
            + b"".join(layer % (n, n) for n in range(5_000))
            + b"Subject: core\r\n\r\nhi"
        )
        parsed = timed("multipart and message/rfc822 alternating 5,000 deep", raw)

        assert len(parsed.files) == 1

    def test_megabyte_header_line(self) -> None:
        parsed = timed(
            "1 MB Subject", b"From: a@example.org\r\nSubject: " + b"xy " * 350_000 + b"\r\n\r\nbody"
        )

        assert len(parsed.subject) == 500
        assert parsed.text == "body"
        assert any("header" in p for p in parsed.problems)
        assert all(len(value) <= MAX_HEADER_VALUE for _, value in parsed.header_fields)

    def test_megabyte_headers_of_quadratic_shapes(self) -> None:
        for name, value in [
            ("To", b'"' * 1_000_000),
            ("To", b"," * 1_000_000),
            ("To", b"a." * 500_000 + b"@b"),
            ("To", b"(" * 1_000_000),
            ("Content-Type", b"text/plain" + b";" * 1_000_000),
            ("Content-Type", b'text/plain; name="' + b'"' * 1_000_000),
            ("Subject", b"=?utf-8?q?" * 100_000),
            ("References", b"<" * 1_000_000),
        ]:
            parsed = timed(
                f"1 MB {name} of {value[:12]!r}",
                b"From: a@example.org\r\n" + name.encode() + b": " + value + b"\r\n\r\nbody",
            )

            assert parsed.to == ()

    def test_hundred_thousand_header_lines(self) -> None:
        raw = b"From: a@example.org\r\n" + b"".join(b"X-H%d: v\r\n" % n for n in range(100_000)) + b"\r\nbody"
        parsed = timed("100,000 header lines", raw)

        assert parsed.text == "body"
        assert parsed.header("x-h0") == "v"
        assert sum(len(n) + len(v) for n, v in parsed.header_fields) < 1024 * 1024

    def test_boundary_that_never_closes(self) -> None:
        raw = (
            b"From: a@example.org\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n\r\n"
            + b"line\r\n" * 1_000_000
        )
        parsed = timed("unclosed boundary, 6 MB", raw)

        assert len(parsed.text) <= MAX_BODY
        assert "A text part was cut at 1 MB" in parsed.problems

    def test_base64_garbage(self) -> None:
        raw = (
            b"From: a@example.org\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n"
            b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + bytes(range(256)) * 4000
            + b"\r\n--XX\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + b"=A=B==C?!\r\n--XX--\r\n"
        )
        parsed = timed("base64 garbage", raw)

        assert len(parsed.files) == 1

    def test_twenty_megabyte_attachment(self) -> None:
        content = bytes(range(256)) * (20 * 1024 * 1024 // 256)
        raw = (
            b"From: a@example.org\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n"
            b"Content-Type: text/plain\r\n\r\nSee the file.\r\n"
            b"--XX\r\nContent-Type: application/zip; name=big.zip\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(content) + b"--XX--\r\n"
        )
        parsed = timed("20 MB attachment", raw)

        assert parsed.files[0].content == content
        assert parsed.text == "See the file."

    def test_hostile_html(self) -> None:
        for label, html in [
            ("nested blockquotes", "<blockquote>" * 80_000),
            ("nested divs", "<div>" * 200_000),
            ("misnested formatting", "<b><div></b>" * 50_000),
            (
                "formatting with distinct attributes",
                "".join(f"<b a={n}>" for n in range(50_000)) + "<p>x</p>" * 20_000,
            ),
            ("unterminated comments", "<!--" * 250_000),
            ("marked sections", "<![" * 300_000),
            ("dense tags", "<b>x</b>" * 130_000),
        ]:
            parsed = timed(
                f"HTML: {label}", b"From: a@example.org\r\nContent-Type: text/html\r\n\r\n" + html.encode()
            )

            assert parsed.html is not None

    def test_many_html_parts_share_one_budget(self) -> None:
        parsed = timed(
            "40 HTML parts of 1 MB",
            flat(40, lambda n: b"Content-Type: text/html\r\n\r\n" + b"<p>x</p>" * 130_000),
        )

        assert "Text beyond 1 MB was ignored" in parsed.problems

    def test_text_full_of_quote_markers(self) -> None:
        body = b"On 1 Jan 2024 x wrote:\r\n> a\r\nFrom: x\r\nSent: y\r\nSubject: z\r\n" * 30_000
        parsed = timed("1 MB of quote markers", b"From: a@example.org\r\n\r\n" + body)

        assert parsed.reply_text

    def test_an_unexpected_error_still_gives_a_result(self) -> None:
        original = parse_module._split

        def explode(*args: object) -> object:
            raise MemoryError

        parse_module._split = explode  # type: ignore[assignment]
        try:
            parsed = check(
                parse(b"From: a@example.org\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\nbody")
            )
        finally:
            parse_module._split = original

        assert parsed.from_address == "a@example.org"
        assert parsed.problems == ("The mail could not be read (MemoryError); its text is shown as received",)
