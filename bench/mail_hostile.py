"""`python -m bench.mail_hostile` (part of `make bench`): how long reading one hostile mail takes
(issue 12 item 4: "one mail stalls the worker").

Each case is one raw mail built to hit a known worst case of a reading stage: the MIME walk,
header and charset decoding, HTML sanitising (nh3/html5ever), HTML to text, quote stripping and
bounce reading. Every case is read by `ticketry.mailparse.parse.parse`, the function the
ingest job calls, and timed (wall clock and the thread's CPU time). The figures are printed
with the size of the mail, whether `parse` marked it over its budget (then the ingest refuses
it and the worker moves on) and how many problems it noted. Nothing is asserted; docs/architecture.md §7.

`--timeout S` reads each case in a child process and stops it after S seconds (for measuring
code that is still quadratic: some cases then take hours). `--only WORD` keeps the cases whose
label contains WORD; `--repeat N` reads each N times and reports the fastest.
"""

from __future__ import annotations

import argparse
import base64
import json
import multiprocessing
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench import facts
from ticketry.mailparse.parse import parse

RESULTS = Path(__file__).parent / "results"
MEGABYTE = 1024 * 1024
TARGET_SECONDS = 1.0  # what one mail may cost the worker at most, in CPU seconds


@dataclass(frozen=True)
class Case:
    group: str
    label: str
    build: Callable[[], bytes]


@dataclass
class Figure:
    group: str
    label: str
    megabytes: float
    wall_s: float | None
    cpu_s: float | None
    over_budget: str
    problems: int
    text_chars: int


def _head(content_type: str = "text/plain; charset=utf-8", extra: str = "") -> bytes:
    return (
        "From: Hostile Sender <hostile@example.org>\r\nTo: support@help.example.com\r\n"
        f"Subject: hostile\r\nMessage-ID: <hostile@example.org>\r\n{extra}"
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()


def _html(html: str) -> bytes:
    return _head("text/html; charset=utf-8") + html.encode()


def _fill(unit: str, size: int = MEGABYTE, prefix: str = "", suffix: str = "") -> str:
    count = max(1, (size - len(prefix) - len(suffix)) // len(unit))
    return prefix + unit * count + suffix


def _flat(parts: int, make: Callable[[int], bytes]) -> bytes:
    body = b"".join(b"--XX\r\n" + make(n) + b"\r\n" for n in range(parts))
    return _head("multipart/mixed; boundary=XX") + body + b"--XX--\r\n"


def _nested_multiparts(depth: int) -> bytes:
    out = [_head("multipart/mixed; boundary=b0")]
    for level in range(1, depth):
        out.append(b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (level - 1, level))
    out.append(b"--b%d\r\nContent-Type: text/plain\r\n\r\ndeepest\r\n" % (depth - 1))
    out.extend(b"--b%d--\r\n" % level for level in reversed(range(depth)))
    return b"".join(out)


def _bounce(body: str) -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\nTo: support@help.example.com\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nContent-Type: text/plain\r\n\r\n" + body
    ).encode()


def _dsn(blocks: int) -> bytes:
    status = "".join(
        f"Final-Recipient: rfc822; user{n}@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 unknown user {n}\r\n\r\n"
        for n in range(blocks)
    )
    return (
        _head("multipart/report; report-type=delivery-status; boundary=XX").replace(
            b"hostile@example.org>\r\nTo", b"MAILER-DAEMON@mx.example.org>\r\nTo", 1
        )
        + b"--XX\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
        + b"--XX\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n"
        + status.encode()
        + b"--XX--\r\n"
    )


def cases() -> Iterator[Case]:
    html = "HTML to text and sanitising (1 MB text/html)"
    yield Case(html, "links, dense: x<a href>x</a>", lambda: _html(_fill("x<a href=http://e.x/>x</a>")))
    yield Case(html, "links with labels", lambda: _html(_fill('<a href="https://example.org/a">label</a> ')))
    yield Case(html, "links without end tags", lambda: _html(_fill("<a href=https://e.x/>x")))
    yield Case(html, "dense tags <b>x</b>", lambda: _html(_fill("<b>x</b>")))
    yield Case(html, "nested <div>", lambda: _html(_fill("<div>")))
    yield Case(html, "nested <blockquote>", lambda: _html(_fill("<blockquote>")))
    yield Case(
        html, "nested <div> hidden by <!-->", lambda: _html(_fill("<div>", prefix="<!-->", suffix="-->"))
    )
    yield Case(
        html, "nested <div> hidden by --!>", lambda: _html(_fill("<div>", prefix="<!-- --!>", suffix="-->"))
    )
    yield Case(html, "nested <div> after <svg><style>", lambda: _html(_fill("<div>", prefix="<svg><style>")))
    yield Case(html, "nested <li><section>", lambda: _html(_fill("<li><section>")))
    yield Case(html, "misnested formatting <b><div></b>", lambda: _html(_fill("<b><div></b>")))
    yield Case(
        html,
        "formatting with distinct attributes",
        lambda: _html("".join(f"<b a={n}>" for n in range(50_000)) + "<p>x</p>" * 20_000),
    )
    yield Case(
        html,
        "one tag with 120,000 attributes",
        lambda: _html("<a " + " ".join(f"a{n}=1" for n in range(120_000)) + ">x</a>"),
    )
    yield Case(
        html,
        "120,000 attributes behind a quoted >",
        lambda: _html('<a title=">" ' + " ".join(f"a{n}=1" for n in range(120_000)) + ">x</a>"),
    )
    yield Case(html, "fostered <p> in a table", lambda: _html(_fill("<p>", prefix="<table>")))
    yield Case(html, "fostered text and <i> in a table", lambda: _html(_fill("x<i></i>", prefix="<table>")))
    yield Case(html, "fostered </p> in a table", lambda: _html(_fill("</p>", prefix="<table>")))
    yield Case(html, "many small tables with fostered text", lambda: _html(_fill("<table>x<i></i></table>")))
    yield Case(
        html,
        "tables of 100 fostered elements each",
        lambda: _html(_fill("<table>" + "x<i></i>" * 100 + "</table>")),
    )
    yield Case(
        html,
        "fostered, table kept open across </div>",
        lambda: _html(_fill("x<i></i>", prefix="<div><table></div>")),
    )
    yield Case(
        html,
        "fostered, table behind a template",
        lambda: _html(
            _fill("x<i></i>", prefix="<table><template><table>" + "x<i></i>" * 1100 + "</template>")
        ),
    )
    yield Case(html, "unterminated comments", lambda: _html(_fill("<!--")))
    yield Case(html, "marked sections <![", lambda: _html(_fill("<![")))
    yield Case(html, "entities", lambda: _html(_fill("&amp;&#x41;&bogus;")))
    yield Case(html, "one 1 MB line of text", lambda: _html(_fill("word ")))
    yield Case(
        html, "<pre> of 1 MB of newlines", lambda: _html(_fill("\n", prefix="<pre>x", suffix="x</pre>"))
    )

    mime = "MIME structure"
    yield Case(
        mime,
        "10,000 attachments",
        lambda: _flat(
            10_000,
            lambda n: b'Content-Type: application/octet-stream; name="f%d.bin"\r\n\r\npart %d' % (n, n),
        ),
    )
    yield Case(
        mime,
        "10,000 text parts",
        lambda: _flat(10_000, lambda n: b"Content-Type: text/plain\r\n\r\nline %d" % n),
    )
    yield Case(
        mime,
        "40 HTML parts of 1 MB",
        lambda: _flat(40, lambda n: b"Content-Type: text/html\r\n\r\n" + b"<p>x</p>" * 130_000),
    )
    yield Case(mime, "multipart nested 10,000 deep", lambda: _nested_multiparts(10_000))
    yield Case(
        mime,
        "message/rfc822 nested 10,000 deep",
        lambda: (
            _head("message/rfc822")
            + b"From: a@example.org\r\nSubject: layer\r\nContent-Type: message/rfc822\r\n\r\n" * 10_000
            + b"Subject: core\r\n\r\nhi"
        ),
    )
    yield Case(
        mime,
        "unclosed boundary, 6 MB of lines",
        lambda: _head("multipart/mixed; boundary=XX") + b"--XX\r\n\r\n" + b"line\r\n" * 1_000_000,
    )
    yield Case(
        mime,
        "20 MB attachment",
        lambda: (
            _head("multipart/mixed; boundary=XX")
            + b"--XX\r\nContent-Type: text/plain\r\n\r\nSee the file.\r\n--XX\r\n"
            + b"Content-Type: application/zip; name=big.zip\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + base64.encodebytes(bytes(range(256)) * (20 * MEGABYTE // 256))
            + b"--XX--\r\n"
        ),
    )
    yield Case(
        mime,
        "500 parts with 2 KB headers each",
        lambda: _flat(
            500, lambda n: b"Content-Type: text/plain\r\n" + b"X-Pad: " + b"p" * 2000 + b"\r\n\r\nx"
        ),
    )

    headers = "Headers and charsets"
    yield Case(headers, "1 MB Subject", lambda: _head(extra="X-A: " + "xy " * 350_000 + "\r\n") + b"body")
    yield Case(
        headers, "1 MB To of double quotes", lambda: _head(extra="To: " + '"' * MEGABYTE + "\r\n") + b"body"
    )
    yield Case(headers, "1 MB To of commas", lambda: _head(extra="Cc: " + "," * MEGABYTE + "\r\n") + b"body")
    yield Case(
        headers, "1 MB To of nested comments", lambda: _head(extra="Cc: " + "(" * MEGABYTE + "\r\n") + b"body"
    )
    yield Case(
        headers,
        "Content-Type of 1 MB of semicolons",
        lambda: _head("text/plain" + ";" * MEGABYTE) + b"body",
    )
    yield Case(
        headers,
        "100,000 encoded words, charsets alternating",
        lambda: _head(extra="Subject: " + "=?utf-8?q?a?= =?iso-8859-1?q?b?= " * 32_000 + "\r\n") + b"body",
    )
    yield Case(
        headers,
        "100,000 header lines",
        lambda: _head(extra="".join(f"X-H{n}: v\r\n" for n in range(100_000))) + b"body",
    )
    yield Case(
        headers,
        "1 MB of mixed 8-bit text, no charset",
        lambda: _head("text/plain") + bytes(range(128, 256)) * (MEGABYTE // 128),
    )
    yield Case(headers, "1 MB of UTF-7", lambda: _head("text/plain; charset=utf-7") + b"+AGEAYgBj-" * 100_000)

    text = "Quote stripping and text"
    yield Case(text, "one 1 MB line", lambda: _head() + b"a" * MEGABYTE)
    yield Case(text, "1 MB of > lines", lambda: _head() + b"> a\r\n" * 200_000)
    yield Case(
        text,
        "1 MB of quote markers",
        lambda: _head() + b"On 1 Jan 2024 x wrote:\r\n> a\r\nFrom: x\r\nSent: y\r\nSubject: z\r\n" * 15_000,
    )
    yield Case(
        text,
        "attributions with long > runs",
        lambda: _head() + (b"On 1 Jan 2024 x wrote:\r\n" + b"> a\r\n" * 1000 + b"new\r\n") * 200,
    )
    yield Case(text, "1 MB of dashes", lambda: _head() + b"-" * MEGABYTE)
    yield Case(text, "1 MB of 'From:' lines", lambda: _head() + b"From: x\r\n" * 120_000)
    yield Case(
        text,
        "format=flowed, 1 MB of soft breaks",
        lambda: _head("text/plain; format=flowed") + b"a \r\n" * 300_000,
    )
    yield Case(text, "1 MB of blank lines between words", lambda: _head() + b"x" + b"\r\n" * 500_000 + b"x")

    bounce = "Bounce reading"
    yield Case(
        bounce, "failure notice, 1 MB of blank lines", lambda: _bounce("x" + "\n" * (MEGABYTE - 10) + "x")
    )
    yield Case(bounce, "failure notice, 64 KB of space lines", lambda: _bounce("x" + " \n" * 40_000 + "x"))
    yield Case(bounce, "failure notice, 1 MB of 5xx-like lines", lambda: _bounce("5000 " * 200_000))
    yield Case(bounce, "delivery status, 10,000 recipients", lambda: _dsn(10_000))


def _measure(case: Case, repeat: int) -> Figure:
    raw = case.build()
    best: tuple[float, float] | None = None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.thread_time()
        parsed = parse(raw)
        spent = (time.perf_counter() - wall, time.thread_time() - cpu)
        best = spent if best is None or spent[1] < best[1] else best
    assert best is not None
    return Figure(
        case.group,
        case.label,
        len(raw) / MEGABYTE,
        best[0],
        best[1],
        getattr(parsed, "over_budget", ""),
        len(parsed.problems),
        len(parsed.text),
    )


def _child(case_index: int, repeat: int, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    case = list(cases())[case_index]
    results.put(asdict(_measure(case, repeat)))


def _isolated(index: int, case: Case, repeat: int, timeout: float) -> Figure:
    context = multiprocessing.get_context("fork")
    results: multiprocessing.Queue = context.Queue()  # type: ignore[type-arg]
    child = context.Process(target=_child, args=(index, repeat, results))
    child.start()
    child.join(timeout)
    if child.is_alive():
        child.kill()
        child.join()
        return Figure(case.group, case.label, len(case.build()) / MEGABYTE, None, None, "", 0, 0)
    return Figure(**results.get(timeout=5))


def _seconds(value: float | None, timeout: float | None) -> str:
    return f"> {timeout:g}" if value is None else f"{value:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.mail_hostile", description="Time reading hostile mails; prints figures."
    )
    parser.add_argument("--only", default="", help="only the cases whose label contains this text")
    parser.add_argument("--repeat", type=int, default=1, help="reads per case; the fastest counts (1)")
    parser.add_argument("--timeout", type=float, help="read each case in a child process stopped after this")
    args = parser.parse_args(argv)
    print(
        f"Reading hostile mails: Python {platform.python_version()}, {os.cpu_count()} CPUs; "
        f"target: at most {TARGET_SECONDS:g} s of CPU per mail",
        flush=True,
    )
    load = facts.warn_if_busy("the run")
    figures: list[Figure] = []
    group = ""
    for index, case in enumerate(cases()):
        if args.only.lower() not in case.label.lower():
            continue
        if case.group != group:
            group = case.group
            print(f"\n{group}\n{'case':<48} {'MB':>6} {'wall s':>8} {'CPU s':>8}  problems  over budget")
        if args.timeout:
            figure = _isolated(index, case, args.repeat, args.timeout)
        else:
            figure = _measure(case, args.repeat)
        figures.append(figure)
        flag = " !" if figure.cpu_s is None or figure.cpu_s > TARGET_SECONDS else ""
        print(
            f"{case.label:<48} {figure.megabytes:>6.2f} {_seconds(figure.wall_s, args.timeout):>8} "
            f"{_seconds(figure.cpu_s, args.timeout):>8}{flag:<2} {figure.problems:>6}    "
            f"{figure.over_budget[:60]}",
            flush=True,
        )
    measured = [f.cpu_s for f in figures if f.cpu_s is not None]
    slowest = max(measured, default=0.0)
    stopped = sum(f.cpu_s is None for f in figures)
    print(
        f"\n{len(figures)} cases; slowest {slowest:.3f} s of CPU"
        + (f"; {stopped} stopped after {args.timeout:g} s" if stopped else "")
    )
    load_end = facts.load_average()
    print(f"Load average {load[0]:.2f} at the start, {load_end[0]:.2f} at the end.")
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"mail_hostile-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "commit": facts.source_commit(),
                "load": load,
                "loadavg": {"start": load, "end": load_end, "quiet_below": facts.QUIET_LOAD},
                "python": platform.python_version(),
                "cases": [asdict(f) for f in figures],
            },
            indent=2,
        )
    )
    print(f"Results written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
