"""Message bodies: Markdown rendered and sanitized once, on write, so every reader gets safe HTML."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

import nh3
from markdown_it import MarkdownIt

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")

_ALLOWED_TAGS = {
    "a",
    "b",
    "blockquote",
    "br",
    "code",
    "del",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "strong",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}


def sanitize_html(html: str) -> str:
    """Strip everything that could run or restyle: scripts, handlers, styles, `javascript:` URLs."""
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


def render_markdown(source: str) -> str:
    """Markdown (raw HTML disabled) to sanitized HTML."""
    return sanitize_html(_markdown.render(source))


_URL = re.compile(r"\bhttps?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")


def render_plain_text(source: str) -> str:
    """Plain text (a mail's body) to HTML as written: paragraphs, line breaks and links, nothing
    read as Markdown (a mail's `*`, `#` and `>` are the sender's characters, not formatting)."""
    paragraphs = [p for p in re.split(r"\n\s*\n", source.replace("\r\n", "\n").strip()) if p.strip()]
    parts = []
    for paragraph in paragraphs:
        lines = [_linkify(html.escape(line, quote=True)) for line in paragraph.split("\n")]
        parts.append("<p>" + "<br>".join(lines) + "</p>")
    return sanitize_html("".join(parts))


def _linkify(escaped: str) -> str:
    return _URL.sub(lambda m: f'<a href="{m[0]}">{m[0]}</a>', escaped)


_MAIL_TAGS = _ALLOWED_TAGS | {"div", "span", "img", "u", "sub", "sup", "small", "center", "caption", "font"}


def sanitize_mail_html(source: str, images: Mapping[str, str]) -> str:
    """A mail's HTML made safe to show inside our pages: the same allow-list as messages plus
    layout tags and images, where an image may only be one of the mail's own inline parts
    (`cid:` → the URL in `images`); every other image is dropped, so no remote image can tell a
    sender that (or when, or from where) the mail was read."""

    def keep(tag: str, attribute: str, value: str) -> str | None:
        if tag == "img" and attribute == "src":
            return (
                images.get(value.strip().removeprefix("cid:").strip("<>"))
                if value.startswith("cid:")
                else None
            )
        return value

    return nh3.clean(
        source,
        tags=_MAIL_TAGS,
        clean_content_tags={"script", "style", "title", "head"},
        attributes={"a": {"href", "title"}, "img": {"src", "alt", "width", "height"}},
        attribute_filter=keep,
        url_schemes={"http", "https", "mailto", "cid"},
        link_rel="noopener noreferrer nofollow",
    )
