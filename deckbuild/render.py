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
from functools import lru_cache
from typing import TYPE_CHECKING

import nh3

if TYPE_CHECKING:
    from .cards import Card


KEPT = re.compile(
    r"\\\(.*?\\\)"  # inline math
    r"|\\\[.*?\\\]"  # display math
    r"|\[sound:[^\]\n]+\]"  # audio
    r"|\{\{c\d+::|::|\}\}",  # cloze delimiters
    re.S,
)
PLACEHOLDER = re.compile("\ue000(\\d+)\ue001")
SINGLE_PARAGRAPH = re.compile(r"\A<p>((?:(?!</?p[ >]).)*)</p>\Z", re.S)


@lru_cache(maxsize=None)
def _markdown():
    """Python-Markdown, imported and set up once, on first use: a build whose
    cards all come from the cache never needs it."""
    import markdown
    from markdown.extensions.fenced_code import FencedCodeExtension
    from markdown.extensions.sane_lists import SaneListExtension
    from markdown.extensions.tables import TableExtension

    # Instances, not names: a name is looked up among every installed
    # package's entry points, which costs more than the rest of the set-up.
    return markdown.Markdown(extensions=[TableExtension(), FencedCodeExtension(), SaneListExtension()],
                             output_format="html")


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


# Built once: nh3.clean() would rebuild the same sanitizer for every field.
_cleaner = nh3.Cleaner(tags=SAFE_TAGS, attributes=SAFE_ATTRIBUTES,
                       url_schemes={"http", "https", "mailto"}, link_rel=None,
                       filter_style_properties=SAFE_STYLE)

# Plain text: what Python-Markdown only wraps in <p> and nh3 leaves as it is.
# Every character a letter, digit, space, newline or harmless punctuation
# (none of * _ ` [ ] < > & \ | # ~, no tab, no no-break space), and no line
# that could start a block (list, heading, quote, code) or end in a line
# break (trailing space). A hyphen is harmless inside a line (e-post,
# 2-3): a line that starts with one is caught as a block start.
PLAIN = "\\w.,;:?!'\"()/%«»–—…’‘“”+=@$€§°\\-\ue000\ue001"
UNSAFE_CHAR = re.compile(f"[^{PLAIN} \n]|_")
UNSAFE_LINE = re.compile("^(?=[^\n])(?:[^\\w«\"'(\ue000]|\\d+[.)])| $", re.M)
PARAGRAPH_BREAK = re.compile(r"\n\n+")
LIST_ITEM = re.compile(r"(?:- |(?P<number>\d+)\. )(?P<text>.+)")

# Simple inline Markdown in an otherwise plain text, each construct on one
# line with plain text inside: `inline_html` renders these itself.
WORD = f"(?:(?!_)[{PLAIN}])"  # a plain character, not a space
WORDS = f"{WORD}(?:(?:{WORD}| )*{WORD})?"  # no space at either end
# An http(s) URL the sanitizer keeps as written: a host name whose last
# label starts with a letter (never read as an IP address), ASCII labels
# without "--" (never punycode), no port, user, % or &; a path, query and
# fragment of unreserved characters.
URL = (r"https?://(?:[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*\.)*[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*"
       r"(?:/[A-Za-z0-9_\-.~/]*)?(?:\?[A-Za-z0-9_\-.~/=+]*)?(?:#[A-Za-z0-9_\-.~/]*)?")
# Code: plain or syntax characters, but no <, \, ` or tab, and no & that
# could start a character reference (Python-Markdown would rewrite it).
CODE_CHAR = f"(?:[{PLAIN}*>#|~^{{}}\\[\\]\\-]|&(?![#\\w]))"
CODE = f"{CODE_CHAR}(?:(?:{CODE_CHAR}| )*{CODE_CHAR})?"
# An image in the media folder: a relative path of plain characters.
IMAGE = r"[A-Za-z0-9_\-.][A-Za-z0-9_\-./]*"
INLINE = re.compile(
    rf"!\[(?P<alt>{WORDS})\]\((?P<src>{IMAGE})\)"  # an image...
    rf"|(?<!!)\[(?P<text>{WORDS})\]"  # a link (not an image)...
    rf"\((?P<href>{URL})\)"
    rf"|`(?P<code>{CODE})`"
    rf"|\*\*(?P<strong>{WORDS})\*\*"  # no * or _ inside: never nested
    rf"|\*(?P<em>{WORDS})\*"
    rf"|(?<!\w)_(?P<em_>{WORDS})_(?!\w)"  # `_` only emphasises between non-word characters
)


def sanitize(html_text: str) -> str:
    return _cleaner.clean(html_text)


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


def render_fields(card: Card, trusted: bool = False) -> tuple[str, ...]:
    """A card's fields as HTML, in its note type's order (media references
    as written: the media stage flattens them)."""
    return tuple(render_html(card.fields.get(name, ""), trusted) if name in card.html
                 else render_markdown(card.fields.get(name, ""), trusted)
                 for name in card.note_type.fields)


def render_markdown(text: str, trusted: bool = False) -> str:
    """One field's Markdown as HTML; a lone paragraph loses its <p> so short
    answers sit flush in Anki's editor and typed-answer comparison. Raw HTML
    is sanitized unless the deck trusts its authors (`trusted_html`)."""
    if not text:
        return ""
    protected, kept = protect(text)
    rendered = plain_html(protected)
    if rendered is None:
        rendered = inline_html(protected)
    if rendered is None:
        rendered = list_html(protected)
    if rendered is None:
        rendered = parsed_html(protected, trusted)
    return restore(rendered, kept)


def parsed_html(protected: str, trusted: bool) -> str:
    """A protected text through Python-Markdown and the sanitizer."""
    md = _markdown().reset()
    rendered = md.convert(protected)
    if not trusted:
        rendered = sanitize(rendered)
    rendered = rendered.strip()
    single = SINGLE_PARAGRAPH.match(rendered)
    return single.group(1) if single else rendered


def plain_html(protected: str) -> str | None:
    """What `parsed_html` gives for a text with no Markdown or HTML syntax,
    without running the parser (half of all fields are such plain sentences);
    None for any other text. tests/test_fast_build.py checks the two agree."""
    return paragraphs(protected) if is_plain(protected) else None


def inline_html(protected: str) -> str | None:
    """What `parsed_html` gives for a plain text with a few simple inline
    constructs (`**strong**`, `*em*`, `_em_`, `code`, [link](https://..),
    ![image](file.png)),
    without running the parser (a third of all fields are such sentences);
    None for anything else, including constructs that touch each other.
    tests/test_fast_build.py checks the two agree."""
    text = inline_text(protected)
    return None if text is None or text == protected else paragraphs(text)  # equal: no construct


def inline_text(protected: str) -> str | None:
    """A plain text with simple inline constructs (or none) as HTML, not
    yet in paragraphs; None for anything else."""
    html_parts: list[str] = []
    skeleton: list[str] = []  # the text with each construct as one letter
    position = 0
    for match in INLINE.finditer(protected):
        if match.start() == position and position:
            return None
        between = protected[position:match.start()]
        html_parts += [between, inline_element(match)]
        skeleton += [between, "a"]
        position = match.end()
    if not is_plain("".join(skeleton) + protected[position:]):
        return None
    return "".join(html_parts) + protected[position:]


def list_html(protected: str) -> str | None:
    """What `parsed_html` gives for simple lists, with paragraphs between:
    each list a block of its own (blank lines around it, never two in a
    row), every line of it an item (`- `, or `1. `, `2. `... from 1) of
    plain text or simple inline constructs. Most lists authors write are
    such; None for anything else. tests/test_fast_build.py checks the two agree."""
    html_blocks: list[str] = []
    after_list = has_list = False
    for block in protected.split("\n\n"):
        items = [LIST_ITEM.fullmatch(line) for line in block.split("\n")]
        if not any(items):
            text = inline_text(block) if block else None
            if text is None:
                return None
            html_blocks.append(f"<p>{text}</p>")
            after_list = False
            continue
        numbers = [item and item["number"] for item in items]
        ordered = numbers[0] is not None
        if (after_list or not all(items) or any((n is not None) != ordered for n in numbers)
                or ordered and numbers[0] != "1"):
            return None
        texts = [inline_text(item["text"]) for item in items]
        if None in texts:
            return None
        tag = "ol" if ordered else "ul"
        html_blocks.append(f"<{tag}>\n" + "\n".join(f"<li>{text}</li>" for text in texts) + f"\n</{tag}>")
        after_list = has_list = True
    return "\n".join(html_blocks) if has_list else None


def inline_element(match: re.Match) -> str:
    """One INLINE construct as the HTML Python-Markdown writes (and the
    sanitizer keeps as it is)."""
    kind, content = next((k, v) for k, v in match.groupdict().items() if v is not None)
    if kind == "alt":
        alt = content.replace('"', "&quot;")  # as Python-Markdown writes it (' stays)
        return f'<img alt="{alt}" src="{match["src"]}">'
    if kind == "text":
        return f'<a href="{match["href"]}">{content}</a>'
    if kind == "code":
        return f"<code>{html.escape(content, quote=False)}</code>"
    return f"<strong>{content}</strong>" if kind == "strong" else f"<em>{content}</em>"


def is_plain(text: str) -> bool:
    return not (text[0] == "\n" or text[-1] == "\n" or UNSAFE_CHAR.search(text)
                or UNSAFE_LINE.search(text))


def paragraphs(text: str) -> str:
    """A plain text's paragraphs as Python-Markdown writes them: a lone one
    bare (see `parsed_html`)."""
    parts = PARAGRAPH_BREAK.split(text)
    if len(parts) == 1:
        return text
    return "\n".join(f"<p>{paragraph}</p>" for paragraph in parts)


def render_html(text: str, trusted: bool = False) -> str:
    """A field the card keeps as HTML (`html:` in front matter, as `import`
    writes for HTML no Markdown reproduces exactly): as written, sanitized
    unless trusted."""
    return text if trusted else sanitize(text)
