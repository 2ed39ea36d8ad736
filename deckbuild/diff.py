"""`diff`: what users get from an update, as release notes: new, changed,
retired and removed notes, and note type changes, with the ones that would
fork a type in users' collections called out.

Both sides are read into the same form as `import` reads an export
(`exported.Exported`): a package with `read_package`, the working cards by
rendering them exactly as `build` would. Notes match by GUID, note types by
id: as Anki matches them.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path

from .build import RETIRED_TAG, load_project, render_project
from .exported import Exported, ExportedNote, ExportedType
from .problems import ProjectError

TAG = re.compile(r"<[^>]*>")
BREAK = re.compile(r"<(?:br|/?(?:p|div|li|tr|td|th|h\d))\b[^>]*>", re.I)  # between words


@dataclass(frozen=True)
class NoteChange:
    guid: str
    label: str  # card file, or the first field's text
    what: tuple[str, ...] = ()  # changed fields, "tags", "deck", "note type"


@dataclass(frozen=True)
class TypeChange:
    name: str
    id: int
    what: str  # "new", "updated", "forks"
    detail: str = ""


@dataclass
class DeckDiff:
    added: list[NoteChange] = field(default_factory=list)
    changed: list[NoteChange] = field(default_factory=list)
    retired: list[NoteChange] = field(default_factory=list)
    removed: list[NoteChange] = field(default_factory=list)
    note_types: list[TypeChange] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.retired or self.removed or self.note_types)


def project_snapshot(root: Path) -> tuple[Exported, dict[str, str]]:
    """The working cards as the next build would pack them, and each GUID's
    card file; raises ProjectError when they would not build."""
    project, problems = load_project(root)
    notes, render_problems = render_project(project)
    errors = [p for p in problems + render_problems if p.is_error]
    if errors:
        raise ProjectError(errors)
    types = {n.card.note_type.id: n.card.note_type for n in notes}
    return Exported(
        notes=[ExportedNote(id=0, guid=n.guid, type_id=n.card.note_type.id, mod=0, tags=n.tags,
                            fields=n.fields, deck=n.deck) for n in notes],
        note_types={i: ExportedType(id=i, name=t.name, kind=t.kind, fields=t.fields,
                                    templates=tuple((x.name, x.front, x.back) for x in t.templates),
                                    css=t.css, mod=0)
                    for i, t in types.items()},
    ), {n.guid: n.card.path for n in notes}


def compare(old: Exported, new: Exported, paths: dict[str, str] | None = None) -> DeckDiff:
    paths = paths or {}
    old_notes = {n.guid: n for n in old.notes}
    new_notes = {n.guid: n for n in new.notes}
    result = DeckDiff()

    def label(note: ExportedNote) -> str:
        text = BREAK.sub(" ", note.fields[0] if note.fields else "")
        text = " ".join(html.unescape(TAG.sub("", text)).split())
        text = f"«{text[:60]}{'…' if len(text) > 60 else ''}»"
        return f"{paths[note.guid]} {text}" if note.guid in paths else text

    for guid, note in new_notes.items():
        before = old_notes.get(guid)
        if before is None:
            result.added.append(NoteChange(guid, label(note)))
            continue
        what = _note_changes(before, note, new.note_types.get(note.type_id))
        if RETIRED_TAG in note.tags and RETIRED_TAG not in before.tags:
            result.retired.append(NoteChange(guid, label(note), what))
        elif what:
            result.changed.append(NoteChange(guid, label(note), what))
    result.removed = [NoteChange(guid, label(note)) for guid, note in old_notes.items() if guid not in new_notes]
    result.note_types = _type_changes(old.note_types, new.note_types)
    return result


def _note_changes(old: ExportedNote, new: ExportedNote, new_type: ExportedType | None) -> tuple[str, ...]:
    if old.type_id != new.type_id:
        return ("note type (Anki will not update this note: it keeps the old type)",)
    names = new_type.fields if new_type else tuple(f"field {i + 1}" for i in range(len(new.fields)))
    old_fields = old.fields + ("",) * (len(new.fields) - len(old.fields))
    what = [name for name, value, was in zip(names, new.fields, old_fields) if was != value]  # as Anki: by position
    if set(old.tags) != set(new.tags):
        what.append("tags")
    if old.deck != new.deck:
        what.append("deck")
    return tuple(what)


def _type_changes(old: dict[int, ExportedType], new: dict[int, ExportedType]) -> list[TypeChange]:
    changes = []
    for type_id, note_type in sorted(new.items(), key=lambda item: item[1].name):
        before = old.get(type_id)
        if before is None:
            changes.append(TypeChange(note_type.name, type_id, "new"))
        elif _schema(before) != _schema(note_type):
            changes.append(TypeChange(note_type.name, type_id, "forks", _schema_change(before, note_type)))
        elif (before.templates, before.css, before.name) != (note_type.templates, note_type.css, note_type.name):
            parts = [what for what, changed in (("templates", before.templates != note_type.templates),
                                                ("CSS", before.css != note_type.css),
                                                (f"name (was '{before.name}')", before.name != note_type.name))
                     if changed]
            changes.append(TypeChange(note_type.name, type_id, "updated", ", ".join(parts)))
    return changes


def _schema(note_type: ExportedType) -> tuple:
    """What Anki compares to decide whether an import forks the type."""
    return note_type.fields, tuple(t[0] for t in note_type.templates), note_type.kind


def _schema_change(old: ExportedType, new: ExportedType) -> str:
    parts = []
    if old.fields != new.fields:
        parts.append(f"fields {', '.join(old.fields)} -> {', '.join(new.fields)}")
    old_names, new_names = [t[0] for t in old.templates], [t[0] for t in new.templates]
    if old_names != new_names:
        parts.append(f"templates {', '.join(old_names)} -> {', '.join(new_names)}")
    if old.kind != new.kind:
        parts.append("kind normal <-> cloze")
    return "; ".join(parts)


def format_diff(diff: DeckDiff) -> list[str]:
    """Release notes, one line per note; sections only when not empty."""
    lines = []
    for title, marker, changes in (("new", "+", diff.added), ("changed", "~", diff.changed),
                                   ("retired", "-", diff.retired), ("removed", "-", diff.removed)):
        if changes:
            lines.append(f"{title} ({len(changes)}):")
            lines += [f"  {marker} {c.label}" + (f": {', '.join(c.what)}" if c.what else "") for c in changes]
    if diff.removed:
        lines.append("  (Anki keeps removed notes in users' collections: mark cards `retired: true` instead)")
    if diff.note_types:
        lines.append("note types:")
        for change in diff.note_types:
            if change.what == "forks":
                lines.append(f"  ! {change.name} (id {change.id}) would fork in users' collections "
                             f"({change.detail}): Anki would add '{change.name}+' and stop updating its notes")
            else:
                lines.append(f"  {'+' if change.what == 'new' else '~'} {change.name}: {change.what}"
                             + (f" ({change.detail})" if change.detail else ""))
    counts = [f"{len(c)} {title}" for title, c in (("new", diff.added), ("changed", diff.changed),
                                                    ("retired", diff.retired), ("removed", diff.removed))]
    forks = sum(1 for c in diff.note_types if c.what == "forks")
    lines.append(", ".join(counts) + (f"; {forks} note type(s) would fork" if forks else ""))
    return lines
