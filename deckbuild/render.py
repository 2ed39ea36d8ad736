"""Markdown -> HTML for note fields, with Anki's own syntax kept intact.

Cloze delimiters (`{{c1::`, `::`, `}}`), MathJax (`\\(..\\)`, `\\[..\\]`) and
`[sound:..]` are swapped for private-use placeholders before Python-Markdown
runs and put back afterwards, so `*` or `_` inside them never turns into
emphasis and a backslash never becomes an escape. The text *inside* a cloze
is still Markdown.
"""

from __future__ import annotations

import html
import re

import markdown
import nh3

EXTENSIONS = ["tables", "fenced_code", "sane_lists"]

KEPT = re.compile(
    r"\\\(.*?\\\)"  # inline math
    r"|\\\[.*?\\\]"  # display math
    r"|\[sound:[^\]\n]+\]"  # audio
    r"|\{\{c\d+::|::|\}\}",  # cloze delimiters
    re.S,
)
PLACEHOLDER = re.compile("\ue000(\\d+)\ue001")
SINGLE_PARAGRAPH = re.compile(r"\A<p>((?:(?!</?p[ >]).)*)</p>\Z", re.S)

_md = markdown.Markdown(extensions=EXTENSIONS, output_format="html")

# What a card may contain once sanitized: no scripts, no event handlers, no
# javascript: URLs, no styles that could load from the network.
SAFE_TAGS = nh3.ALLOWED_TAGS | {"audio", "video", "source"}
SAFE_ATTRIBUTES = {
    "*": {"class", "id", "title", "lang", "dir", "style"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "audio": {"src", "controls"},
    "video": {"src", "controls", "width", "height"},
    "source": {"src", "type"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align"},
    "ol": {"start"},
}
SAFE_STYLE = {"text-align", "color", "background-color", "font-weight", "font-style",
              "text-decoration"}


def sanitize(html_text: str) -> str:
    return nh3.clean(html_text, tags=SAFE_TAGS, attributes=SAFE_ATTRIBUTES,
                     url_schemes={"http", "https", "mailto"}, link_rel=None,
                     filter_style_properties=SAFE_STYLE)


def protect(text: str) -> tuple[str, list[str]]:
    kept: list[str] = []
    out: list[str] = []
    depth = 0
    position = 0
    for match in KEPT.finditer(text):
        token = match.group()
        if token in ("::", "}}"):
            if depth == 0:
                continue
            if token == "}}":
                depth -= 1
        elif token.startswith("{{c"):
            depth += 1
        out.append(text[position:match.start()])
        out.append(f"\ue000{len(kept)}\ue001")
        kept.append(token)
        position = match.end()
    out.append(text[position:])
    return "".join(out), kept


def restore(rendered: str, kept: list[str]) -> str:
    def put_back(match: re.Match) -> str:
        token = kept[int(match.group(1))]
        return token if token.startswith(("{{", "::", "}}")) else html.escape(token, quote=False)

    return PLACEHOLDER.sub(put_back, rendered)


def render_markdown(text: str, trusted: bool = False) -> str:
    """One field's Markdown as HTML; a lone paragraph loses its <p> so short
    answers sit flush in Anki's editor and typed-answer comparison. Raw HTML
    is sanitized unless the deck trusts its authors (`trusted_html`)."""
    if not text:
        return ""
    protected, kept = protect(text)
    _md.reset()
    rendered = _md.convert(protected)
    if not trusted:
        rendered = sanitize(rendered)
    rendered = rendered.strip()
    single = SINGLE_PARAGRAPH.match(rendered)
    if single:
        rendered = single.group(1)
    return restore(rendered, kept)
