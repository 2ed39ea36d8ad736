"""The small memory between builds: `build-deck.lock`.

Anki's importer updates a note only when the incoming `mod` is newer than its
own. So a note's `mod` must change exactly when its content changes: the lock
records, per card id, a hash of what was packed and the `mod` it got. An
unchanged note keeps its `mod` (re-importing leaves it, and any edit the user
made in Anki, alone); a changed one gets the build time. The same goes for
note types. Commit the lock beside the cards; with it, the same input builds
a byte-identical package.

The lock also guards note identity (a note's GUID comes from its card's id):
it remembers which file each id came from, so a file whose id changed is
caught, and keeps the ids of removed cards ("removed"), so none is reused for
a different card. Either edit would silently turn a note students have
reviewed into another one.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass, field, replace
from itertools import islice
from pathlib import Path
from typing import Iterator

from .problems import Problem

LOCK_VERSION = 1


@dataclass(slots=True)  # as BuiltNote: one per note, never changed once made
class Stamp:
    hash: str
    mod: int  # seconds: Anki's note/notetype mtime
    added: int = 0  # milliseconds: the note id Anki shows as "Added"
    path: str = ""  # notes: the card file it was built from (empty in locks older than paths)


@dataclass(frozen=True)
class Lock:
    namespace: str | None = None
    notes: dict[str, Stamp] = field(default_factory=dict)
    notetypes: dict[str, Stamp] = field(default_factory=dict)
    schemas: dict[str, dict] = field(default_factory=dict)  # notetype id -> fields/templates
    removed: dict[str, Stamp] = field(default_factory=dict)  # ids built once, gone now: never reuse


# Made once: json.dumps with options builds a new encoder on every call,
# and a build hashes and writes an entry per note.
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))
_ENTRY = json.JSONEncoder(sort_keys=True, ensure_ascii=False)


def content_hash(content) -> str:
    data = _CANONICAL.encode(content)
    return hashlib.sha1(data.encode("utf-8")).hexdigest()[:20]


def build_time() -> int:
    """Now, or SOURCE_DATE_EPOCH for reproducible-build tooling."""
    return int(os.environ.get("SOURCE_DATE_EPOCH") or time.time())


def read_lock(path: Path) -> tuple[Lock, list[Problem]]:
    if not path.exists():
        return Lock(), []
    name = path.name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != LOCK_VERSION:
            return Lock(), [Problem(name, 1, f"unsupported lock version {data.get('version')!r}")]
        if not isinstance(data.get("namespace"), (str, type(None))):
            raise ValueError("'namespace' is not text")
        return Lock(
            namespace=data.get("namespace"),
            notes={sys.intern(k): _stamp(v) for k, v in data.get("notes", {}).items()},
            notetypes={k: _stamp(v, note=False) for k, v in data.get("notetypes", {}).items()},
            schemas={k: _schema(v) for k, v in data.get("notetypes", {}).items()},
            removed={k: _stamp(v) for k, v in data.get("removed", {}).items()},
        ), []
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as err:
        return Lock(), [Problem(name, getattr(err, "lineno", 1),
                                f"the lock file is damaged ({err}); restore it from git. Deleting it "
                                "makes the next build touch every note")]


NOTE_KEYS = frozenset({"hash", "mod", "added", "path"})
NOTETYPE_KEYS = frozenset({"hash", "mod", "schema"})
LIMIT = 1 << 63


def _stamp(value, note: bool = True) -> Stamp:
    """One entry, checked: a hand-edited lock must fail here, not mid-build.
    (Written for speed: a lock has an entry per note.)"""
    if not isinstance(value, dict) or not value.keys() <= (NOTE_KEYS if note else NOTETYPE_KEYS):
        raise ValueError(f"unexpected entry {json.dumps(value, ensure_ascii=False)[:80]}")
    hash_, mod, added, path = value.get("hash"), value.get("mod"), value.get("added", 0), value.get("path", "")
    if not (type(hash_) is str and type(path) is str and type(mod) is int and type(added) is int
            and 0 <= mod < LIMIT and 0 <= added < LIMIT):
        raise ValueError(f"bad entry {json.dumps(value, ensure_ascii=False)[:80]}")
    # Interned: a build's notes name the same ids, hashes and files.
    return Stamp(sys.intern(hash_), mod, added, sys.intern(path))


def _schema(value) -> dict:
    if not isinstance(value.get("schema"), dict):
        raise ValueError("a note type entry without its schema")
    return value["schema"]


def stamp(previous: dict[str, Stamp], hashes: dict[str, str], now: int,
          paths: dict[str, str] | None = None) -> dict[str, Stamp]:
    """Keep each unchanged note's stamp; give changed ones `now` (always past
    the old mod) and new ones a fresh, unique `added`. `paths`: where each
    note comes from now, remembered for `id_problems`."""
    paths = paths or {}
    stamps = {}
    next_added = max([now * 1000] + [s.added + 1 for s in previous.values()])
    for key, digest in hashes.items():
        old = previous.get(key)
        if old and old.hash == digest:
            path = paths.get(key, old.path)
            stamps[key] = old if path == old.path else replace(old, path=path)
        elif old:
            stamps[key] = Stamp(digest, max(now, old.mod + 1), old.added, paths.get(key, old.path))
        else:
            stamps[key] = Stamp(digest, now, next_added, paths.get(key, ""))
            next_added += 1
    return stamps


def known_notes(lock: Lock) -> dict[str, Stamp]:
    """Every note the lock has stamped: built last time, or removed since
    (a removed card brought back unchanged gets its old stamp again)."""
    return {**lock.removed, **lock.notes}


def tombstones(lock: Lock, stamps: dict[str, Stamp]) -> dict[str, Stamp]:
    """The ids ever built that this build doesn't: reserved forever."""
    return {k: s for k, s in known_notes(lock).items() if k not in stamps}


def id_problems(lock: Lock, hashes: dict[str, str], paths: dict[str, str], lines: dict[str, int]) -> list[Problem]:
    """The two id edits that break students' collections, where Anki matches
    notes by the GUID made from the id: a file whose id changed (the old note
    stops updating and the new one arrives without its reviews), and a new
    card reusing a removed card's id (Anki would turn the old note, with its
    reviews, into this card). Per id now built: its note's hash, its card
    file, the line of its `id:`."""
    if all(key in lock.notes for key in paths):  # no new id: nothing to check (the usual build)
        return []
    gone: dict[str, list[str]] = {}
    for key, old in sorted(lock.notes.items()):
        if key not in hashes and old.path:
            gone.setdefault(old.path, []).append(key)
    problems = []
    for key, path in sorted(paths.items()):
        if key in lock.notes:
            continue
        buried = lock.removed.get(key)
        if buried is not None and buried.hash != hashes[key]:
            problems.append(Problem(path, lines.get(key, 1), (
                f"id '{key}' belonged to a card removed earlier ({buried.path or 'an earlier build'}): "
                "students may still have that note, and this card would silently replace it, reviews "
                f"and all. Give this card a new id; if it is the same card brought back, delete the "
                f"line \"{key}\" under \"removed\" in build-deck.lock")))
        elif buried is None and path in gone:
            old_id = gone[path][0]
            problems.append(Problem(path, lines.get(key, 1), (
                f"id changed from '{old_id}' to '{key}': ids are forever (Anki knows the note by it). "
                f"Put back '{old_id}', or mark the old card retired and make a new file")))
    return problems


def notetype_hash(note_type) -> str:
    """What a note type's stamp hashes: everything Anki receives of it."""
    return content_hash(note_type.to_anki_json(0, 0))


def seed_lock(namespace: str, notes: dict[str, Stamp], note_types: dict) -> Lock:
    """The lock for a deck brought in by `import`: every note and note type
    (NoteType -> mod) stamped with the mod users' collections already hold,
    so an unchanged build touches nothing and the first edit is newer."""
    return Lock(namespace=namespace, notes=notes,
                notetypes={str(t.id): Stamp(notetype_hash(t), mod) for t, mod in note_types.items()},
                schemas={str(t.id): t.schema for t in note_types})


def lock_text(lock: Lock) -> str:
    """JSON with one entry per line, so git diffs and merges stay readable."""
    return "".join(lock_chunks(lock))


def lock_chunks(lock: Lock, size: int = 2000) -> Iterator[str]:
    """`lock_text` in pieces of about `size` lines: a big deck's lock is
    written without ever being held whole."""

    def note_line(key: str, s: Stamp) -> str:
        # What _ENTRY.encode gives for the entry as a dict, spelled out: a
        # lock has a line per note, and this is four times faster.
        path = f', "path": {_ENTRY.encode(s.path)}' if s.path else ""
        return f'    {json.dumps(key)}: {{"added": {s.added}, "hash": {_ENTRY.encode(s.hash)}, "mod": {s.mod}{path}}}'

    def entries(name: str, lines: Iterator[str], count: int, last: bool = False) -> Iterator[str]:
        end = "\n" if last else ",\n"
        if not count:
            yield f'  "{name}": {{}}{end}'
            return
        yield f'  "{name}": {{\n'
        for start in range(0, count, size):
            more = start + size < count
            yield ",\n".join(islice(lines, size)) + (",\n" if more else "\n")
        yield "  }" + end

    def notes(stamps: dict[str, Stamp]) -> Iterator[str]:
        return (note_line(k, s) for k, s in sorted(stamps.items()))

    notetypes = [f"    {json.dumps(k)}: {_ENTRY.encode({'hash': s.hash, 'mod': s.mod, 'schema': lock.schemas[k]})}"
                 for k, s in sorted(lock.notetypes.items())]
    yield (f'{{\n  "version": {LOCK_VERSION},\n'
           f'  "namespace": {json.dumps(lock.namespace, ensure_ascii=False)},\n')
    yield from entries("notetypes", iter(notetypes), len(notetypes))
    yield from entries("notes", notes(lock.notes), len(lock.notes), last=not lock.removed)
    if lock.removed:
        yield from entries("removed", notes(lock.removed), len(lock.removed), last=True)
    yield "}\n"
