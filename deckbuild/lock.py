"""The small memory between builds: `build-deck.lock`.

Anki's importer updates a note only when the incoming `mod` is newer than its
own. So a note's `mod` must change exactly when its content changes: the lock
records, per card id, a hash of what was packed and the `mod` it got. An
unchanged note keeps its `mod` (re-importing leaves it, and any edit the user
made in Anki, alone); a changed one gets the build time. The same goes for
note types. Commit the lock beside the cards; with it, the same input builds
a byte-identical package.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from .problems import Problem

LOCK_VERSION = 1


@dataclass(frozen=True)
class Stamp:
    hash: str
    mod: int  # seconds: Anki's note/notetype mtime
    added: int = 0  # milliseconds: the note id Anki shows as "Added"


@dataclass(frozen=True)
class Lock:
    namespace: str | None = None
    notes: dict[str, Stamp] = field(default_factory=dict)
    notetypes: dict[str, Stamp] = field(default_factory=dict)
    schemas: dict[str, dict] = field(default_factory=dict)  # notetype id -> fields/templates


def content_hash(content) -> str:
    data = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
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
        return Lock(
            namespace=data.get("namespace"),
            notes={k: Stamp(**v) for k, v in data.get("notes", {}).items()},
            notetypes={k: Stamp(v["hash"], v["mod"]) for k, v in data.get("notetypes", {}).items()},
            schemas={k: v["schema"] for k, v in data.get("notetypes", {}).items()},
        ), []
    except (ValueError, TypeError, KeyError, AttributeError) as err:
        return Lock(), [Problem(name, getattr(err, "lineno", 1),
                                f"the lock file is damaged ({err}); restore it from git. Deleting it "
                                "makes the next build touch every note")]


def stamp(previous: dict[str, Stamp], hashes: dict[str, str], now: int) -> dict[str, Stamp]:
    """Keep each unchanged note's stamp; give changed ones `now` (always past
    the old mod) and new ones a fresh, unique `added`."""
    stamps = {}
    next_added = max([now * 1000] + [s.added + 1 for s in previous.values()])
    for key, digest in hashes.items():
        old = previous.get(key)
        if old and old.hash == digest:
            stamps[key] = old
        elif old:
            stamps[key] = Stamp(digest, max(now, old.mod + 1), old.added)
        else:
            stamps[key] = Stamp(digest, now, next_added)
            next_added += 1
    return stamps



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

    def entries(items: dict[str, dict]) -> str:
        lines = [f"    {json.dumps(k)}: {json.dumps(v, sort_keys=True, ensure_ascii=False)}"
                 for k, v in sorted(items.items())]
        return "{\n" + ",\n".join(lines) + "\n  }" if lines else "{}"

    notetypes = {k: {"hash": s.hash, "mod": s.mod, "schema": lock.schemas[k]}
                 for k, s in lock.notetypes.items()}
    notes = {k: {"hash": s.hash, "mod": s.mod, "added": s.added} for k, s in lock.notes.items()}
    return (
        "{\n"
        f'  "version": {LOCK_VERSION},\n'
        f'  "namespace": {json.dumps(lock.namespace, ensure_ascii=False)},\n'
        f'  "notetypes": {entries(notetypes)},\n'
        f'  "notes": {entries(notes)}\n'
        "}\n"
    )
