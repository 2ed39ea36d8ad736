"""What the last build and check saw and made, so the next ones read only what changed.

`.build-deck-cache/last-build` keeps, per card file, its stat (size, mtime,
ctime, inode) and its content key (cache.py); `last-build-notes` the note
each built: a BuiltNote, rendered, its media flattened and hashed, all the
lock and the package need. A build reuses the note of a file whose stat and
media are unchanged without reading it; a file with a new stat is read, and
if its text is the same (a `touch`, a git checkout) its note is reused all
the same. When nothing changed, the notes are not read at all.
`check` keeps a snapshot of its own (`last-check`, `last-check-notes`), of
CheckedNotes: it makes no note, only what its errors need, and keeps what
its rules found in each card, and its report as its summary (and, in
`last-check-printed`, as it was last printed: trusted by its stat and a
random mark, kept in the signed `last-check-printed-as`, so a big deck's
20 MB are printed again unread).

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
import struct
import sys
import time
from dataclasses import dataclass, field
from functools import cached_property, partial
from itertools import chain
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Iterator

from .cache import CardKeys
from .files import CardFile, CardPath
from .media import MediaFile
from .notetypes import NoteType

NAME = "last-build"
NOTES = "last-build-notes"
CHECK_NAME = "last-check"
CHECK_NOTES = "last-check-notes"
CHECK_PRINTED = "last-check-printed"
CHECK_PRINTED_AS = "last-check-printed-as"  # in which output, for which snapshot; its stat and mark
MARK_SIZE = 16  # the printed report's first bytes: tell it from another check's
VERSION = 8
BLOCK = 1 << 20  # the notes file is read in blocks of this
RACY_NS = 2_000_000_000  # FAT and some network file systems keep mtimes to 2 s
# A file's size, mtime_ns, ctime_ns and inode, packed: a big deck's
# snapshot holds one per card file, and four ints in a tuple take three times the room.
STAT = struct.Struct("<QqqQ")
Stat = bytes


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
    checksum: int  # of the first field, as Anki wants it in the package


@dataclass(slots=True)
class CheckedNote:
    """What `check` keeps of a card file: what the errors across cards
    need (ids, media, note types), and what its own rules found (lint.py
    fills these in). Not the note: only a build needs its fields and
    identity. `hash` only where the lock compares it, for a new id that a
    removed card had (`Reuse.tombstoned`); else None."""

    id: str
    path: str
    id_line: int
    note_type: NoteType
    media: tuple[MediaFile, ...]
    hash: str | None
    ignore: tuple[str, ...]  # rule codes the card switches off
    warnings: tuple[tuple, ...] = ()  # Problem values
    prompts: tuple[tuple, ...] = ()  # what the rules across cards compare: lint._prompts


def stat_of(path: str | Path) -> Stat | None:
    try:
        return _packed_stat(os.stat(path))
    except (OSError, ValueError):
        return None


def _packed_stat(info: os.stat_result) -> Stat:
    return STAT.pack(info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)


@dataclass
class Snapshot:
    folder: Path  # where it is kept
    secret: bytes  # signs it
    settings: str  # what notes depend on besides their files
    kind: Kind  # a build's (of BuiltNotes) or a check's (of CheckedNotes)
    taken: int = field(default_factory=time.time_ns)  # when the files were looked at
    files: dict[str, tuple[Stat | None, bytes]] = field(default_factory=dict)  # rel -> stat, content key
    media_stat: dict[str, Stat | None] = field(default_factory=dict)  # media file -> stat when hashed
    outputs: dict[str, Stat | None] = field(default_factory=dict)  # lock and package, as written
    summary: tuple = ()  # what the build (check) that wrote the outputs said: see build.py, lint.py
    # The notes live in a file of their own, read only when a build needs
    # them: one that finds nothing changed never does.
    read_notes: Callable[[], tuple[dict, tuple]] | None = field(default=None, repr=False)
    # Kept in the notes file, read with the notes (check: the duplicate
    # questions it found, which a check with nothing changed never needs).
    with_notes: tuple = ()

    @cached_property
    def notes(self) -> dict[str, BuiltNote | CheckedNote]:
        """rel -> the note it built (checked); `with_notes` is read with them."""
        if not self.read_notes:
            return {}
        notes, self.with_notes = self.read_notes()
        return notes

    def outputs_unchanged(self, paths: list[Path]) -> bool:
        return bool(self.outputs) and all(self.outputs.get(str(p)) == stat_of(p) for p in paths)

    def follow(self, notes: list[BuiltNote | CheckedNote], media_changed: set[Path]) -> None:
        """Take in a build's (check's) notes; media files hashed anew get their stats now."""
        self.notes = {n.path: n for n in notes}
        paths = {m.path for n in notes for m in n.media}
        self.media_stat = {str(p): trusted_stat(stat_of(p), self.taken) if p in media_changed
                           else self.media_stat.get(str(p)) for p in paths}

    def printed(self, output: tuple[str, str]) -> bytes | None:
        """check's report as printed with this snapshot, if in the same
        `output` (format, path prefix). A big deck's is 100,000 lines, so it
        is neither signed nor decoded: the signed record holds its stat, and
        the mark it starts with (another check's, run at the same time, has
        its own)."""
        try:
            version, settings, taken, printed_for, mark, stat = _read_signed(self.folder / CHECK_PRINTED_AS,
                                                                             self.secret) or ()
        except ValueError:  # none, or another shape
            return None
        if (version, settings, taken, printed_for) != (VERSION, self.settings, self.taken, output):
            return None
        try:
            # Unbuffered: the rest is then read into one buffer of its size, not joined to a first block.
            with (self.folder / CHECK_PRINTED).open("rb", buffering=0) as kept:  # the stat of what is read
                if _packed_stat(os.fstat(kept.fileno())) != stat or kept.read(MARK_SIZE) != mark:
                    return None
                return kept.read()
        except OSError:
            return None

    def keep_printed(self, output: tuple[str, str], text: bytes) -> None:
        path, mark = self.folder / CHECK_PRINTED, os.urandom(MARK_SIZE)
        if _write_atomic(path, lambda out: out.writelines((mark, text))):
            _write_signed(self.folder / CHECK_PRINTED_AS, self.secret,
                          (VERSION, self.settings, self.taken, output, mark, stat_of(path)))

    def save(self) -> None:
        """Written atomically, the notes first: the file of stats names the
        notes file it goes with (by `taken`), so a build killed between the
        two writes leaves a pair that does not match, never a wrong one."""
        _write_records(self.folder / self.kind.notes, self.secret,
                       (VERSION, self.settings, self.taken, self.with_notes),
                       map(self.kind.encode, self.notes.values()))
        _write_signed(self.folder / self.kind.name, self.secret, (VERSION, self.settings, self.taken,
                                                                  self.files, self.media_stat, self.outputs,
                                                                  self.summary))


class Reuse:
    """What a build (check) takes from the last one unread, and the snapshot
    of what it saw, for the next."""

    def __init__(self, load_last: Callable[[], Snapshot], keys: CardKeys):
        self._load_last, self.keys = load_last, keys
        self.notes: dict[str, BuiltNote | CheckedNote] = {}  # card file -> note reused
        # (check) ids new to the lock that a removed card had: the lock
        # compares their hash, so a CheckedNote without one is not taken
        self.tombstoned: frozenset[str] = frozenset()
        self.read_again = False  # a file the last snapshot knew had to be read: worth a new one
        self._media: dict[Path, Stat | None] = {}

    @cached_property
    def last(self) -> Snapshot:
        return self._load_last()

    @cached_property
    def next(self) -> Snapshot:
        return Snapshot(self.last.folder, self.last.secret, self.last.settings, self.last.kind,
                        media_stat=self.last.media_stat, outputs=self.last.outputs)

    def unchanged(self, paths: list[CardPath], stats: list[Stat | None]) -> list[CardPath]:
        """Take the notes of files whose stat (`stats`, taken before any is
        read) and media are unchanged; the rest, to read."""
        to_read = []
        for path, stat in zip(paths, stats):
            known = self.last.files.get(path.rel)
            if known and known[0] is not None and known[0] == stat and self._take(path.rel):
                self.next.files[path.rel] = known
            else:
                to_read.append(path)
                self.next.files[path.rel] = (trusted_stat(stat, self.next.taken), b"")
                self.read_again = self.read_again or path.rel in self.last.notes
        return to_read

    def same_text(self, files: list[CardFile]) -> tuple[list[CardFile], list[bytes]]:
        """Take the notes of files read whose text (and media) are unchanged;
        the rest, and their cache keys."""
        fresh, keys = [], []
        for card_file in files:
            key = self.keys(card_file)
            self.next.files[card_file.rel] = (self.next.files[card_file.rel][0], key)
            known = self.last.files.get(card_file.rel)
            if not (known is not None and known[1] == key and self._take(card_file.rel)):
                fresh.append(card_file)
                keys.append(key)
        return fresh, keys

    def _take(self, rel: str) -> bool:
        note = self.last.notes.get(rel)
        if note is None or not _media_unchanged(note, self.last.media_stat, self._media):
            return False
        if note.hash is None and note.id in self.tombstoned:  # a CheckedNote the lock must compare now
            return False
        self.notes[rel] = note
        return True

    def untouched(self, paths: list[CardPath], stats: list[Stat | None], outputs: list[Path]) -> tuple | None:
        """What the last build (check) said, if nothing it read has changed
        since and `outputs` (what else it depends on) are as it left them: no
        card file came, went or changed (by a trusted stat), no image
        changed. Reads none of its notes."""
        last = self.last
        if not last.summary or not last.outputs_unchanged(outputs):
            return None
        files = {rel: stat for rel, (stat, _) in last.files.items()}
        return last.summary if _all_unchanged(paths, stats, files, last.media_stat) else None

    def nothing_changed(self, outputs: list[Path]) -> bool:
        """Whether the last build's outputs are this build's: every file's
        note was reused, no file came or went, and `outputs` are as it left them."""
        return (self.notes.keys() == self.next.files.keys() == self.last.files.keys()
                and self.last.outputs_unchanged(outputs))

    def keep(self, notes: list[BuiltNote | CheckedNote]) -> None:
        """The next snapshot takes these notes; media of the notes made anew
        (not reused) were hashed now, and get their stats now."""
        self.next.follow(notes, {m.path for n in notes if n.path not in self.notes for m in n.media})

    def live_keys(self) -> list[bytes]:
        """The content keys of every card file seen (once `same_text` has run)."""
        return [key for _, key in self.next.files.values() if key]


def _all_unchanged(paths: list[CardPath], stats: list[Stat | None], files: dict[str, Stat | None],
                   media: dict[str, Stat | None]) -> bool:
    """Whether the card files are those of `files`, each with the stat it
    had then, and the media files too (a stat not trusted then counts as changed)."""
    return (len(paths) == len(files)
            and all(stat is not None and files.get(path.rel) == stat for path, stat in zip(paths, stats))
            and all(stat is not None and stat_of(name) == stat for name, stat in media.items()))


def _encode_note(n: BuiltNote) -> tuple:
    """A BuiltNote as plain values (marshal, pickle)."""
    return (n.id, n.path, n.id_line, n.guid, n.note_type.key, n.fields, n.deck, n.tags, n.ords,
            _encode_media(n.media), n.hash, n.checksum)


def _encode_media(media: tuple[MediaFile, ...]) -> tuple:
    return tuple((m.name, str(m.path), m.sha1) for m in media)


def _decode_media(media: tuple, same: Callable) -> tuple[MediaFile, ...]:
    return tuple(same(("file",) + m, MediaFile(m[0], Path(m[1]), m[2])) for m in media) if media else ()


def _decode_note(values: tuple, note_types: dict[str, NoteType], shared: dict) -> BuiltNote:
    """`_encode_note` undone, lean: equal decks, tags and media files are
    one object across notes (`shared`, one per load: a 100,000-note deck
    holds them all), and its id, path and hash are one with the lock's."""
    id_, path, id_line, guid, type_key, fields, deck, tags, ords, media, hash_, checksum_ = values
    same = shared.setdefault
    id_, path, hash_ = sys.intern(id_), sys.intern(path), sys.intern(hash_)  # as the lock's
    deck, tags, ords = same(deck, deck), same(tags, tags), same(ords, ords)
    return BuiltNote(id_, path, id_line, guid, note_types[type_key], fields, deck, tags, ords,
                     _decode_media(media, same), hash_, checksum_)


def _encode_checked(n: CheckedNote) -> tuple:
    return (n.id, n.path, n.id_line, n.note_type.key, _encode_media(n.media), n.hash, n.ignore, n.warnings,
            n.prompts)


def _decode_checked(values: tuple, note_types: dict[str, NoteType], shared: dict) -> CheckedNote:
    id_, path, id_line, type_key, media, hash_, ignore, warnings, prompts = values
    return CheckedNote(sys.intern(id_), sys.intern(path), id_line, note_types[type_key],
                       _decode_media(media, shared.setdefault), hash_, ignore, warnings, prompts)


@dataclass(frozen=True)
class Kind:
    """Whose snapshot: its files' names, and how its notes are kept."""

    name: str  # the file of stats
    notes: str  # the file of notes
    encode: Callable[[BuiltNote | CheckedNote], tuple]
    decode: Callable[[tuple, dict[str, NoteType], dict], BuiltNote | CheckedNote]


BUILT = Kind(NAME, NOTES, _encode_note, _decode_note)
CHECKED = Kind(CHECK_NAME, CHECK_NOTES, _encode_checked, _decode_checked)


def _media_unchanged(note: BuiltNote | CheckedNote, then: dict[str, Stat], now: dict[Path, Stat | None]) -> bool:
    for item in note.media:
        if item.path not in now:
            now[item.path] = stat_of(item.path)
        if now[item.path] is None or then.get(str(item.path)) != now[item.path]:
            return False
    return True


def trusted_stat(stat: Stat | None, taken: int) -> Stat | None:
    """The stat to remember: none for a file written too close to `taken`."""
    if stat is None:
        return None
    _, mtime, ctime, _ = STAT.unpack(stat)
    return stat if mtime < taken - RACY_NS and ctime < taken - RACY_NS else None


def load_snapshot(folder: Path, secret: bytes, settings: str, note_types: dict[str, NoteType],
                  kind: Kind = BUILT) -> Snapshot:
    """The last build's (check's) snapshot, its notes read when first asked for; or an empty one."""
    values = _read_signed(folder / kind.name, secret)
    try:
        version, saved_settings, taken, files, media_stat, outputs, summary = values
        if version != VERSION or saved_settings != settings:
            raise ValueError
        files = {sys.intern(rel): entry for rel, entry in files.items()}  # as the card paths'
        return Snapshot(folder, secret, settings, kind, taken, files, media_stat, outputs, summary,
                        partial(_read_notes, folder, secret, settings, taken, note_types, kind))
    except (ValueError, TypeError):
        return Snapshot(folder, secret, settings, kind)


def _read_notes(folder: Path, secret: bytes, settings: str, taken: int, note_types: dict[str, NoteType],
                kind: Kind) -> tuple[dict[str, BuiltNote | CheckedNote], tuple]:
    """The notes file that goes with a snapshot, by card file, and what was kept with them."""
    records = _read_records(folder / kind.notes, secret)
    built: dict[str, BuiltNote | CheckedNote] = {}
    try:
        header = next(records, None)
        if header is None or header[:3] != (VERSION, settings, taken):
            return {}, ()
        shared: dict = {}
        for values in records:
            note = kind.decode(values, note_types, shared)
            built[note.path] = note
        return built, header[3]
    except (ValueError, TypeError, KeyError, IndexError, EOFError):
        return {}, ()


def _write_records(path: Path, secret: bytes, header: tuple, records: Iterable[tuple]) -> None:
    """`header`, then each of `records`, written one at a time, signed as a
    whole: a big deck's notes are never held encoded all at once. Atomic;
    a file that can't be written is no file (a cache)."""
    mac = hashlib.blake2b(key=secret, digest_size=32)

    def fill(out: BinaryIO) -> None:
        out.write(bytes(32))  # the signature, once all is written
        for values in chain((header,), records):
            body = marshal.dumps(values)
            record = len(body).to_bytes(4, "little") + body
            mac.update(record)
            out.write(record)
        out.seek(0)
        out.write(mac.digest())

    _write_atomic(path, fill)


def _read_records(path: Path, secret: bytes) -> Iterator[tuple]:
    """What `_write_records` wrote with the same secret, one record at a
    time (nothing if the signature fails). Read twice, in blocks: the
    signature is checked before anything is decoded, and the file is
    never held whole."""
    try:
        with path.open("rb") as source:
            signature, mac = source.read(32), hashlib.blake2b(key=secret, digest_size=32)
            for block in iter(partial(source.read, BLOCK), b""):
                mac.update(block)
            if not hmac.compare_digest(signature, mac.digest()):
                return
            source.seek(32)
            data = b""
            for block in iter(partial(source.read, BLOCK), b""):
                data += block
                start = 0
                while len(data) - start >= 4:
                    end = start + 4 + int.from_bytes(data[start:start + 4], "little")
                    if end > len(data):
                        break
                    values = marshal.loads(memoryview(data)[start + 4:end])
                    if not isinstance(values, tuple):
                        raise ValueError("not a record")
                    yield values
                    start = end
                data = data[start:]
            if data:
                raise EOFError("a record cut short")
    except OSError:
        return


def _write_signed(path: Path, secret: bytes, values: tuple) -> None:
    body = marshal.dumps(values)
    _write_atomic(path, lambda out: out.writelines((_sign(secret, body), body)))  # not joined: 50 MB


def _write_atomic(path: Path, fill: Callable[[BinaryIO], None]) -> bool:
    """`path` replaced by what `fill` writes, all or nothing; False if it
    can't be written (a cache: the next run just does more). Not synced,
    unlike the lock and package (package.write_atomic): a cache lost to a
    crash costs only a slower build."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as out:
            fill(out)
        os.replace(tmp, path)
        return True
    except OSError:
        tmp.unlink(missing_ok=True)
        return False


def _read_signed(path: Path, secret: bytes) -> tuple | None:
    """What `_write_signed` wrote with the same secret, else None."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    body = memoryview(data)[32:]  # not a copy
    if not hmac.compare_digest(data[:32], _sign(secret, body)):
        return None
    try:
        values = marshal.loads(body)
    except (ValueError, TypeError, EOFError):
        return None
    return values if isinstance(values, tuple) else None


def _sign(secret: bytes, body: bytes | memoryview) -> bytes:
    return hashlib.blake2b(body, key=secret, digest_size=32).digest()
