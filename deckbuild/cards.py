"""Parse a card file into a Card: YAML front matter, then body sections.

    ---
    id: ss-soppel
    type: basic
    tags: [verdikjede]
    source: "Kay Ellingsen"
    ---
    Hva er «søppel» i salgsarbeid?

    % back
    Alt som ikke bidrar direkte til verdikjeden.

    % extra
    Optional elaboration.

The text before the first `% name` line fills the note type's first field;
each marker line starts the field it names. Markers inside fenced code are
text. Parsing is pure: no I/O, problems returned as values.

Card files may come from anyone, so parsing is bounded: front matter is YAML
without aliases (no "billion laughs"), and a Markdown section is kept small
enough that Python-Markdown, which slows down quadratically on some inputs
(runs of '[' above all), renders it in about a second at worst.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .files import CardFile
from .front_matter import read_front_matter, shown
from .notetypes import BUILTIN, CLOZE, DEFAULT_TYPE, NoteType
from .problems import Problem

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
MARKER = re.compile(r"^%\s*([A-Za-z][\w-]*)\s*$")
FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
KEY = re.compile(r"([^:]*?)\s*:")  # a front matter line's key
FENCE_OR_MARKER = "%`~"  # how a line that opens or closes a fence or starts a section begins (or with a space)
CLOZE_NUMBER = re.compile(r"\{\{c(\d+)::")
FRONT_MATTER_KEYS = ("id", "type", "tags", "source", "deck", "guid", "retired", "ignore", "html")
MAX_CLOZE = 500  # Anki makes no card for higher cloze numbers
MAX_FRONT_MATTER = 16_384  # characters: PyYAML parses about 50 kB a second
MAX_SECTION = 20_000  # characters of Markdown in one section
MAX_BRACKET_WORK = 2_000_000  # '[' and '<' in a section times its length: see _check_sizes


@dataclass(slots=True)  # not frozen: cheaper to make (a big deck has 100,000); never changed once made
class Card:
    id: str
    note_type: NoteType
    fields: dict[str, str]  # field name -> Markdown source
    field_lines: dict[str, int]  # field name -> line where its text starts
    tags: tuple[str, ...]
    source: str
    deck: tuple[str, ...]  # subdeck path below the main deck
    path: str
    guid: str | None = None  # only for notes brought in from an existing deck
    retired: bool = False
    ignore: dict[str, str] = field(default_factory=dict)  # lint code -> reason
    html: tuple[str, ...] = ()  # fields written as HTML, not Markdown (kept exact by `import`)
    id_line: int = 2  # where the front matter says `id:`, for messages

    @property
    def cloze_numbers(self) -> set[int]:
        return {int(n) for text in self.fields.values() for n in CLOZE_NUMBER.findall(text)}


def parse_card(card_file: CardFile, note_types: dict[str, NoteType] = BUILTIN) -> tuple[Card | None, list[Problem]]:
    rel = card_file.rel
    meta, body, body_line, problems = split_front_matter(card_file.text, rel)
    if meta is None:
        return None, problems

    def problem(message: str, line: int = 1) -> None:
        problems.append(Problem(rel, line, message))

    key_lines: dict[str, int] = {}
    for number, line in enumerate(card_file.text.split("\n", body_line)[:body_line], 1):
        written = KEY.match(line)
        if written:
            key_lines.setdefault(written.group(1), number)

    def key_line(key: str) -> int:
        return key_lines.get(key, 1)

    for key in meta:
        if key not in FRONT_MATTER_KEYS:
            problem(f"unknown front matter key {shown(key)} (known: {', '.join(FRONT_MATTER_KEYS)})",
                    key_line(str(key)))

    card_id = meta.get("id")
    if card_id is None:
        problem("missing 'id' in front matter (run `build_deck.py new` to get one)")
    elif not isinstance(card_id, str) or not ID_PATTERN.fullmatch(card_id):
        problem("'id' must be text of letters, digits, '.', '_' or '-' (at most 100), "
                f"starting with a letter or digit; quote it if YAML reads it as a number: got {shown(card_id)}",
                key_line("id"))

    type_key = meta.get("type", DEFAULT_TYPE)
    note_type = note_types.get(type_key) if isinstance(type_key, str) else None
    if note_type is None:
        problem(f"unknown type {shown(type_key)} (known: {', '.join(note_types)})", key_line("type"))

    tags = _tags(meta.get("tags", []))
    if tags is None:
        problem("'tags' must be a list of words without spaces, e.g. tags: [salg, service]",
                key_line("tags"))

    source = meta.get("source", "")
    if not isinstance(source, str):
        problem("'source' must be text", key_line("source"))

    deck = _deck(meta.get("deck"), card_file.folders)
    if deck is None:
        problem("'deck' must be a subdeck path like 'Part 1' or 'Part 1::Chapter 2'",
                key_line("deck"))

    guid = meta.get("guid")
    if guid is not None and (not isinstance(guid, str) or not guid.strip() or len(guid) > 100):
        problem("'guid' must be non-empty text", key_line("guid"))

    retired = meta.get("retired", False)
    if not isinstance(retired, bool):
        problem("'retired' must be true or false", key_line("retired"))

    ignore = meta.get("ignore", {})
    if not isinstance(ignore, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in ignore.items()
    ):
        problem("'ignore' must map rule codes to a reason, e.g. ignore: {W101: \"a list is the point\"}",
                key_line("ignore"))

    if note_type is None:
        return None, problems
    html = _html_fields(meta.get("html", []), note_type)
    if html is None:
        problem(f"'html' must list fields of type '{note_type.key}' written as HTML, "
                f"e.g. html: [{note_type.first_field}]", key_line("html"))
    fields, field_lines, section_problems = split_sections(body, body_line, note_type, rel)
    problems.extend(section_problems)
    problems.extend(_check_fields(note_type, fields, field_lines, rel))
    problems.extend(_check_sizes(fields, field_lines, html or (), rel))
    if problems:
        return None, problems
    if "Source" in note_type.fields:
        fields["Source"] = source.strip()
        field_lines["Source"] = key_line("source")
    return Card(
        id=card_id, note_type=note_type, fields=fields, field_lines=field_lines,
        tags=tags, source=source.strip(), deck=deck, path=rel, guid=guid,
        retired=retired, ignore=dict(ignore), html=html, id_line=key_line("id"),
    ), []


def split_front_matter(text: str, rel: str) -> tuple[dict | None, str, int, list[Problem]]:
    """Returns (meta, body, line number of the body's first line, problems)."""
    lines = text.split("\n")
    if lines[0].strip() != "---":
        return None, "", 0, [Problem(rel, 1, "a card file starts with front matter: a line '---', "
                                              "then 'id: ...', then a closing '---'")]
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            break
    else:
        return None, "", 0, [Problem(rel, 1, "front matter is not closed: add a line '---' after it")]
    front_matter = "\n".join(lines[1:end])
    if len(front_matter) > MAX_FRONT_MATTER:
        return None, "", 0, [Problem(rel, 2, f"front matter is {len(front_matter):,} characters; "
                                              f"at most {MAX_FRONT_MATTER:,} (is '---' missing after it?)")]
    meta, invalid = read_front_matter(front_matter)
    if invalid:
        at, reason = invalid  # its line in the front matter, which starts on the file's second
        return None, "", 0, [Problem(rel, 1 if at is None else at + 2, f"invalid YAML in front matter: {reason}")]
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        return None, "", 0, [Problem(rel, 2, "front matter must be 'key: value' lines")]
    return meta, "\n".join(lines[end + 1:]), end + 2, []


def split_sections(body: str, first_line: int, note_type: NoteType, rel: str) -> tuple[dict[str, str], dict[str, int], list[Problem]]:
    sections = note_type.sections
    current = note_type.first_field
    chunks: dict[str, list[str]] = {current: []}
    starts = {current: first_line}
    problems = []
    fence = None
    for offset, line in enumerate(body.split("\n")):
        start = line[:1]
        if current is not None and (not start or start not in FENCE_OR_MARKER and not start.isspace()):
            chunks[current].append(line)  # most lines: text, neither fence nor marker
            continue
        number = first_line + offset
        opening = FENCE.match(line)
        if fence is None and opening:
            fence = opening.group(1)[0] * 3
        elif fence is not None and line.strip().startswith(fence):
            fence = None
        name = _marker(line, sections) if fence is None else None
        if name:
            if name not in sections:
                known = ", ".join(f"'% {s}'" for s in sections) or "none"
                problems.append(Problem(rel, number, f"unknown section '% {name}' for type "
                                                     f"'{note_type.key}' (known: {known})"))
                current = None
                continue
            current = sections[name]
            if current in chunks:
                problems.append(Problem(rel, number, f"section '% {name}' appears twice"))
            chunks[current] = []
            starts[current] = number + 1
        elif current is not None:
            chunks[current].append(line)
    fields = {name: "\n".join(chunks.get(name, [])).strip() for name in note_type.fields
              if name != "Source"}
    lines = {}
    for name, chunk in chunks.items():
        skipped = next((i for i, line in enumerate(chunk) if line.strip()), 0)
        lines[name] = starts[name] + skipped
    for name in fields:
        lines.setdefault(name, first_line)
    return fields, lines, problems


def _html_fields(value, note_type: NoteType) -> tuple[str, ...] | None:
    names = {f.lower(): f for f in note_type.fields}
    if not isinstance(value, list) or not all(isinstance(v, str) and v.lower() in names for v in value):
        return None
    return tuple(names[v.lower()] for v in value)


def _marker(line: str, sections: dict[str, str]) -> str | None:
    """The section a marker line starts: `% back`, or `% back extra` for a
    field whose name has spaces (only when the note type has that field)."""
    if line.startswith("%") and line[1:].strip().lower() in sections:
        return line[1:].strip().lower()
    marker = MARKER.match(line)
    return marker.group(1).lower() if marker else None


def _check_fields(note_type: NoteType, fields: dict[str, str], lines: dict[str, int], rel: str) -> list[Problem]:
    problems = []
    first = note_type.first_field
    for name in note_type.required:
        if not fields.get(name):
            what = "question" if name == first else f"'% {name.lower()}' section"
            if name == first and note_type.kind == CLOZE:
                what = "cloze text"
            problems.append(Problem(rel, lines.get(name, 1), f"missing {what}"))
    numbers = [int(n) if len(n) < 6 else MAX_CLOZE + 1
               for text in fields.values() for n in CLOZE_NUMBER.findall(text)]
    if note_type.kind == CLOZE:
        if fields.get(first) and not CLOZE_NUMBER.search(fields[first]):
            problems.append(Problem(rel, lines[first], "cloze card without a cloze deletion: "
                                    "mark one like {{c1::answer}}"))
        if 0 in numbers:
            problems.append(Problem(rel, lines[first], "cloze numbers start at c1, not c0"))
        if max(numbers, default=0) > MAX_CLOZE:
            problems.append(Problem(rel, lines[first], f"cloze numbers go up to c{MAX_CLOZE}: "
                                                       "Anki makes no card for higher ones"))
    elif numbers:
        problems.append(Problem(rel, lines[first], f"cloze marker in a '{note_type.key}' card: "
                                                   "use type: cloze"))
    return problems


def _check_sizes(fields: dict[str, str], lines: dict[str, int], html: tuple[str, ...], rel: str) -> list[Problem]:
    """Markdown sections small enough to render quickly. Python-Markdown
    scans ahead from every '[' (and the HTML parser from every '<'), so its
    time grows with their number times the text's length: 8,000 '[' in a
    row take half a minute. HTML fields are only sanitized: linear."""
    problems = []
    for name, text in fields.items():
        if name in html:
            continue
        openers = text.count("[") + text.count("<")
        if len(text) > MAX_SECTION:
            problems.append(Problem(rel, lines.get(name, 1), f"this section is {len(text):,} characters "
                                    f"of Markdown; at most {MAX_SECTION:,}: split the card"))
        elif openers * len(text) > MAX_BRACKET_WORK:
            problems.append(Problem(rel, lines.get(name, 1), f"this section has {openers:,} '[' and '<' "
                                    f"in {len(text):,} characters: Markdown would take minutes to "
                                    "render it (time grows with both); split the card"))
    return problems


def _tags(value) -> tuple[str, ...] | None:
    if isinstance(value, str):
        value = value.split()
    if not isinstance(value, list) or not all(isinstance(t, (str, int)) for t in value):
        return None
    tags = tuple(str(t) for t in value)
    if any(not t or re.search(r"\s|\"", t) for t in tags):
        return None
    return tags


def _deck(value, folders: tuple[str, ...]) -> tuple[str, ...] | None:
    if value is None:
        return folders
    if not isinstance(value, str):
        return None
    parts = tuple(part.strip() for part in value.split("::"))
    if not all(parts):
        return None
    return parts
