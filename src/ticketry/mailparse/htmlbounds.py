"""A mail's HTML made cheap for an HTML5 parser to read, before nh3 (html5ever) reads it. Pure;
used by `htmlbody.sanitise_html` (docs/product.md §4, mail in; issue 12 item 4).

html5ever spends time superlinear in its input on some shapes, measured on 1 MB of HTML:

- deep nesting: it scans the stack of open elements for every new element (200,000 nested
  `<div>` take over a minute, 80,000 `<blockquote>` 22 s);
- foster parenting: content a table may not hold is moved in front of the table, and each move
  looks the table up among its parent's children (333,000 `<p>` in a `<table>` take 17 s;
  many small tables holding text, 2-11 s);
- attributes: each one is compared with those before it on the same tag (one tag with 120,000
  attributes takes 5.6 s).

`bound_markup` walks the HTML once, tokenized the way HTML5 tokenizes it, and keeps a cheap model
of the parser's state. It drops the start tags that would open more than MAX_NESTING elements
at once (or more than MAX_OPEN_FORMATTING formatting elements, which the parser reopens in every
later block), flattens the tables once MAX_FOSTERED elements and runs of text would be moved in
front of them, and keeps only the name of a tag with more than MAX_ATTRIBUTES attributes. Text
always stays. Real mail nests a few dozen levels and rarely fosters anything; only hostile
input loses markup.

The model can only be cheap if html5ever cannot see tokens the walk did not: a comment, a
`<style>` or a `<textarea>` that html5ever reads differently from the walk (`<!-->` ends a
comment at once, `<svg><style>` holds markup, not text) would hide any number of tags from it.
So every region the walk takes for something other than tags and text is removed from the HTML
or turned into plain text here: comments, doctypes and other `<!…>`/`<?…>` constructs are
removed (nh3 removes them anyway); `<script>`, `<style>`, `<title>`, `<noscript>` and
`<iframe>` go with their content (nh3 drops that content anyway); the text of `<textarea>`,
`<xmp>`, `<noembed>`, `<noframes>` and `<plaintext>` is kept, escaped. What html5ever reads
afterwards is only start tags, end tags and text, the very tokens the model counted.
"""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass

MAX_NESTING = 100
MAX_OPEN_FORMATTING = 20
MAX_FOSTERED = 1000  # insertions in front of a table (elements, reopened formatting, text runs)
MAX_ATTRIBUTES = 100  # per tag

_SPACE = "\t\n\f\r "  # HTML's whitespace (CR is LF once the input stream is normalised)
_VALUE = r"""(?:"[^"]*"?|'[^']*'?|[^\t\n\f\r >]*)"""
_ATTRIBUTE = rf"[^\t\n\f\r />][^\t\n\f\r /=>]*(?:[\t\n\f\r ]*=[\t\n\f\r ]*{_VALUE})?"
# A tag as the HTML5 tokenizer reads it: a name up to whitespace, "/" or ">", then attributes
# whose quoted values may hold ">" (the tokenizer honours quotes in end tags too). An
# unterminated tag runs to the end of the input, where the tokenizer drops it.
_MARKUP = re.compile(
    rf"<(?:(?P<slash>/?)(?P<name>[A-Za-z][^\t\n\f\r />]*)(?P<attributes>(?:[\t\n\f\r /]+|{_ATTRIBUTE})*)>?"
    r"|(?P<comment>!--)|[!?]|/(?:>|(?=[^A-Za-z])))"
)
_ATTRIBUTES = re.compile(_ATTRIBUTE)
_COMMENT_END = re.compile(r"--!?>")
_VOID = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    }
)
# Elements a parser closes by itself when the next one starts; they never deepen the tree.
_SELF_CLOSING = frozenset(
    {
        "p",
        "li",
        "dt",
        "dd",
        "option",
        "optgroup",
        "tr",
        "td",
        "th",
        "thead",
        "tbody",
        "tfoot",
        "rb",
        "rt",
        "rp",
    }
)
# Formatting elements survive their enclosing blocks: the parser reopens them in each later block
# (the adoption agency), so each one left open is counted apart from the stack.
_FORMATTING = frozenset(
    {"a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong", "tt", "u"}
)
# Raw text: removed with the element (nh3 drops the content too), or kept as escaped text.
_REMOVED_WITH_CONTENT = frozenset({"script", "style", "title", "noscript", "iframe"})
_KEPT_AS_TEXT = frozenset({"textarea", "xmp", "noembed", "noframes", "plaintext"})
_RCDATA = frozenset({"textarea", "title"})  # character references are read in these
_RAW_END = {
    name: re.compile(f"</{name}[\t\n\f\r />]", re.IGNORECASE)
    for name in _REMOVED_WITH_CONTENT | _KEPT_AS_TEXT
}
# What a removed region becomes: an empty comment, so that text on either side cannot join into a
# new tag ("<" + "<div>" + "x>" must not become "<x>") or lose what the parser does after a tag
# (a newline right after <pre> is dropped, one after a comment is not). nh3 removes it.
_GAP = "<!---->"
_TABLE_PARTS = frozenset({"caption", "colgroup", "col", "tbody", "thead", "tfoot", "tr", "td", "th"})
_CELLS = frozenset({"td", "th", "caption"})
_FOREIGN = frozenset({"svg", "math"})
# Tags that end SVG and MathML content (the parser pops back to the HTML element around it).
_BREAKOUT = frozenset(
    {
        "b", "big", "blockquote", "body", "br", "center", "code", "dd", "div", "dl", "dt", "em", "embed",
        "font", "h1", "h2", "h3", "h4", "h5", "h6", "head", "hr", "i", "img", "li", "listing", "menu",
        "meta", "nobr", "ol", "p", "pre", "ruby", "s", "small", "span", "strike", "strong", "sub", "sup",
        "table", "tt", "u", "ul", "var",
    }
)  # fmt: skip


@dataclass
class _Context:
    """An open table, template, or SVG/MathML root: the innermost one decides how the parser
    places what comes next (only a table fosters)."""

    kind: str  # "table", "template" or "foreign"
    index: int  # of its element on the stack
    in_cell: bool = False


class _Walk:
    def __init__(self, html: str, limit: int) -> None:
        self.html = html
        self.limit = limit
        self.pieces: list[str] = []
        self.copied = 0
        # Open elements as the parser would have them; a formatting element closed from below
        # stays as "" (the parser moves what it held), so indices never shift.
        self.stack: list[str] = []
        self.formatting = 0
        self.contexts: list[_Context] = []
        self.fostered = 0
        self.flat = False  # the tables were flattened: table tags are dropped from here on

    # --- output --------------------------------------------------------------------------------

    def replace(self, start: int, end: int, text: str = _GAP) -> None:
        self.pieces.append(self.html[self.copied : start])
        self.pieces.append(text)
        self.copied = end

    def result(self) -> str:
        if not self.pieces:
            return self.html
        self.pieces.append(self.html[self.copied :])
        return "".join(self.pieces)

    # --- the model -----------------------------------------------------------------------------

    @property
    def table(self) -> _Context | None:
        """The innermost context if it is a table, and content is not inside one of its cells."""
        inner = self.contexts[-1] if self.contexts else None
        return inner if inner is not None and inner.kind == "table" and not inner.in_cell else None

    def pop_to(self, index: int) -> None:
        del self.stack[index:]
        while self.contexts and self.contexts[-1].index >= index:
            self.contexts.pop()

    def push(self, name: str) -> None:
        inside_foreign = bool(self.contexts) and self.contexts[-1].kind == "foreign"
        kind = "table" if name == "table" else "template" if name == "template" and not inside_foreign else ""
        if name in _FOREIGN:
            kind = "foreign"
        if kind:
            self.contexts.append(_Context(kind, len(self.stack)))
        self.stack.append(name)
        self.formatting += name in _FORMATTING

    def foster(self, at: int) -> None:
        """Something is moved in front of the table, with the open formatting reopened for it."""
        self.fostered += 1 + self.formatting
        if self.fostered > MAX_FOSTERED:
            self.flatten(at)

    def flatten(self, at: int) -> None:
        """Close every open table (and the templates among them, inside which the parser ignores
        `</table>`) at `at`; from there on table tags are dropped (their text stays)."""
        closing = [context for context in self.contexts if context.kind in ("table", "template")]
        self.replace(at, at, "".join(f"</{context.kind}>" for context in reversed(closing)))
        if closing:
            self.pop_to(closing[0].index)
        self.flat = True

    def leave_foreign(self) -> None:
        """A tag that ends SVG or MathML content: back to the HTML element around it."""
        outermost = None
        for context in reversed(self.contexts):
            if context.kind != "foreign":
                break
            outermost = context
        if outermost is not None:
            self.pop_to(outermost.index)

    # --- tokens --------------------------------------------------------------------------------

    def run(self) -> str:
        html, pos = self.html, 0
        while (match := _MARKUP.search(html, pos)) is not None:
            self.text(pos, match.start())
            pos = match.end()
            name = match["name"]
            if name is None:
                pos = self.not_a_tag(match)
            elif match["slash"]:
                self.end_tag(match, name.lower())
            else:
                pos = self.start_tag(match, name.lower())
        self.text(pos, len(html))
        return self.result()

    def text(self, start: int, end: int) -> None:
        if start < end and self.table is not None and self.html[start:end].strip(_SPACE):
            self.foster(start)

    def not_a_tag(self, match: re.Match[str]) -> int:
        """A comment, doctype, `<!…>`, `<?…>` or `</…>` that is no end tag: removed."""
        html, pos = self.html, match.end()
        if match["comment"]:
            if html.startswith(">", pos):
                end = pos + 1  # "<!-->" is a whole (empty) comment
            elif html.startswith("->", pos):
                end = pos + 2
            else:
                found = _COMMENT_END.search(html, pos)
                end = found.end() if found else len(html)
        elif match[0] == "</>":
            end = pos
        else:
            closing = html.find(">", pos)
            end = len(html) if closing < 0 else closing + 1
        self.replace(match.start(), end)
        return end

    def start_tag(self, match: re.Match[str], name: str) -> int:
        if name in _REMOVED_WITH_CONTENT or name in _KEPT_AS_TEXT:
            return self.raw_text(match, name)
        tabular = name == "table" or name in _TABLE_PARTS
        if self.flat and tabular:
            self.replace(match.start(), match.end())
            return match.end()
        inner = self.contexts[-1] if self.contexts else None
        foreign = inner is not None and inner.kind == "foreign"
        if foreign and name in _BREAKOUT:
            self.leave_foreign()
            inner = self.contexts[-1] if self.contexts else None
            foreign = False
        table = self.table
        if table is not None and not tabular:
            self.foster(match.start())
        elif table is not None and name == "table":
            self.pop_to(table.index)  # a table where a table may not be: the parser closes the first
        if foreign and match[0].endswith("/>"):
            pass  # acknowledged as self-closing in SVG and MathML
        elif not foreign and (name in _VOID or name in _SELF_CLOSING):
            pass
        elif len(self.stack) >= self.limit or (
            name in _FORMATTING and self.formatting >= MAX_OPEN_FORMATTING
        ):
            self.replace(match.start(), match.end())
            return match.end()
        else:
            self.push(name)
        inner = self.contexts[-1] if self.contexts else None
        if inner is not None and inner.kind == "table" and name in _TABLE_PARTS and not self.flat:
            inner.in_cell = name in _CELLS
        self.shorten(match, name, "")
        return match.end()

    def end_tag(self, match: re.Match[str], name: str) -> None:
        tabular = name == "table" or name in _TABLE_PARTS
        if self.flat and tabular:
            self.replace(match.start(), match.end())
            return
        inner = self.contexts[-1] if self.contexts else None
        if inner is not None and inner.kind == "foreign" and name in ("p", "br"):
            self.leave_foreign()
        if self.table is not None and name in ("p", "br"):
            self.foster(match.start())  # "</p>" and "</br>" insert an element
        index = len(self.stack) - 1 - self.stack[::-1].index(name) if name in self.stack else -1
        # The parser closes nothing across an open table, template or SVG/MathML root (they bound
        # its scopes): "<div><table></div>" leaves the table open, and so must the model.
        if index >= 0 and index >= (self.contexts[-1].index if self.contexts else 0):
            if name in _FORMATTING and index < len(self.stack) - 1:
                self.stack[index] = ""  # blocks opened inside it stay open
            else:
                self.pop_to(index)
            if name in _FORMATTING:
                self.formatting = max(0, self.formatting - 1)
        inner = self.contexts[-1] if self.contexts else None
        if inner is not None and inner.kind == "table" and name in _TABLE_PARTS:
            inner.in_cell = False
        self.shorten(match, name, "/")

    def raw_text(self, match: re.Match[str], name: str) -> int:
        html = self.html
        if name == "plaintext":
            content, end = html[match.end() :], len(html)
        else:
            closing = _RAW_END[name].search(html, match.end())
            if closing is None:
                content, end = html[match.end() :], len(html)
            else:
                content = html[match.end() : closing.start()]
                end_tag = _MARKUP.match(html, closing.start())
                end = end_tag.end() if end_tag else closing.end()
        if name in _REMOVED_WITH_CONTENT:
            self.replace(match.start(), end)
        elif name in _RCDATA:  # the parser drops a newline right after <textarea>
            text = content.removeprefix("\r\n") if content.startswith("\r\n") else content.removeprefix("\n")
            self.replace(match.start(), end, _GAP + text.replace("<", "&lt;") + _GAP)
        else:
            self.replace(match.start(), end, _GAP + html_lib.escape(content, quote=False) + _GAP)
        return end

    def shorten(self, match: re.Match[str], name: str, slash: str) -> None:
        """A tag with more attributes than MAX_ATTRIBUTES keeps only its name."""
        attributes = match["attributes"]
        if len(attributes) > 2 * MAX_ATTRIBUTES and len(_ATTRIBUTES.findall(attributes)) > MAX_ATTRIBUTES:
            self.replace(match.start(), match.end(), f"<{slash}{name}>")


def bound_markup(html: str, limit: int = MAX_NESTING) -> str:
    """`html` with its structure bounded as the module docstring says; its text unchanged."""
    return _Walk(html, limit).run()
