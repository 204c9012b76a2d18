"""How far a mail proves who wrote it (docs/product.md §4: "a mail acts for a person only as far as it is
authenticated"). Pure: the parsed mail and the trusted servers in, a verdict out.

Anyone can write `From: the-ceo@example.com`, and anyone can write an `Authentication-Results`
header too. So only the results of servers the admin named (`TICKETRY_MAIL_TRUSTED_AUTHSERV_IDS`,
the receiving MTA's authserv-id, RFC 8601) count, and of those only the topmost: the one our own
MTA added last, above anything the sender wrote. Within it:

- DMARC decides when present: `dmarc=pass` for the From domain proves it, `dmarc=fail` refutes it;
- without DMARC, a passing DKIM signature or SPF check *aligned* with the From domain (the same
  domain, or one a subdomain of the other) proves it; a hard SPF `fail` with no passing DKIM
  refutes it; anything else (`none`, `neutral`, `softfail`, `temperror`, a result for another
  domain) proves nothing either way.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from ticketry.mailparse.parse import ParsedMail

MAX_HEADERS = 20  # Authentication-Results headers looked at, top down
MAX_HEADER_LENGTH = 8000
_PROPERTIES = ("header.from", "header.d", "header.i", "smtp.mailfrom", "smtp.from")


class Proof(enum.StrEnum):
    PASS = "pass"  # noqa: S105 - a trusted server vouches for the From domain
    FAIL = "fail"  # a trusted server says the From domain did not send it
    NONE = "none"  # no trusted result, or one that proves nothing


@dataclass(frozen=True)
class Authentication:
    proof: Proof
    detail: str  # for the mail log: "dmarc=pass (mx.example.com)"


@dataclass(frozen=True)
class _Result:
    method: str
    result: str
    domain: str


def authenticate(mail: ParsedMail, trusted: Iterable[str]) -> Authentication:
    """What the trusted receiving server says of the mail's From domain."""
    servers = {server.strip().lower() for server in trusted if server.strip()}
    if not servers:
        return Authentication(Proof.NONE, "no trusted mail server is configured")
    sender_domain = mail.from_address.rpartition("@")[2].lower()
    if not sender_domain:
        return Authentication(Proof.NONE, "the mail has no From address")
    # As written, never RFC 2047-decoded: the header quotes what the sender chose (the envelope
    # sender in `smtp.mailfrom`), and a decoded `=3B` must not become a `;` of the header's syntax.
    for header in mail.raw_headers("Authentication-Results")[:MAX_HEADERS]:
        server, results = _parse(header[:MAX_HEADER_LENGTH])
        if server in servers:
            return _judge(results, sender_domain, server)
    return Authentication(Proof.NONE, "no Authentication-Results from a trusted server")


def _words(text: str) -> list[list[str]]:
    """RFC 8601's header as clauses (split at `;`) of words (split at white space), outside
    quoted strings and comments: a quoted string stays inside its word, quotes and all (the
    sender chose its content), and a comment, however nested, goes."""
    clauses: list[list[str]] = [[]]
    word: list[str] = []
    depth = 0
    quoted = escaped = False

    def end_word() -> None:
        if word:
            clauses[-1].append("".join(word))
            word.clear()

    for char in text:
        if escaped:
            escaped = False
            if depth == 0:
                word.append(char)
        elif char == "\\" and (quoted or depth):
            escaped = True
            if depth == 0:
                word.append(char)
        elif quoted:
            word.append(char)
            quoted = char != '"'
        elif depth:
            depth += {"(": 1, ")": -1}.get(char, 0)
        elif char == "(":
            depth = 1
            end_word()
        elif char == '"':
            quoted = True
            word.append(char)
        elif char == ";":
            end_word()
            clauses.append([])
        elif char.isspace():
            end_word()
        else:
            word.append(char)
    end_word()
    return clauses


def _parse(header: str) -> tuple[str, list[_Result]]:
    """`mx.example.com; dkim=pass header.d=example.com; spf=fail …` → the server and results."""
    clauses = _words(header)
    server = (clauses[0] or [""])[0].lower()
    results = []
    for clause in clauses[1:]:
        if not clause:
            continue
        method, equals, result = clause[0].partition("=")
        if not equals or '"' in method or '"' in result:
            continue
        props: dict[str, str] = {}
        for word in clause[1:]:
            name, equals, value = word.partition("=")
            if equals and name.lower() in _PROPERTIES and name.lower() not in props:
                props[name.lower()] = value.lower()
        domain = _domain(props.get("header.from") or props.get("header.d") or "")
        if not domain:
            address = props.get("header.i") or props.get("smtp.mailfrom") or props.get("smtp.from") or ""
            domain = _domain(address.rpartition("@")[2]) if "@" in address else ""
        results.append(_Result(method.partition("/")[0].lower(), result.lower(), domain))
    return server, results


def _domain(value: str) -> str:
    """A plain domain name, or "" for anything else (a quoted string, an address, junk)."""
    value = value.strip().rstrip(".")
    if not value or len(value) > 253 or not all(ch.isalnum() or ch in "-." for ch in value):
        return ""
    return value


def _aligned(domain: str, sender_domain: str) -> bool:
    """Relaxed alignment without a public-suffix list: the same domain, or one inside the other."""
    if not domain:
        return False
    return (
        domain == sender_domain
        or sender_domain.endswith("." + domain)
        or domain.endswith("." + sender_domain)
    )


def _judge(results: list[_Result], sender_domain: str, server: str) -> Authentication:
    def said(method: str, result: str) -> str:
        return f"{method}={result} ({server})"

    dmarc = [r for r in results if r.method == "dmarc"]
    for result in dmarc:
        if result.result == "fail" and (not result.domain or _aligned(result.domain, sender_domain)):
            return Authentication(Proof.FAIL, said("dmarc", "fail"))
    for result in dmarc:
        # A pass proves the From only when it names that domain (`header.from`).
        if result.result == "pass" and _aligned(result.domain, sender_domain):
            return Authentication(Proof.PASS, said("dmarc", "pass"))
    for result in results:
        passed = result.method in ("dkim", "spf") and result.result == "pass"
        if passed and _aligned(result.domain, sender_domain):
            return Authentication(Proof.PASS, said(result.method, "pass"))
    if not dmarc:
        for result in results:
            if result.method == "spf" and result.result == "fail" and _aligned(result.domain, sender_domain):
                return Authentication(Proof.FAIL, said("spf", "fail"))
    if dmarc:
        return Authentication(Proof.NONE, said("dmarc", dmarc[0].result))
    return Authentication(Proof.NONE, f"nothing aligned with {sender_domain} passed ({server})")
