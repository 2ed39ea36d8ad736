"""`build_deck.py preview`: every card's front and back as Anki shows them,
on one static page that works offline and can be shared as it is.

Cards are rendered from the note types' own templates and CSS (notetypes.py)
in two steps, the way Anki does it:

1. `render_card`: Anki's template engine (rslib/src/template.rs, cloze.rs),
   ported for what our note types use: `{{Field}}`, `{{FrontSide}}`,
   `{{#Field}}`/`{{^Field}}` sections, `{{cloze:Field}}`, `{{type:Field}}`.
   A test holds its output to Anki's own, card by card.
2. `as_reviewer_shows`: what Anki desktop's reviewer then does to that HTML:
   a type-in box on the front, the expected answer on the back, a player
   for `[sound:...]`.

MathJax is not bundled (nothing may come from the network), so TeX shows as
written. Each card side lives in its own shadow root, like a card in Anki's
webview: the deck CSS styles only the card, the page's CSS never reaches it.
"""

from __future__ import annotations

import hashlib
import html
import re
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

from . import media as media_stage
from .build import Note, all_decks, load_project, render_project
from .config import DeckConfig
from .media import MediaFile
from .notetypes import CLOZE, NoteType, Template
from .problems import Problem, ProjectError
from .render import sanitize

PREVIEW_FOLDER = "preview"
# Page assets start with "_": media names never do (media.check_ref), so no
# card's file can overwrite them.
ASSETS = {"_preview.css": "preview.css", "_preview.js": "preview.js"}


class TemplateError(ValueError):
    """A template Anki would refuse to render, or a feature the preview lacks."""


# Anki's template engine
# ----------------------------------------------------------------------------

HANDLEBAR = re.compile(r"\{\{(.*?)\}\}|<!--.*?-->", re.S)
CLOZE_CONDITIONAL = re.compile(r"c\d+")
EMPTY_FIELD = re.compile(r"(?:\s|</?(?:br|div) ?/?>)*", re.I)


@dataclass(frozen=True)
class Replacement:
    key: str
    filters: tuple[str, ...]  # in the order they apply: {{type:Back}} -> ("type",)


@dataclass(frozen=True)
class Section:
    key: str
    negated: bool  # {{^Key}} rather than {{#Key}}
    children: tuple  # of str | Replacement | Section


def parse_template(template: str) -> tuple:
    """Template text -> nodes: text, replacements and (negated) sections."""
    return _parse(_template_tokens(template), None)


def _template_tokens(template: str) -> Iterator[tuple[str, str]]:
    position = 0
    for match in HANDLEBAR.finditer(template):
        if match.start() > position:
            yield "text", template[position:match.start()]
        # Comments pass through as text, handlebars inside them untouched.
        yield ("text", match.group()) if match.group(1) is None else _classify(match.group(1))
        position = match.end()
    if position < len(template):
        yield "text", template[position:]


def _classify(handle: str) -> tuple[str, str]:
    inner = handle.lstrip("{").strip()
    if len(inner.encode()) >= 2 and inner[0] in "#/^":
        return {"#": "open", "/": "close", "^": "negated"}[inner[0]], inner[1:].lstrip()
    return "replace", inner


def _parse(tokens: Iterator[tuple[str, str]], open_key: str | None) -> tuple:
    nodes: list = []
    for kind, value in tokens:
        if kind == "text":
            nodes.append(value)
        elif kind == "replace":
            *filters, key = value.split(":")
            nodes.append(Replacement(key, tuple(reversed(filters))))
        elif kind == "close":
            if value != open_key:
                raise TemplateError(f"{{{{/{value}}}}} closes a section that is not open")
            return tuple(nodes)
        else:
            nodes.append(Section(value, kind == "negated", _parse(tokens, value)))
    if open_key is not None:
        raise TemplateError(f"{{{{#{open_key}}}}} is never closed")
    return tuple(nodes)


@dataclass(frozen=True)
class _Context:
    fields: dict[str, str]
    nonempty: frozenset[str]  # what `{{#Field}}` asks
    card_ord: int
    frontside: str | None = None  # None while rendering the question


def render_card(note_type: NoteType, fields: dict[str, str], card_ord: int) -> tuple[str, str]:
    """Question and answer HTML of one card exactly as Anki's backend renders
    them (a `{{type:..}}` stays a `[[type:..]]` placeholder, as there)."""
    template = card_template(note_type, card_ord)
    nonempty = frozenset(k for k, v in fields.items() if not EMPTY_FIELD.fullmatch(v))
    context = _Context(fields, nonempty, card_ord)
    question = _render(parse_template(template.front), context)
    answer = _render(parse_template(template.back), replace(context, frontside=question))
    return question, answer


def card_template(note_type: NoteType, card_ord: int) -> Template:
    """A cloze note type makes every card from its one template."""
    return note_type.templates[0 if note_type.kind == CLOZE else card_ord]


def _render(nodes: tuple, context: _Context) -> str:
    out = []
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, Replacement):
            out.append(_replace(node, context))
        else:
            children = _render(node.children, context)  # checked even when hidden, as Anki does
            if _section_shown(node, context):
                out.append(children)
    return "".join(out)


def _replace(node: Replacement, context: _Context) -> str:
    if node.key == "FrontSide":
        return context.frontside or ""
    if not node.key and node.filters:
        return ""
    if node.key not in context.fields:
        written = ":".join(node.filters[::-1] + (node.key,))
        raise TemplateError(f"{{{{{written}}}}}: no such field")
    return _apply_filters(context.fields[node.key], node.filters, node.key, context)


def _section_shown(node: Section, context: _Context) -> bool:
    if node.key in context.nonempty:
        return not node.negated
    if node.key in context.fields or CLOZE_CONDITIONAL.fullmatch(node.key):
        return node.negated
    raise TemplateError(f"{{{{{'^' if node.negated else '#'}{node.key}}}}}: no such field")


def _apply_filters(text: str, filters: tuple[str, ...], key: str, context: _Context) -> str:
    if filters[-1:] == ("type",):
        if filters in (("cloze", "type"), ("nc", "type")):
            raise TemplateError(f"the preview does not render {{{{type:{filters[0]}:{key}}}}}")
        return f"[[type:{key}]]"
    for name in filters:
        if name == "cloze":
            text = cloze_filter(text, context.card_ord + 1, question=context.frontside is None)
        elif name == "text":
            text = strip_html(text)
        elif name:
            raise TemplateError(f"the preview does not render the '{name}' filter")
    return text


# Cloze deletions (rslib/src/cloze.rs)
# ----------------------------------------------------------------------------

CLOZE_TOKEN = re.compile(r"\{\{c([\d,]*)::|\}\}")
MATHJAX = re.compile(r"(\\[(\[])(.*?)(\\[\])])", re.S | re.I)
HTML_TAG = re.compile(r"<!--.*?-->|<style.*?>.*?</style>|<script.*?>.*?</script>|<.*?>", re.S | re.I)
MAX_CLOZE_DEPTH = 10
MINIMAL_ENTITIES = {'"': "&quot;", "&": "&amp;", "'": "&#x27;", "<": "&lt;", ">": "&gt;"}


@dataclass
class _Cloze:
    ordinals: tuple[int, ...]
    nodes: list  # of str | _Cloze
    hint: str | None = None


def cloze_filter(text: str, ordinal: int, question: bool) -> str:
    """`{{cloze:Field}}` for cloze number `ordinal`: the active deletion hidden
    on the question side and revealed on the answer side, the others shown."""
    nodes = _parse_clozes(text)
    if not any(ordinal in c.ordinals for c in _all_clozes(nodes)):
        return ""
    revealed = "".join(n if isinstance(n, str) else _reveal(n, ordinal, question) for n in nodes)
    return MATHJAX.sub(lambda m: m.group(1) + HTML_TAG.sub("", m.group(2)) + m.group(3), revealed)


def _cloze_tokens(text: str) -> Iterator[str | tuple[int, ...] | None]:
    """Text, the ordinals of an opening `{{cN::`, or None for a closing `}}`."""
    start = 0
    for match in CLOZE_TOKEN.finditer(text):
        token = None
        if match.group(1) is not None:
            token = tuple(sorted({int(n) for n in match.group(1).split(",") if n and int(n) < 1 << 16}))
            if not token:
                continue  # `{{c::` opens nothing: it stays text
        if match.start() > start:
            yield text[start:match.start()]
        yield token
        start = match.end()
    if start < len(text):
        yield text[start:]


def _parse_clozes(text: str) -> list:
    output: list = []
    open_clozes: list[_Cloze] = []
    for token in _cloze_tokens(text):
        if isinstance(token, tuple):
            if len(open_clozes) < MAX_CLOZE_DEPTH:
                open_clozes.append(_Cloze(token, []))
        elif isinstance(token, str):
            if open_clozes:
                head, colons, hint = token.partition("::")
                if colons:
                    token, open_clozes[-1].hint = head, hint
                open_clozes[-1].nodes.append(token)
            else:
                output.append(token)
        elif open_clozes:
            closed = open_clozes.pop()
            (open_clozes[-1].nodes if open_clozes else output).append(closed)
        else:
            output.append("}}")
    return output  # a cloze never closed is dropped, as Anki does


def _all_clozes(nodes: list) -> Iterator[_Cloze]:
    for node in nodes:
        if isinstance(node, _Cloze):
            yield node
            yield from _all_clozes(node.nodes)


def _reveal(cloze: _Cloze, ordinal: int, question: bool) -> str:
    inner = "".join(n if isinstance(n, str) else _reveal(n, ordinal, question) for n in cloze.nodes)
    ordinals = ",".join(map(str, cloze.ordinals))
    if ordinal not in cloze.ordinals:
        return f'<span class="cloze-inactive" data-ordinal="{ordinals}">{inner}</span>'
    if question:
        hint = "..." if cloze.hint is None else cloze.hint
        return (f'<span class="cloze" data-cloze="{encode_attribute(inner)}" '
                f'data-ordinal="{ordinals}">[{hint}]</span>')
    return f'<span class="cloze" data-ordinal="{ordinals}">{inner}</span>'


def strip_html(text: str) -> str:
    """Anki's `text:` filter: tags out, entities decoded, no-break spaces plain."""
    return html.unescape(HTML_TAG.sub("", text)).replace("\xa0", " ")


def encode_attribute(text: str) -> str:
    """The htmlescape crate's attribute encoding, which Anki uses for
    `data-cloze`: every Latin-1 character but ASCII letters and digits as
    `&#xHH;`, the rest of Unicode as is."""
    return "".join(_attribute_char(c) for c in text)


def _attribute_char(c: str) -> str:
    if c in MINIMAL_ENTITIES:
        return MINIMAL_ENTITIES[c]
    return f"&#x{ord(c):02X};" if ord(c) < 256 and not (c.isascii() and c.isalnum()) else c


# Anki desktop's reviewer (qt/aqt/reviewer.py, rslib/src/typeanswer.rs)
# ----------------------------------------------------------------------------

TYPE_ANSWER = re.compile(r"\[\[type:(.+?)\]\]")
LINEBREAKS = re.compile(r"(?:\n|<br\s?/?>|</?div>)+", re.I)


def as_reviewer_shows(question: str, answer: str, note_type: NoteType,
                      fields: dict[str, str]) -> tuple[str, str]:
    """The backend's HTML as the reviewer shows it before anything is typed:
    an empty answer box on the front, the expected answer on the back."""
    match = TYPE_ANSWER.search(question)
    if match and match.group(1) not in fields:
        raise TemplateError(f"{{{{type:{match.group(1)}}}}}: no such field")
    expected = fields[match.group(1)] if match else ""
    box = shown = ""  # an empty field: no box, nothing to compare
    if expected:
        style = _typing_style(note_type, match.group(1))
        # Anki's box also has onkeypress="_typeAnsPress();": the page has no reviewer to call.
        box = f'\n<center>\n<input type=text id=typeans\n   style="{style};">\n</center>\n'
        shown = (f'\n<div style="{style}"><code id=typeans>'
                 f"{_encode_minimal(_expected_text(expected))}</code></div>")
    question = TYPE_ANSWER.sub(lambda _: box, question)
    answer = TYPE_ANSWER.sub(lambda _: shown, answer)
    return _sound_players(question), _sound_players(answer)


def _typing_style(note_type: NoteType, field_name: str) -> str:
    """The field's editor font and size, which Anki gives the typed answer."""
    spec = next(f for f in note_type.to_anki_json(0, 0)["flds"] if f["name"] == field_name)
    return f"font-family: '{spec['font']}'; font-size: {spec['size']}px"


def _expected_text(field_html: str) -> str:
    return strip_html(LINEBREAKS.sub(" ", media_stage.SOUND.sub("", field_html))).strip()


def _encode_minimal(text: str) -> str:
    return "".join(MINIMAL_ENTITIES.get(c, c) for c in text)


def _sound_players(side: str) -> str:
    """Anki shows a replay button for `[sound:file]`; a page gets a player."""
    return media_stage.SOUND.sub(
        lambda m: f'<audio controls preload="none" src="{html.escape(m.group(1))}"></audio>', side)


# The page
# ----------------------------------------------------------------------------

@dataclass(frozen=True)
class PreviewCard:
    note: Note
    ord: int
    template: str  # the note type's template name: "Card 1", "Card 2", "Cloze"
    question: str  # as the reviewer shows it
    answer: str


@dataclass(frozen=True)
class Preview:
    cards: list[PreviewCard]
    html: str  # index.html
    stylesheets: dict[str, str]  # file name -> a note type's CSS
    media: list[MediaFile]


def card_fields(note: Note, card_ord: int) -> dict[str, str]:
    """The note's fields and the special ones Anki adds for templates
    (`{{Tags}}`, `{{Deck}}`, `{{#c2}}`...); a note's own field wins a clash."""
    note_type = note.card.note_type
    special = {"Tags": " ".join(note.tags), "Type": note_type.name, "Deck": note.deck,
               "Subdeck": note.deck.split("::")[-1], "CardFlag": "flag0",
               "Card": card_template(note_type, card_ord).name, f"c{card_ord + 1}": "1"}
    return {**special, **dict(zip(note_type.fields, note.fields))}


def preview_card(note: Note, card_ord: int) -> PreviewCard:
    note_type = note.card.note_type
    question, answer = render_card(note_type, card_fields(note, card_ord), card_ord)
    question, answer = as_reviewer_shows(question, answer, note_type,
                                         dict(zip(note_type.fields, note.fields)))
    return PreviewCard(note, card_ord, card_template(note_type, card_ord).name, question, answer)


def build_preview(config: DeckConfig, notes: list[Note]) -> tuple[Preview, list[Problem]]:
    """Every card of the deck, grouped by subdeck, on one page; a card the
    preview cannot render is a problem."""
    cards, problems = [], []
    for note in notes:
        for card_ord in note.ords:
            try:
                cards.append(preview_card(note, card_ord))
            except TemplateError as err:
                problems.append(Problem(note.card.path, 1, f"the preview cannot show card "
                                                           f"{card_ord + 1} of this note: {err}"))
    types = {n.card.note_type for n in notes}
    sheets = {t.id: f"_card-{hashlib.sha1(t.css.encode()).hexdigest()[:12]}.css" for t in types}
    media = {m.name: m for n in notes for m in n.media + n.card.note_type.media}
    page = page_html(config, cards, all_decks(config, notes), sheets)
    return Preview(cards, page, {sheets[t.id]: t.css for t in types},
                   sorted(media.values(), key=lambda m: m.name)), problems


def page_html(config: DeckConfig, cards: list[PreviewCard], decks: list[str],
              stylesheets: dict[int, str]) -> str:
    by_deck: dict[str, list[PreviewCard]] = {}
    for card in cards:
        by_deck.setdefault(card.note.deck, []).append(card)
    shown = [d for d in decks if d in by_deck]
    tags = sorted({t for c in cards for t in c.note.tags}, key=str.casefold)
    e = html.escape
    lang = config.language.split("_")[0].split("-")[0] or "und"
    parts = [
        "<!doctype html>",
        f'<html lang="{e(lang)}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(config.name)}: preview</title>",
        '<link rel="stylesheet" href="_preview.css">',
        '<script src="_preview.js" defer></script>',
        "</head>",
        "<body>",
        '<header class="page-header">',
        f"<h1>{e(config.name)}</h1>",
        f'<div class="description">{sanitize(config.description)}</div>' if config.description.strip() else "",
        '<div class="controls" hidden>',
        '<label>Search <input type="search" id="filter-text" autocomplete="off"></label>',
        '<label>Tag <select id="filter-tag"><option value="">all tags</option>',
        *(f'<option value="{e(t)}">{e(t)}</option>' for t in tags),
        "</select></label>",
        '<button type="button" id="night-switch" aria-pressed="false">Night mode</button>',
        "</div>",
        f'<p id="card-count" aria-live="polite">{_count(len(cards))}</p>',
        "<nav><ul>",
        *(f'<li><a href="#deck-{i}">{e(_deck_label(config.name, d))}</a> ({len(by_deck[d])})</li>'
          for i, d in enumerate(shown)),
        "</ul></nav>",
        "</header>",
        "<main>",
    ]
    for i, deck in enumerate(shown):
        parts.append(f'<section class="deck" id="deck-{i}">')
        parts.append(f"<h2>{e(_deck_label(config.name, deck))}</h2>")
        parts.extend(_card_html(c, stylesheets[c.note.card.note_type.id]) for c in by_deck[deck])
        parts.append("</section>")
    parts += ["</main>", "</body>", "</html>", ""]
    return "\n".join(p for p in parts if p)


def _count(n: int) -> str:
    return f"{n} card" if n == 1 else f"{n} cards"


def _deck_label(main: str, deck: str) -> str:
    below = deck.split("::")[1:]
    return " › ".join(below) if below else main


def _card_html(card: PreviewCard, stylesheet: str) -> str:
    e = html.escape
    note = card.note
    tags = " ".join(f'<span class="tag">{e(t)}</span>' for t in note.tags)
    return "\n".join([
        f'<article class="preview-card" data-tags="{e(" ".join(note.tags))}" '
        f'data-path="{e(note.card.path)}">',
        f'<p class="card-meta"><span>{e(note.card.note_type.name)} · {e(card.template)}</span> '
        f'<span class="path">{e(note.card.path)}</span> {tags}</p>',
        '<div class="sides">',
        _side_html("Front", card.question, card.ord, stylesheet),
        _side_html("Back", card.answer, card.ord, stylesheet),
        "</div>",
        "</article>",
    ])


def _side_html(label: str, side: str, ord_: int, stylesheet: str) -> str:
    """One side as Anki's webview holds it: the note type's CSS and a `.card`
    container (which takes Anki's night mode classes) around `#qa`."""
    return (f'<figure class="side"><figcaption>{label}</figcaption><div class="card-host">'
            f'<template shadowrootmode="open"><link rel="stylesheet" href="{stylesheet}">'
            f'<div class="card card{ord_ + 1}"><div id="qa">{side}</div></div></template>'
            "</div></figure>")


def write_preview(root: Path) -> tuple[Path, Preview]:
    """Write dist/preview/ (page, assets, media) or raise every problem."""
    project, problems = load_project(root)
    notes, render_problems = render_project(project)
    errors = [p for p in problems + render_problems if p.is_error]
    if errors:
        raise ProjectError(errors)
    preview, preview_problems = build_preview(project.config, notes)
    if preview_problems:
        raise ProjectError(preview_problems)
    dist = project.config.dist_dir
    dist.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=dist, prefix=".preview-"))
    try:
        staging.chmod(0o755)  # a page to share, not a private temporary folder
        (staging / "index.html").write_text(preview.html, encoding="utf-8")
        for name, css in preview.stylesheets.items():
            (staging / name).write_text(css, encoding="utf-8")
        for name, source in ASSETS.items():
            shutil.copyfile(Path(__file__).with_name(source), staging / name)
        for item in preview.media:
            shutil.copyfile(item.path, staging / item.name)
        target = dist / PREVIEW_FOLDER
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target / "index.html", preview
