"""The charset of header text a mailer wrote as raw 8-bit bytes without declaring it (no RFC 2047
encoded word): an old Russian client's KOI8-R Subject, a windows-1251 display name. Pure; used by
`decode.read_header_section` only for bytes that are not UTF-8 (docs/product.md §4, mail in).

`charset-normalizer` names the charsets under which the bytes read without mess; alone it cannot
choose among them for a few dozen bytes (measured with 3.5: a KOI8-R "Привет, не работает
принтер" comes out as Shift_JIS, Thai or pointed Hebrew, all with a mess ratio of 0). So each of
its candidates is read, and kept only when every word has the shape of a real word: letters of
one script, no capital after a lower-case letter (KOI8-R read as windows-1251 swaps the case of
every letter), no word made only of accented Latin letters (windows-1251 read as windows-1252:
"Ïðèâåò"), no stray symbols. Of those, an alphabet's reading with the fewest capitals wins (text is
mostly lower-case; an all-capital Russian subject is read as KOI8-R, the one guess this gets
wrong), else a Japanese one with kana, else the Korean or Chinese one with most of the language's
frequent characters. A guess is made only when the old reading (windows-1252) is garbled in at
least half its words, so Western text stays as it was; and a charset the header section declares
for its body is tried first (the same charset, in practice: Thunderbird reads such headers so).
"""

from __future__ import annotations

import codecs
import itertools
import re
import unicodedata

from charset_normalizer import from_bytes
from charset_normalizer.constant import FREQUENCIES

MAX_GUESSED_BYTES = 2048  # of raw header text looked at to guess; the guess then decodes it all

# Candidates, in the order they are tried, with the name shown in the mail log.
_CANDIDATES = {
    "cp1251": "windows-1251",
    "koi8_r": "KOI8-R",
    "koi8_u": "KOI8-U",
    "cp1250": "windows-1250",
    "iso8859_2": "ISO-8859-2",
    "cp1253": "windows-1253",
    "iso8859_7": "ISO-8859-7",
    "cp1254": "windows-1254",
    "cp1257": "windows-1257",
    "cp932": "Shift_JIS",
    "euc_jp": "EUC-JP",
    "cp949": "EUC-KR",
    "gb18030": "GB18030",
    "big5hkscs": "Big5",
}
_FALLBACK = "cp1252"  # what `decode.decode_loose` reads non-UTF-8 bytes as
_GARBLED = 0.5  # share of odd words and symbols from which the fallback's reading is garbage
# Symbols real text has outside ASCII (quotes, dashes, currency, the numero sign); anything else
# (the superscript 3 of Polish read as windows-1252, the plus-minus sign of Shift_JIS read as
# windows-1251, KOI8-R's box drawing) is taken as the mark of a wrong charset.
_USUAL_SYMBOLS = frozenset("«»„“”‘’–—…€£¥°·•№§©®™¡¿ºª\u00a0")  # noqa: RUF001 - typographic, on purpose
_WORD = re.compile(r"[^\W\d_]+")
_KANA = frozenset({"HIRAGANA", "KATAKANA"})
_HAN = frozenset({"CJK", "HIRAGANA", "KATAKANA"})  # Chinese characters and the Japanese kana
_JAPANESE = frozenset({"cp932", "euc_jp"})
# Korean and Chinese charsets read each other's bytes as valid text of the other script; what
# tells them apart is how many of the language's most frequent characters the reading has.
_BY_FREQUENCY = {
    "cp949": ("Korean", "HANGUL"),
    "gb18030": ("Chinese", "CJK"),
    "big5hkscs": ("Chinese", "CJK"),
}
_FREQUENT = {language: frozenset(FREQUENCIES[language]) for language in ("Korean", "Chinese")}


def guess_charset(data: bytes, *, declared: str | None = None) -> tuple[str, str] | None:
    """(Python codec, what it is for people) of undeclared 8-bit header text, or None when the
    guess is not confident (then the caller keeps its old reading). `declared`: a codec the
    section's Content-Type names for the body, tried first."""
    sample = data[:MAX_GUESSED_BYTES]
    if _odd_share(_decode(sample, _FALLBACK)) < _GARBLED:
        return None
    plausible = {match.encoding for match in from_bytes(sample, cp_isolation=list(_CANDIDATES))}
    order = [declared] if declared and declared != _FALLBACK else []
    alphabets: list[tuple[float, int, str]] = []
    japanese: str | None = None
    chinese, support = None, 0.0
    for position, codec in enumerate([*order, *(name for name in _CANDIDATES if name in plausible)]):
        text = _decode(sample, codec)
        if text is None or _odd_share(text) > 0 or not _has_word(text):
            continue
        if codec == declared:
            return codec, f"{_shown(codec)}, the charset its body declares"
        if codec in _BY_FREQUENCY:
            share = _frequent_share(codec, text)
            chinese, support = (codec, share) if share > support else (chinese, support)
        elif codec in _JAPANESE:
            japanese = japanese or (codec if _japanese(text) else None)
        elif not _has_han(text):
            alphabets.append((_capitals_share(text), position, codec))
    chosen = min(alphabets)[2] if alphabets else japanese or chinese
    return (chosen, _shown(chosen)) if chosen else None


def _shown(codec: str) -> str:
    name = codecs.lookup(codec).name
    return next((shown for key, shown in _CANDIDATES.items() if codecs.lookup(key).name == name), name)


def _decode(sample: bytes, codec: str) -> str | None:
    """`sample` read strictly, forgiving a character cut at its end (the sample is cut)."""
    try:
        return codecs.getincrementaldecoder(codec)().decode(sample, final=False)
    except (UnicodeDecodeError, LookupError):
        return None


def _odd_share(text: str | None) -> float:
    """How much of the non-ASCII text looks like a wrong charset: odd words and symbols over all
    words with a non-ASCII letter and those symbols (0 for clean text; 1 for undecodable)."""
    if text is None:
        return 1.0
    odd = total = 0
    for char in text:
        if not char.isascii() and unicodedata.category(char)[0] not in "LM" and char not in _USUAL_SYMBOLS:
            odd += 1
            total += 1
    for match in _WORD.finditer(text):
        word = match[0]
        if not word.isascii():
            total += 1
            odd += not _word_shape(word)
    return odd / total if total else 0.0


def _word_shape(word: str) -> bool:
    """Letters of one script (Latin may join Han, kana or Hangul), no capital after a lower-case
    letter, and, in Latin, not only accented letters."""
    scripts = {_script(char) for char in word if char.isalpha()}
    mixed = len(scripts) > 1 and not (scripts <= _HAN | {"LATIN"} or scripts <= {"HANGUL", "LATIN"})
    if "" in scripts or mixed:
        return False
    if any(a.islower() and b.isupper() for a, b in itertools.pairwise(word)):
        return False
    letters = [char for char in word if char.isalpha()]
    return not (scripts == {"LATIN"} and len(letters) >= 2 and not any(char.isascii() for char in letters))


def _script(char: str) -> str:
    """The script of a letter as Unicode names it; "" for one no text is written in."""
    if char.isascii() or char in "ªº":
        return "LATIN"
    name = unicodedata.name(char, "")
    if not name or name.startswith("HALFWIDTH"):
        return ""  # half-width katakana: Shift_JIS's reading of KOI8-R letters
    first = name.split(" ", 1)[0].split("-", 1)[0]
    return "CJK" if first == "IDEOGRAPHIC" else first


def _has_word(text: str) -> bool:
    """A word of two letters or more outside ASCII: one letter alone proves no charset."""
    return any(len(word) > 1 and not word.isascii() for word in _WORD.findall(text))


def _japanese(text: str) -> bool:
    """Japanese has kana, and only Japanese scripts."""
    scripts = {_script(char) for char in text if not char.isascii() and char.isalpha()}
    return bool(scripts & _KANA) and scripts <= _HAN


def _has_han(text: str) -> bool:
    return any(_script(char) in _HAN | {"HANGUL"} for char in text if not char.isascii() and char.isalpha())


def _capitals_share(text: str) -> float:
    """Of the letters outside ASCII, the share of capitals: text is mostly lower-case, and KOI8-R
    read as windows-1251 (or the other way round) swaps the case of every letter."""
    letters = [char for char in text if not char.isascii() and char.isalpha()]
    return sum(char.isupper() for char in letters) / len(letters) if letters else 0.0


def _frequent_share(codec: str, text: str) -> float:
    """Of a Korean or Chinese reading, the share of the language's most frequent characters (0 if
    it has letters of another script)."""
    language, script = _BY_FREQUENCY[codec]
    letters = [char for char in text if not char.isascii() and char.isalpha()]
    if {_script(char) for char in letters} != {script}:
        return 0.0
    return sum(char in _FREQUENT[language] for char in letters) / len(letters)
