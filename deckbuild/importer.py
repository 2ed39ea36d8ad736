"""`import`: turn a deck exported from Anki into a deck project that builds
back to the same notes, so users' reviews survive the switch.

    read      the export (exported.py, notes_text.py) -> notes, types, media
    convert   each field to the most readable text that renders back exactly
              (html_markdown.py); note types to notetypes/<key>/ folders
    write     deck.toml, notetypes/, media/, cards/**.md
    check     load and render the written project with the build's own code,
              compare every field with the original, and seed
              build-deck.lock with the collection's own mods and note ids,
              so a build of the unchanged project updates nothing in Anki

A card's `id` comes from its note's GUID (kept in `guid:`), its file name
from its first field, its folder from its subdeck.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from . import media as media_stage
from .build import Note, Progress, load_project, render_project
from .cards import ID_PATTERN, split_sections
from .config import CONFIG_NAME, slugify
from .custom_types import BAD_TEMPLATE, FOLDER, KEY_PATTERN, note_type_files, toml_string
from .exported import Exported, ExportedNote, ExportedType, ExportError, copy_media, read_package
from .html_markdown import FieldText, field_text
from .lock import Stamp, lock_text, seed_lock
from .notetypes import BUILTIN, NoteType, Template
from .package import write_atomic
from .problems import Problem, ProjectError
from .render import render_html

TAG = re.compile(r"<[^>]*>")
UNSAFE_FOLDER = re.compile(r'[/\\:*?"<>|\x00-\x1f]|^\.|[. ]$')
PLAIN_YAML = re.compile(r"^[A-Za-z_][\w.-]*$")
YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


@dataclass
class ImportResult:
    root: Path
    notes: int
    note_types: list[str]  # keys: built-in ones used, folders written
    media: int
    warnings: list[Problem] = field(default_factory=list)  # fields not exact, renamed media
    problems: list[Problem] = field(default_factory=list)  # what a build would refuse


def read_export(source: Path) -> Exported:
    """An .apkg of any format, or Anki's notes export as .txt/.csv."""
    if source.suffix.lower() in (".txt", ".csv", ".tsv"):
        from .notes_text import read_notes_text

        return read_notes_text(source)
    return read_package(source)


def import_deck(source: Path, into: Path | None = None, progress: Progress | None = None) -> ImportResult:
    """Write a deck project for `source` into `into` (default: ./<deck slug>),
    or raise ProjectError when nothing can be written."""
    try:
        exported = read_export(source)
    except ExportError as err:
        raise ProjectError([Problem(source.name, err.line, str(err))]) from err
    name = _deck_name(exported, source)
    root = into if into is not None else Path(slugify(name))
    if (root / CONFIG_NAME).exists() or (root / "cards").exists():
        raise ProjectError([Problem(root.as_posix(), 0, "already holds a deck project: import into "
                                                        "a new folder (--into DIR)")])
    types, type_problems = _note_types(exported)
    if type_problems:
        raise ProjectError(type_problems)
    fields, renamed, warnings = _media_names(exported)
    trusted = any(render_html(f, False) != f for note_fields in fields for f in note_fields)

    cards, taken_ids, taken_paths = {}, set(), set()
    for done, (note, note_fields) in enumerate(zip(exported.notes, fields), 1):
        card_id = _card_id(note.guid, note_fields[0], taken_ids)
        path = _card_path(note, card_id, note_fields[0], taken_paths)
        text, inexact = _card_text(note, card_id, types[note.type_id], note_fields, trusted, path)
        cards[card_id] = (path, text, done - 1)
        warnings += [Problem(f"cards/{path}", 1, f"field '{f}' has whitespace or lines the card format "
                                                 "can't hold; it differs slightly from Anki's copy",
                                 severity="warning")
                     for f in inexact]
        if progress:  # converting is the first half of the work, checking the second
            progress(done, 2 * len(exported.notes))

    _write_project(root, name, exported, types, cards, renamed, trusted, source)
    checked = (lambda done, total: progress(total + done, 2 * total)) if progress else None
    problems, more_warnings = _check_and_seed(root, exported, types, cards, fields,
                                              {(w.path, w.message) for w in warnings}, checked)
    return ImportResult(root=root, notes=len(cards), note_types=sorted(t.key for t in types.values()),
                        media=len(list((root / "media").glob("*"))) if (root / "media").is_dir() else 0,
                        warnings=warnings + more_warnings, problems=problems)


def _deck_name(exported: Exported, source: Path) -> str:
    if not exported.notes:
        raise ProjectError([Problem(source.name, 0, "holds no notes")])
    roots = sorted({n.deck.split("::")[0] for n in exported.notes})
    if len(roots) > 1:
        raise ProjectError([Problem(source.name, 0, f"holds notes of several top-level decks "
                                                    f"({', '.join(roots)}): a project is one deck; "
                                                    "export one deck at a time")])
    return roots[0]


def _note_types(exported: Exported) -> tuple[dict[int, NoteType], list[Problem]]:
    """Built-in types stay built-in; every other type becomes a folder, with
    its own id, name, fields, templates and CSS."""
    builtin_by_id = {t.id: t for t in BUILTIN.values()}
    builtin_names = {t.name.casefold() for t in BUILTIN.values()}
    types, problems, keys = {}, [], set(BUILTIN)
    for type_id, exported_type in sorted(exported.note_types.items()):
        notes = [n for n in exported.notes if n.type_id == type_id]
        required = (exported_type.fields[0],) if all(n.fields[0].strip() for n in notes) else ()
        builtin = builtin_by_id.get(type_id)
        if builtin is not None:
            note_type = _as_note_type(exported_type, builtin.key, builtin.required)
            if note_type.schema != builtin.schema:
                problems.append(Problem(exported_type.name, 0, "has the id of a built-in type but other "
                                                               "fields or templates; it can't be kept"))
            types[type_id] = note_type
            continue
        if exported_type.name.casefold() in builtin_names:
            problems.append(Problem(exported_type.name, 0, "has the name of a built-in type but another "
                                                           "id: rename it in Anki, then export again"))
            continue
        unfit = [t[0] for t in exported_type.templates if BAD_TEMPLATE.search(t[0])]
        if unfit:
            problems.append(Problem(exported_type.name, 0, f"template '{unfit[0]}' can't be a file name "
                                                           "(no / \\ : * ? \" < > |): rename it in Anki, "
                                                           "then export again"))
            continue
        key = slugify(exported_type.name)
        key = _unique(f"anki-{key}" if key in BUILTIN else key, keys)
        keys.add(key)
        types[type_id] = _as_note_type(exported_type, key, required)
    return types, problems


def _as_note_type(exported_type: ExportedType, key: str, required: tuple[str, ...]) -> NoteType:
    return NoteType(key=key, id=exported_type.id, name=exported_type.name, kind=exported_type.kind,
                    fields=exported_type.fields,
                    templates=tuple(Template(*t) for t in exported_type.templates),
                    css=exported_type.css, required=required)


def _unique(base: str, taken: set[str]) -> str:
    candidate, number = base, 1
    while candidate.casefold() in {t.casefold() for t in taken} or not KEY_PATTERN.match(candidate):
        number += 1
        candidate = f"{base}-{number}"
    return candidate


def _media_names(exported: Exported) -> tuple[list[tuple[str, ...]], dict[str, str], list[Problem]]:
    """Each note's fields with media references the build keeps as they are.

    The build packs `media/x` under a flat, safe name and rewrites the
    reference; a reference that is not already such a name is renamed here
    once (file and reference), so later builds leave it alone."""
    renamed: dict[str, str] = {}  # package media name -> file name under media/
    taken = {name.casefold() for name in exported.media}
    refs = {html.unescape(ref) for note in exported.notes for f in note.fields
            for ref in media_stage.media_refs(f)}
    for ref in sorted(refs):
        if media_stage.check_ref(ref) is None and media_stage.flat_name(ref) == ref:
            continue
        name = unquote(ref)
        if name not in exported.media or media_stage.REMOTE.match(ref):
            continue  # the check after writing names what is missing or remote
        target = _unique_file(media_stage.flat_name(ref).lstrip("._") or "media", taken)
        taken.add(target.casefold())
        renamed[name] = target
    warnings = [Problem(f"media/{target}", 0, f"renamed from '{name}': a build packs media under "
                                             "flat names without spaces or a leading '_'", severity="warning")
                for name, target in sorted(renamed.items())]
    fields = []
    for note in exported.notes:
        rewrite = {ref: renamed[unquote(html.unescape(ref))]
                   for f in note.fields for ref in media_stage.media_refs(f)
                   if unquote(html.unescape(ref)) in renamed}
        fields.append(tuple(media_stage.rewrite_refs(f, rewrite) if rewrite else f for f in note.fields))
    return fields, renamed, warnings


def _unique_file(name: str, taken: set[str]) -> str:
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    candidate, number = name, 1
    while candidate.casefold() in taken:
        number += 1
        candidate = f"{stem}-{number}{dot}{suffix}"
    return candidate


def _card_id(guid: str, first_field: str, taken: set[str]) -> str:
    """The GUID itself when it is a valid id, else its letters and digits
    plus a short hash of it: readable, stable, unique. (A note without a
    GUID, from a text export, is named by its first field.)"""
    if ID_PATTERN.match(guid) and guid not in taken:
        taken.add(guid)
        return guid
    base = re.sub(r"[^A-Za-z0-9]+", "", guid)[:20] or (_words(first_field)[:20].strip("-") or "note")
    digest = hashlib.sha1((guid or first_field).encode("utf-8")).hexdigest()
    for size in range(6, len(digest) + 1):
        card_id = f"{base}-{digest[:size]}"
        if card_id not in taken:
            taken.add(card_id)
            return card_id
    raise AssertionError("sha1 prefixes of one GUID cannot all be taken")


def _card_path(note: ExportedNote, card_id: str, first_field: str, taken: set[str]) -> str:
    """cards/<subdeck folders>/<words of the first field>.md, unique."""
    parts = note.deck.split("::")[1:]
    folders = parts if all(p and len(p) <= 100 and not UNSAFE_FOLDER.search(p) for p in parts) else []
    stem = _words(first_field)[:40].strip("-") or card_id.lower()
    path, number = "/".join(folders + [f"{stem}.md"]), 1
    while path.casefold() in taken:
        number += 1
        path = "/".join(folders + [f"{stem}-{number}.md"])
    taken.add(path.casefold())
    return path


def _words(field_html: str) -> str:
    """A field's words as a slug ('' when it has none in Latin letters)."""
    words = re.sub(r"\{\{c\d+::|::|\}\}", " ", html.unescape(TAG.sub(" ", field_html)))
    slug = slugify(words)
    return "" if slug == slugify("") else slug


def _card_text(note: ExportedNote, card_id: str, note_type: NoteType, fields: tuple[str, ...],
               trusted: bool, path: str) -> tuple[str, list[str]]:
    """The card file for a note, and the fields it could not hold exactly."""

    def fits(text: str) -> bool:
        """Survives being a section: stripped, no marker lines, fences closed."""
        parsed, _, problems = split_sections(text, 1, note_type, path)
        return not problems and parsed.get(note_type.first_field) == text and \
            not any(v for k, v in parsed.items() if k != note_type.first_field)

    texts: dict[str, FieldText] = {}
    for name, value in zip(note_type.fields, fields):
        source_fits = (lambda text: text == text.strip()) if name == "Source" else fits
        texts[name] = field_text(value, trusted, source_fits)
    parts = note.deck.split("::")[1:]
    meta = [f"id: {card_id}"] + ([f"guid: {_yaml(note.guid)}"] if note.guid else []) + [
        f"type: {_yaml(note_type.key)}", f"tags: [{', '.join(_yaml(t) for t in note.tags)}]"]
    if parts and "/" not in path:  # subdeck names that can't be folders
        meta.append(f"deck: {_yaml('::'.join(parts))}")
    if "Source" in texts and texts["Source"].text:
        meta.append(f"source: {_yaml(texts['Source'].text)}")
    kept = [name for name, t in texts.items() if t.html and t.text]
    if kept:
        meta.append(f"html: [{', '.join(_yaml(n) for n in kept)}]")
    body = [texts[note_type.first_field].text]
    for name in note_type.fields[1:]:
        if name != "Source" and texts[name].text:
            body += ["", f"% {name.lower()}", texts[name].text]
    text = "---\n" + "\n".join(meta) + "\n---\n" + "\n".join(body).strip("\n") + "\n"
    return text, [name for name, t in texts.items() if not t.exact]


def _yaml(text: str) -> str:
    """A YAML scalar: plain when unambiguous, else JSON's quoting (valid YAML)."""
    if PLAIN_YAML.match(text) and text.lower() not in YAML_WORDS:
        return text
    import json

    return json.dumps(text, ensure_ascii=False)


def _write_project(root: Path, name: str, exported: Exported, types: dict[int, NoteType],
                   cards: dict[str, tuple[str, str, int]], renamed: dict[str, str],
                   trusted: bool, source: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    description = exported.decks.get(name, "")
    config = [f"# Brought in from {source.name} by `build_deck.py import`.",
              f"name = {toml_string(name)}", f"namespace = {toml_string(slugify(name))}"]
    if description:
        config.append(f"description = {toml_string(description)}")
    if trusted:
        config.append("trusted_html = true  # the deck's HTML is kept exactly as Anki had it")
    (root / CONFIG_NAME).write_text("\n".join(config) + "\n", encoding="utf-8")
    for note_type in types.values():
        if note_type.key in BUILTIN:
            continue
        folder = root / FOLDER / note_type.key
        folder.mkdir(parents=True, exist_ok=True)
        for file_name, text in note_type_files(note_type).items():
            (folder / file_name).write_bytes(text.encode("utf-8"))
    if exported.package is not None:
        copy_media(exported, {n: renamed.get(n, n) for n in exported.media if "/" not in n},
                   root / "media")
    for path, text, _ in cards.values():
        target = root / "cards" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def _check_and_seed(root: Path, exported: Exported, types: dict[int, NoteType],
                    cards: dict[str, tuple[str, str, int]],
                    fields: list[tuple[str, ...]], known: set[tuple[str, str]],
                    progress: Progress | None = None) -> tuple[list[Problem], list[Problem]]:
    """Load and render the written project as `build` will; every field that
    differs from the original is a warning. Then write the lock that makes
    an unchanged build leave users' notes alone."""
    project, problems = load_project(root)
    notes, render_problems = render_project(project, progress)
    problems += render_problems
    warnings = []
    for note in notes:
        wanted_fields = fields[cards[note.card.id][2]]
        for name, built, wanted in zip(note.card.note_type.fields, note.fields, wanted_fields):
            if built != wanted and not any(p == note.card.path and f"'{name}'" in m for p, m in known):
                warnings.append(Problem(note.card.path, 1, f"field '{name}' builds differently from "
                                                           "Anki's copy", severity="warning"))
    if exported.stamped:
        lock = _seeded_lock(project.namespace, exported, types, notes, cards)
        write_atomic(project.config.lock_path, lock_text(lock).encode("utf-8"))
    return [p for p in problems if p.is_error], warnings


def _seeded_lock(namespace: str, exported: Exported, types: dict[int, NoteType], notes: list[Note],
                 cards: dict[str, tuple[str, str, int]]):
    originals = {card_id: exported.notes[index] for card_id, (_, _, index) in cards.items()}
    stamps = {n.card.id: Stamp(n.hash, originals[n.card.id].mod, originals[n.card.id].id, n.card.path)
              for n in notes}
    return seed_lock(namespace, stamps, {t: exported.note_types[i].mod for i, t in types.items()})
