"""The new text of a reply: quoted history and signature removed, for display (docs/product.md §4: "quoted
history stripped for display"); the full text is always kept beside it. Pure.

Mail clients mark the start of the history in a handful of ways, and this module cuts at the
first it finds:

- an attribution line, "On <date>, <name> wrote:" and its translations ("Le … a écrit :",
  "Am … schrieb …:", "El … escribió:", "Op … schreef …:", "… пишет:"), also wrapped over up to
  three lines as Gmail does, and Apple Mail's "On <date>, at <time>, <name> wrote:"; one without
  an opening word ("Support <s@example.com> wrote:"; in Russian Gmail's "<date>, <name>
  <address>:" and iOS's "<date>, <name> <address> написал:") only right above a quote, and
  wrapped only when it names an address and its first line a date or the address (so a line of
  the reply that merely ends in "wrote:" stays);
- a separator line: Outlook's "-----Original Message-----", the forward markers of Gmail
  ("---------- Forwarded message ---------"), Thunderbird and Apple Mail ("Begin forwarded
  message:"), with their translations;
- a header block as Outlook writes it: "From:" (Von:, De :, Van:, …) followed within a few
  lines by a date ("Sent:", "Gesendet:", "Envoyé :", "Date:", …) and a subject line.

An attribution followed by `>`-quoted lines that have new text between them is an inline reply
and is not cut; only the trailing run of quoted lines goes, and a single leading quote block
with new text only below it (bottom-posting, as Thunderbird does by default). Then the
signature is removed: the "-- " delimiter near the end, a mailing list's footer, and one-line
mobile signatures ("Sent from my iPhone", "Get Outlook for iOS", "Von meinem iPhone gesendet",
and the Russian "Отправлено из …").

When nothing is left — a forward with no note above it, a reply that is only quotes — the
whole text is the answer: a forward's content *is* the message. The same ideas as GitHub's
email_reply_parser, talon and mail-parser-reply; the code is our own.
"""

from __future__ import annotations

import re

MAX_SCANNED_LINES = 10_000  # markers are looked for in the first lines only; the rest is kept
MAX_SIGNATURE_LINES = 25
_WRAP = 3  # lines an attribution may be wrapped over

_OPENER = re.compile(r"^(?:on|le|am|el|op|il|em|den|dne|på|w dniu)\s", re.IGNORECASE)
_WROTE = re.compile(
    r"(?:wrote|writes|a écrit|schrieb|escribió|escreveu|schreef|geschreven|scrisse|ha scritto|skrev|"
    r"kirjoitti|napisał|napsal|написал|написала|пишет)\b[^:]{0,120}:$",
    re.IGNORECASE,
)
_DIGIT = re.compile(r"\d")
_ADDRESS_COLON = re.compile(r"@[^\s@]+\s*:$")  # Gmail's attribution in languages it writes no verb in
_SEPARATOR = re.compile(
    r"^(?:-{2,}\s*(?:original message|ursprüngliche nachricht|message d'origine|mensaje original|"
    r"oorspronkelijk bericht|messaggio originale|originalmeddelande|opprinnelig melding|"
    r"oprindelig meddelelse|mensagem original|forwarded message|weitergeleitete nachricht|"
    r"message transféré|mensaje reenviado|doorgestuurd bericht|messaggio inoltrato|"
    r"vidarebefordrat meddelande|mensagem encaminhada|исходное сообщение|пересылаемое сообщение|"
    r"пересланное сообщение)\s*-{2,}"
    r"|(?:begin forwarded message|anfang der weitergeleiteten nachricht|début du message réexpédié|"
    r"inicio del mensaje reenviado|begin doorgestuurd bericht|inizio messaggio inoltrato)\s*:)$",
    re.IGNORECASE,
)
_LABEL = re.compile(r"^\*?\s*([^\W\d_]+(?: [^\W\d_]+)?)\s*\*?\s*:", re.IGNORECASE)
_FROM_LABELS = frozenset({"from", "von", "de", "van", "da", "från", "fra", "od", "от"})
_DATE_LABELS = frozenset(
    {
        "sent", "date", "gesendet", "datum", "envoyé", "envoye", "enviado", "enviado el", "fecha",
        "verzonden", "inviato", "data", "skickat", "sendt", "wysłano", "odesláno", "отправлено", "дата",
    }
)  # fmt: skip
_SUBJECT_LABELS = frozenset(
    {
        "subject",
        "betreff",
        "objet",
        "asunto",
        "onderwerp",
        "oggetto",
        "assunto",
        "ämne",
        "emne",
        "temat",
        "předmět",
        "тема",
    }
)
_HEADER_BLOCK_LINES = 10
_MOBILE_SIGNATURE = re.compile(
    r"^(?:sent from (?:my |mail for |outlook|yahoo|proton|samsung|aol|gmail|bluemail|the ).{0,60}"
    r"|sent (?:with|using|via) (?:proton ?mail|blackberry|outlook|spark|bluemail|yahoo).{0,60}"
    r"|get outlook for .{1,80}|von meine[mr]? .{1,60} gesendet"
    r"|envoyé (?:de|depuis) (?:mon|ma) .{1,60}|enviado (?:desde|de) mi .{1,60}"
    r"|verzonden (?:vanaf|met) (?:mijn )?.{1,60}|inviato da .{1,60}|skickat från .{1,60}"
    r"|отправлено \w{1,3} .{1,60})\.?$",
    re.IGNORECASE,
)
_FOOTER_RULE = re.compile(r"^_{20,}\s*$")  # Mailman's footer: a rule, then "<list> mailing list"
_FOOTER_LINES = 8
_RULE = re.compile(r"^[-_=*~\s]*$")


def reply_text(text: str) -> str:
    """`text` without quoted history and signature; never empty when `text` has content."""
    lines = text.replace("\r\n", "\n").split("\n")
    cut = _first_marker(lines[:MAX_SCANNED_LINES])
    kept = lines[:cut] if cut is not None else lines
    kept = _without_leading_quote(_without_trailing_quote(kept))
    kept = _without_signature(_trimmed(kept))
    result = "\n".join(_trimmed(kept)).strip()
    return result if result else text.strip()


def _clean(line: str) -> str:
    return line.replace("\xa0", " ").strip()


def _first_marker(lines: list[str]) -> int | None:
    for index, raw in enumerate(lines):
        line = _clean(raw)
        if not line or line.startswith(">"):
            continue
        if _SEPARATOR.match(line):
            return index
        label = _LABEL.match(line)
        if label and label[1].lower() in _FROM_LABELS and _header_block(lines, index):
            return index
        span = _attribution(lines, index)
        if span and not _inline_reply(lines, index + span):
            return index
    return None


def _header_block(lines: list[str], start: int) -> bool:
    """Whether a "From:" line starts a quoted message's header block (date and subject follow)."""
    dated = subject = False
    for raw in lines[start + 1 : start + _HEADER_BLOCK_LINES]:
        label = _LABEL.match(_clean(raw))
        if label:
            name = label[1].lower()
            dated = dated or name in _DATE_LABELS
            subject = subject or name in _SUBJECT_LABELS
        if dated and subject:
            return True
    return False


def _attribution(lines: list[str], start: int) -> int:
    """How many lines the attribution starting at `start` spans, or 0 if none starts there."""
    first = _clean(lines[start])
    if _OPENER.match(first):
        joined = first
        for extra in range(_WRAP):
            if extra:
                if start + extra >= len(lines):
                    break
                following = _clean(lines[start + extra])
                if not following or following.startswith(">"):
                    break
                joined = f"{joined} {following}"
            if len(joined) > 500:
                break
            if _WROTE.search(joined) and _DIGIT.search(joined):
                return extra + 1
        return 0
    return _bare_attribution(lines, start)


def _bare_attribution(lines: list[str], start: int) -> int:
    """An attribution without an opening word: the lines from `start` (up to _WRAP) that end in a
    "wrote:" with a name before it, or in a dated address and a colon, right above a quote.
    Wrapped over several lines only when it names an address and begins with a date or with it."""
    first = _clean(lines[start])
    joined = ""
    for index in range(start, min(start + _WRAP, len(lines))):
        line = _clean(lines[index])
        if not line or line.startswith(">"):
            return 0
        joined = f"{joined} {line}".lstrip()
        if len(joined) > 300:
            return 0
        wrote = _WROTE.search(joined)
        dated_address = _DIGIT.search(joined) and _ADDRESS_COLON.search(joined)
        said = bool(wrote and wrote.start() > 0) or bool(dated_address)
        if said and index > start and not ("@" in joined and (_DIGIT.search(first) or "@" in first)):
            return 0
        if said and _quote_follows(lines, index + 1):
            return index - start + 1
    return 0


def _quote_follows(lines: list[str], start: int) -> bool:
    following = next((_clean(line) for line in lines[start : start + 2] if _clean(line)), "")
    return following.startswith(">")


def _inline_reply(lines: list[str], start: int) -> bool:
    """New text between the quoted lines after an attribution: answers written inline."""
    quoted = False
    for index in range(start, len(lines)):
        raw = lines[index]
        line = _clean(raw)
        if not line:
            continue
        if line.startswith(">"):
            quoted = True
            continue
        return quoted and not _signature_start(raw)
    return False


def _signature_start(raw: str) -> bool:
    return raw.rstrip("\r") in ("-- ", "--") or bool(_MOBILE_SIGNATURE.match(_clean(raw)))


def _without_trailing_quote(lines: list[str]) -> list[str]:
    """Drop the trailing run of `>` lines (and blank lines), with the attribution above it."""
    end = len(lines)
    while end and (not _clean(lines[end - 1]) or _clean(lines[end - 1]).startswith(">")):
        end -= 1
    if not any(_clean(line).startswith(">") for line in lines[end:]):
        return lines
    while end and not _clean(lines[end - 1]):
        end -= 1
    for start in range(max(0, end - _WRAP), end):
        span = _attribution(lines, start)
        if span and start + span >= end:
            return lines[:start]
    return lines[:end]


def _without_leading_quote(lines: list[str]) -> list[str]:
    """A bottom-posted reply: the quote (with its attribution) above, one block, then only new
    text; the new text is what is left. Several quote blocks make an inline reply, kept whole."""
    start = 0
    while start < len(lines) and not _clean(lines[start]):
        start += 1
    if start < len(lines) and not _clean(lines[start]).startswith(">"):
        span = _attribution(lines, start)
        if not span:
            return lines
        start += span
    end = start
    while end < len(lines) and (not _clean(lines[end]) or _clean(lines[end]).startswith(">")):
        end += 1
    if end == start or any(_clean(line).startswith(">") for line in lines[end:]):
        return lines
    return lines[end:]


def _without_signature(lines: list[str]) -> list[str]:
    """Without the "-- " signature, a mailing list's footer or a one-line mobile signature."""
    for index in range(len(lines) - 1, max(0, len(lines) - 1 - _FOOTER_LINES), -1):
        following = _clean(lines[index + 1]).lower() if index + 1 < len(lines) else ""
        if _FOOTER_RULE.match(lines[index]) and "mailing list" in following:
            lines = lines[:index]
            break
    for index in range(len(lines) - 1, max(0, len(lines) - 1 - MAX_SIGNATURE_LINES), -1):
        if lines[index].rstrip("\r") in ("-- ", "--"):
            return lines[:index]
    tail = [index for index in range(len(lines) - 1, -1, -1) if _clean(lines[index])][:2]
    for index in tail:
        if _MOBILE_SIGNATURE.match(_clean(lines[index])):
            return lines[:index]
    return lines


def _trimmed(lines: list[str]) -> list[str]:
    """Without leading blank lines and trailing blank or rule lines (`____`, `-----`)."""
    start, end = 0, len(lines)
    while start < end and not _clean(lines[start]):
        start += 1
    while end > start and _RULE.match(lines[end - 1]):
        end -= 1
    return lines[start:end]
