"""What the last build saw and made, so the next one reads only what changed.

`.build-deck-cache/last-build` keeps, per card file, its stat (size, mtime,
ctime, inode), its content key (cache.py) and the note it built: a
BuiltNote, rendered, its media flattened and hashed, all the lock and the
package need. A build reuses the note of a file whose stat and media are
unchanged without reading it; a file with a new stat is read, and if its text
is the same (a `touch`, a git checkout) its note is reused all the same.

Like git's index, a stat taken in the same instant as the file was written
is not trusted: a coarse clock could let a second write keep the stat. Such
a file is read and compared by content next time.

The snapshot is only ever a shortcut. It is tied to everything else a note
depends on (code, note types, deck name, namespace, `trusted_html`), and
signed with the user's cache secret like the card cache's keys: a missing,
damaged, stale or foreign one means a build that reads every file.
"""

from __future__ import annotations

import hashlib
import hmac
import marshal
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from .cache import CardKeys
from .files import CardFile, CardPath
from .media import MediaFile
from .notetypes import NoteType

NAME = "last-build"
VERSION = 1
RACY_NS = 2_000_000_000  # FAT and some network file systems keep mtimes to 2 s
Stat = tuple[int, int, int, int]  # size, mtime_ns, ctime_ns, inode


# slots, not frozen: a big deck holds 100,000, and a frozen dataclass costs
# ten times as much to make. Nothing changes one once made.
@dataclass(slots=True)
class BuiltNote:
    """A card file compiled as far as the lock: what `build` checks across
    cards, stamps and packs."""

    id: str
    path: str  # the card file
    id_line: int
    guid: str
    note_type: NoteType
    fields: tuple[str, ...]  # HTML, media references flat
    deck: str  # full Anki deck name
    tags: tuple[str, ...]
    ords: tuple[int, ...]  # the cards it makes
    media: tuple[MediaFile, ...]
    hash: str  # what the lock compares


def stat_of(path: str | Path) -> Stat | None:
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    return info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino


@dataclass
class Snapshot:
    folder: Path  # where it is kept
    secret: bytes  # signs it
    settings: str  # what notes depend on besides their files
    taken: int = field(default_factory=time.time_ns)  # when the files were looked at
    files: dict[str, tuple[Stat | None, bytes]] = field(default_factory=dict)  # rel -> stat, content key
    notes: dict[str, BuiltNote] = field(default_factory=dict)  # rel -> its note
    media_stat: dict[str, Stat | None] = field(default_factory=dict)  # media file -> stat when hashed
    outputs: dict[str, Stat | None] = field(default_factory=dict)  # lock and package, as written
    encoded: dict[str, tuple] = field(default_factory=dict)  # notes as saved, if unchanged since

    def outputs_unchanged(self, paths: list[Path]) -> bool:
        return bool(self.outputs) and all(self.outputs.get(str(p)) == stat_of(p) for p in paths)

    def follow(self, notes: list[BuiltNote], media_changed: set[Path]) -> None:
        """Take in a build's notes; media files hashed anew get their stats now."""
        self.notes = {n.path: n for n in notes}
        paths = {m.path for n in notes for m in n.media}
        self.media_stat = {str(p): trusted_stat(stat_of(p), self.taken) if p in media_changed
                           else self.media_stat.get(str(p)) for p in paths}

    def save(self) -> None:
        """Written atomically; a snapshot that can't be written is no snapshot."""
        notes = {rel: self.encoded.get(rel) or _encode(n) for rel, n in self.notes.items()}
        body = marshal.dumps((VERSION, self.settings, self.taken, self.files, notes,
                              self.media_stat, self.outputs))
        tmp = self.folder / f".{NAME}.{os.getpid()}.tmp"
        try:
            tmp.write_bytes(_sign(self.secret, body) + body)
            os.replace(tmp, self.folder / NAME)
        except OSError:
            tmp.unlink(missing_ok=True)


class Reuse:
    """What a build takes from the last one unread, and the snapshot of what
    it saw, for the next."""

    def __init__(self, last: Snapshot, keys: CardKeys):
        self.last, self.keys = last, keys
        self.next = Snapshot(last.folder, last.secret, last.settings, media_stat=last.media_stat,
                             outputs=last.outputs)
        self.notes: dict[str, BuiltNote] = {}  # card file -> note reused
        self.read_again = False  # a file the last snapshot knew had to be read: worth a new one
        self._media: dict[Path, Stat | None] = {}

    def unchanged(self, paths: list[CardPath]) -> list[CardPath]:
        """Take the notes of files whose stat and media are unchanged; the rest, to read."""
        to_read = []
        for path in paths:
            stat = stat_of(path.os_path)
            known, note = self.last.files.get(path.rel), self.last.notes.get(path.rel)
            if (note and known[0] is not None and known[0] == stat
                    and _media_unchanged(note, self.last.media_stat, self._media)):
                self.notes[path.rel] = note
                self.next.files[path.rel] = known
                self.next.encoded[path.rel] = self.last.encoded[path.rel]
            else:
                to_read.append(path)
                self.next.files[path.rel] = (trusted_stat(stat, self.next.taken), b"")
                self.read_again = self.read_again or note is not None
        return to_read

    def nothing_changed(self, outputs: list[Path]) -> bool:
        """Whether the last build's outputs are this build's: every file's
        note was reused, no file came or went, and `outputs` are as it left them."""
        return (self.notes.keys() == self.next.files.keys() == self.last.files.keys()
                and self.last.outputs_unchanged(outputs))

    def live_keys(self) -> list[bytes]:
        """The content keys of every card file seen (once `same_text` has run)."""
        return [key for _, key in self.next.files.values() if key]

    def same_text(self, files: list[CardFile]) -> tuple[list[CardFile], list[bytes]]:
        """Take the notes of files read whose text (and media) are unchanged;
        the rest, and their cache keys."""
        fresh, keys = [], []
        for card_file in files:
            key = self.keys(card_file)
            self.next.files[card_file.rel] = (self.next.files[card_file.rel][0], key)
            known, note = self.last.files.get(card_file.rel), self.last.notes.get(card_file.rel)
            if note and known[1] == key and _media_unchanged(note, self.last.media_stat, self._media):
                self.notes[card_file.rel] = note
                self.next.encoded[card_file.rel] = self.last.encoded[card_file.rel]
            else:
                fresh.append(card_file)
                keys.append(key)
        return fresh, keys


def _encode(n: BuiltNote) -> tuple:
    return (n.id, n.path, n.id_line, n.guid, n.note_type.key, n.fields, n.deck, n.tags, n.ords,
            tuple((m.name, str(m.path), m.sha1) for m in n.media), n.hash)


def _media_unchanged(note: BuiltNote, then: dict[str, Stat], now: dict[Path, Stat | None]) -> bool:
    for item in note.media:
        if item.path not in now:
            now[item.path] = stat_of(item.path)
        if now[item.path] is None or then.get(str(item.path)) != now[item.path]:
            return False
    return True


def trusted_stat(stat: Stat | None, taken: int) -> Stat | None:
    """The stat to remember: none for a file written too close to `taken`."""
    return stat if stat is not None and stat[1] < taken - RACY_NS and stat[2] < taken - RACY_NS else None


def load_snapshot(folder: Path, secret: bytes, settings: str, note_types: dict[str, NoteType]) -> Snapshot:
    """The last build's snapshot, or an empty one."""
    empty = Snapshot(folder, secret, settings)
    try:
        data = (folder / NAME).read_bytes()
    except OSError:
        return empty
    signature, body = data[:32], data[32:]
    if not hmac.compare_digest(signature, _sign(secret, body)):
        return empty
    try:
        version, saved_settings, taken, files, notes, media_stat, outputs = marshal.loads(body)
        if version != VERSION or saved_settings != settings:
            return empty
        media: dict[tuple, MediaFile] = {}
        return Snapshot(folder, secret, settings, taken, files, {
            rel: BuiltNote(*values[:4], note_types[values[4]], *values[5:9],
                           tuple(media.setdefault(m, MediaFile(m[0], Path(m[1]), m[2])) for m in values[9])
                           if values[9] else (), values[10])
            for rel, values in notes.items()}, media_stat, outputs, notes)
    except (ValueError, TypeError, EOFError, KeyError, IndexError):
        return empty


def _sign(secret: bytes, body: bytes) -> bytes:
    return hashlib.blake2b(body, key=secret, digest_size=32).digest()
