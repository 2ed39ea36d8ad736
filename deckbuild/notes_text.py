"""Read Anki's "Notes in Plain Text" export (.txt/.csv) as an `Exported`.

Anki writes a header, then one note per row:

    #separator:tab
    #html:true
    #guid column:1
    #notetype column:2
    #deck column:3
    #tags column:6
    f<D$3{e^x	Basic	Spansk::Verb	comer	to eat	verb

A text export holds no note type definitions, so rows are mapped onto the
built-in types by their Anki stock type name (Basic, Basic (and reversed
card), Basic (type in the answer), Cloze, ...). It holds no note ids or
modification times either: nothing to seed the lock with.
"""

from __future__ import annotations

import csv
import html
import io
from pathlib import Path

from .exported import Exported, ExportedNote, ExportedType, ExportError
from .notetypes import BUILTIN

SEPARATORS = {"tab": "\t", "comma": ",", "semicolon": ";", "space": " ", "pipe": "|", "colon": ":"}
# Anki's stock type name -> (built-in key, where each Anki field goes in ours)
STOCK = {
    "basic": ("basic", ("Front", "Back")),
    "basic (and reversed card)": ("reversed", ("Front", "Back")),
    "basic (optional reversed card)": ("basic", ("Front", "Back", "Add Reverse")),
    "basic (type in the answer)": ("type-in", ("Front", "Back")),
    "cloze": ("cloze", ("Text", "Extra")),
    **{t.name.lower(): (t.key, t.fields) for t in BUILTIN.values()},
}


def read_notes_text(path: Path) -> Exported:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise ExportError(f"not a readable UTF-8 text export: {err}") from err
    header, rows = _split_header(text)
    separator = header.get("separator", "tab").strip().lower()
    separator = SEPARATORS.get(separator, separator[:1] or "\t")
    is_html = header.get("html", "true").strip().lower() != "false"
    columns = {key: int(header[f"{key} column"]) - 1 for key in ("guid", "notetype", "deck", "tags")
               if header.get(f"{key} column", "").strip().isdigit()}
    default_type = header.get("notetype", "Basic").strip()
    default_deck = header.get("deck", "").strip() or path.stem
    notes, used = [], set()
    reader = csv.reader(io.StringIO(rows), delimiter=separator)
    for row in reader:
        line = len(header) + reader.line_num
        if not row:
            continue
        meta = {key: row[index] if index < len(row) else "" for key, index in columns.items()}
        fields = [cell for index, cell in enumerate(row) if index not in columns.values()]
        type_name = meta.get("notetype") or default_type
        if type_name.lower() not in STOCK:
            raise ExportError(f"note type '{type_name}' is not one a text export can carry (known: "
                              "Basic, Basic (and reversed card), Basic (type in the answer), Cloze); "
                              "export the deck as .apkg to keep its own note types", line)
        key, anki_fields = STOCK[type_name.lower()]
        values = dict(zip(anki_fields, (_field_html(f, is_html) for f in fields)))
        extra = [f for f in fields[len(anki_fields):] if f.strip()]
        if extra:
            raise ExportError(f"more fields than note type '{type_name}' has", line)
        if values.pop("Add Reverse", ""):
            key = "reversed"
        note_type = BUILTIN[key]
        used.add(key)
        notes.append(ExportedNote(
            id=0, guid=meta.get("guid", ""), type_id=note_type.id, mod=0,
            tags=tuple(meta.get("tags", "").split()),
            fields=tuple(values.get(name, "") for name in note_type.fields),
            deck=meta.get("deck") or default_deck,
        ))
    types = {BUILTIN[k].id: _exported_type(BUILTIN[k]) for k in used}
    return Exported(notes=notes, note_types=types, stamped=False)


def _split_header(text: str) -> tuple[dict[str, str], str]:
    """`#key:value` lines at the top; the rest is CSV."""
    header, lines = {}, text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        if not line.startswith("#"):
            return header, "".join(lines[index:])
        key, _, value = line[1:].partition(":")
        header[key.strip().lower()] = value.rstrip("\r\n")
    return header, ""


def _field_html(cell: str, is_html: bool) -> str:
    return cell if is_html else html.escape(cell, quote=False).replace("\n", "<br>")


def _exported_type(note_type) -> ExportedType:
    return ExportedType(id=note_type.id, name=note_type.name, kind=note_type.kind, fields=note_type.fields,
                        templates=tuple((t.name, t.front, t.back) for t in note_type.templates),
                        css=note_type.css, mod=0)
