"""A mail's HTML part made safe to keep, and read as text for mail that has no text part. Pure;
used by `parse` (docs/product.md §4, mail in).

Both are linear in their input, because a mail is written by anyone (issue 12 item 4).
html5ever (inside nh3) is not on every shape of HTML: `htmlbounds.bound_markup` bounds the
structure it is given first and says why. The stdlib `html.parser` of CPython 3.11 is quadratic
on unterminated comments (20,000 times `<!--` take 4 s) and raises AssertionError on `<![`, so
it only ever reads nh3's own well-formed output (no comments, escaped text and attributes); on
that it is linear, and so is `_TextWriter`, which never joins a line more than once. A faster
C parser was measured and not taken: selectolax's Lexbor reads nh3's output well, but not
hostile HTML (200,000 nested `<div>` take 314 s, one tag of 120,000 attributes 52 s), so it would
be safe only as long as nh3's output is bounded; the stdlib parser is safe on any well-formed input.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import nh3

from ticketry.mailparse.htmlbounds import bound_markup

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "address", "article", "b", "bdi", "bdo", "blockquote", "br", "caption", "center",
        "cite", "code", "col", "colgroup", "dd", "del", "div", "dl", "dt", "em", "figcaption",
        "figure", "font", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "i", "img",
        "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "section", "small", "span",
        "strike", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "time",
        "tr", "tt", "u", "ul", "wbr",
    }
)  # fmt: skip
# Content that is no text of the mail: dropped with its tags.
_DROPPED_WITH_CONTENT = frozenset(
    {"script", "style", "title", "head", "noscript", "template", "iframe", "object", "embed", "svg", "math"}
)
_CELL = frozenset({"colspan", "rowspan", "valign", "width", "height"})
ALLOWED_ATTRIBUTES = {
    "*": {"title", "dir", "lang", "align"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "td": _CELL,
    "th": _CELL,
    "table": {"border", "cellpadding", "cellspacing", "width"},
    "col": {"span", "width"},
    "colgroup": {"span", "width"},
    "ol": {"start"},
}
# Markers of quoted history a display may want to fold away; harmless, unlike arbitrary classes.
ALLOWED_CLASSES = {
    "div": {"gmail_quote", "gmail_attr", "gmail_signature", "moz-cite-prefix", "moz-signature"},
    "blockquote": {"gmail_quote"},
}
_URL_SCHEMES = frozenset({"http", "https", "mailto", "tel", "cid"})
_REMOTE = re.compile(r"^\s*(?:https?:)?//", re.IGNORECASE)


def sanitise_html(html: str, *, remote_images: bool = False) -> tuple[str, int]:
    """(safe HTML, number of remote images removed).

    An allow-list of harmless tags and attributes: no scripts, styles, event handlers, forms,
    frames, ids or classes (beyond the quote markers above); links only to http(s), mailto and
    tel. An image keeps its `cid:` source for the caller to point at the stored inline part;
    a remote source (http, https, protocol-relative) is removed unless `remote_images`, so
    that opening a ticket does not tell a sender it was read.
    """
    blocked = 0

    def keep(tag: str, attribute: str, value: str) -> str | None:
        nonlocal blocked
        if tag == "img" and attribute == "src":
            if value.strip().lower().startswith("cid:"):
                return value.strip()
            if _REMOTE.match(value):
                if remote_images:
                    return value
                blocked += 1
            return None
        if attribute == "href" and value.strip().lower().startswith("cid:"):
            return None
        if attribute == "class":
            kept = [name for name in value.split() if name in ALLOWED_CLASSES.get(tag, ())]
            return " ".join(kept) or None
        return value

    clean = nh3.clean(
        bound_markup(html),
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(_DROPPED_WITH_CONTENT),
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=keep,
        url_schemes=set(_URL_SCHEMES),
        url_relative=_protocol_relative,
        allowed_classes=ALLOWED_CLASSES,
        tag_attribute_values={"blockquote": {"type": {"cite"}}},
        link_rel="noopener noreferrer nofollow",
    )
    return clean, blocked


def _protocol_relative(url: str) -> str | None:
    """`//host/path` is https; other relative URLs point into our own site and are dropped."""
    return "https:" + url.strip() if url.strip().startswith("//") else None


_BLOCKS = frozenset(
    {
        "address", "article", "blockquote", "caption", "center", "dd", "div", "dl", "dt", "figcaption",
        "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "ol", "p", "pre",
        "section", "table", "tbody", "tfoot", "thead", "tr", "ul",
    }
)  # fmt: skip
_SPACES = re.compile(r"[ \t\n\r\f\v\xa0]+")


class _TextWriter(HTMLParser):
    """Sanitised HTML to text: blocks and `<br>` end lines, `<blockquote>` becomes `> ` quoting
    (so quote stripping works as on a text part), links keep their URL, list items get a dash."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.quote = 0
        self.pre = 0
        # Per open link: its URL, and where its label starts (the line, the piece on that line).
        # The label is joined once, at the link's end: joining the line at every link was
        # quadratic (1 MB of links took 5-20 s).
        self.links: list[tuple[str, int, int]] = []
        self.lists: list[int] = []  # per open list: the next number, or 0 for bullets
        self.line_number = 0

    def end_line(self, *, keep_empty: bool = False) -> None:
        text = "".join(self.current)
        self.current = []
        self.line_number += 1
        if not self.pre:
            text = text.strip()
        if text or keep_empty:
            prefix = ">" * self.quote + " " if self.quote else ""
            self.lines.append((prefix + text).rstrip() if self.quote else text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.end_line(keep_empty=True)
        elif tag in _BLOCKS:
            self.end_line()
            if tag == "blockquote":
                self.quote += 1
            elif tag == "pre":
                self.pre += 1
            elif tag in ("ul", "ol"):
                self.lists.append(1 if tag == "ol" else 0)
            elif tag == "li":
                number = self.lists[-1] if self.lists else 0
                self.current.append(f"{number}. " if number else "- ")
                if number:
                    self.lists[-1] += 1
            elif tag == "hr":
                self.current.append("---")
                self.end_line()
        elif tag in ("td", "th"):
            self.current.append(" ")
        elif tag == "a":
            href = dict(attrs).get("href") or ""
            self.links.append((href, self.line_number, len(self.current)))

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCKS:
            self.end_line()
            if tag == "blockquote":
                self.quote = max(0, self.quote - 1)
            elif tag == "pre":
                self.pre = max(0, self.pre - 1)
            elif tag in ("ul", "ol") and self.lists:
                self.lists.pop()
        elif tag == "a" and self.links:
            href, line_number, piece = self.links.pop()
            label = "".join(self.current[piece:] if line_number == self.line_number else self.current)
            target = href.removeprefix("mailto:") if href.lower().startswith("mailto:") else href
            if href.lower().startswith(("http:", "https:", "mailto:")) and target not in label:
                self.current.append(f" ({target})")

    def handle_data(self, data: str) -> None:
        if self.pre:
            first, *rest = data.replace("\r\n", "\n").split("\n")
            self.current.append(first)
            for line in rest:
                self.end_line(keep_empty=True)
                self.current.append(line)
        else:
            self.current.append(_SPACES.sub(" ", data))


def html_to_text(html: str) -> str:
    """Text of *sanitised* HTML (see the module docstring for why only that)."""
    writer = _TextWriter()
    writer.feed(html)
    writer.close()
    writer.end_line()
    lines: list[str] = []
    for line in writer.lines:
        if not line.strip(">").strip() and lines and not lines[-1].strip(">").strip():
            continue  # one blank line at most
        lines.append(line)
    return "\n".join(lines).strip("\n")
