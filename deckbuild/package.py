"""Write the .apkg: genanki's collection schema and note-type JSON, filled
with our own stable ids and mod times, zipped byte-for-byte reproducibly."""

from __future__ import annotations

import glob
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .media import MediaFile
from .notetypes import NoteType

ZIP_DATE = (1980, 1, 1, 0, 0, 0)
# Deflate level 1: a third of the default's time for a package ~10% larger.
ZIP_LEVEL = 1
INDEX = re.compile(r"CREATE INDEX[^;]*;")
TAG = re.compile(r"<[^>]*>")


@dataclass(slots=True)  # as BuiltNote: one per note, never changed once made
class PackedNote:
    id: int  # Anki note id: when it was first built, in ms
    guid: str
    note_type: NoteType
    fields: tuple[str, ...]  # HTML, in the note type's field order
    tags: tuple[str, ...]
    deck_id: int
    mod: int
    ords: tuple[int, ...]  # which cards the note makes
    checksum: int  # of the first field


@dataclass(frozen=True)
class PackedDeck:
    id: int
    name: str
    description: str = ""


def deck_id(namespace: str, name: str) -> int:
    """Stable per deck name, in genanki's recommended id range."""
    digest = hashlib.sha1(f"{namespace}\x1fdeck\x1f{name}".encode()).digest()
    return (1 << 30) + int.from_bytes(digest[:4], "big") % (1 << 30)


BASE91 = ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
          "!#$%&()*+,-./:;<=>?@[]^_`{|}~")


def note_guid(namespace: str, card_id: str) -> str:
    """genanki.guid_for(namespace, card_id), which every shipped note's GUID
    came from, at half the cost: it runs for every note of every build."""
    number = int.from_bytes(hashlib.sha256(f"{namespace}__{card_id}".encode()).digest()[:8], "big")
    digits = []
    while number:
        number, digit = divmod(number, 91)
        digits.append(BASE91[digit])
    return "".join(reversed(digits))


def write_collection(path: Path, notes: Callable[[], Iterable[PackedNote]], decks: list[PackedDeck],
                     notetypes: dict[NoteType, int]) -> None:
    """The collection of `notes` (asked afresh for each pass over them: a
    big deck's are never all made at once) of `notetypes` (-> their mod)."""
    import genanki  # here: a build with nothing to pack never needs it
    from genanki.apkg_col import APKG_COL
    from genanki.apkg_schema import APKG_SCHEMA

    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    # genanki's schema, its indexes built after the rows are in (faster than
    # keeping them up to date row by row).
    db.executescript(INDEX.sub("", APKG_SCHEMA))
    db.executescript(APKG_COL)
    main_deck = decks[0].id
    models = {str(t.id): t.to_anki_json(mod, main_deck) for t, mod in notetypes.items()}
    deck_json = json.loads(db.execute("SELECT decks FROM col").fetchone()[0])
    for deck in decks:
        deck_json[str(deck.id)] = genanki.Deck(deck.id, deck.name, deck.description).to_json()
    db.execute("UPDATE col SET models = ?, decks = ?",
               (json.dumps(models, sort_keys=True), json.dumps(deck_json, sort_keys=True)))
    db.executemany("INSERT INTO notes VALUES (?,?,?,?,-1,?,?,?,?,0,'')", (
        (n.id, n.guid, n.note_type.id, n.mod, f" {' '.join(n.tags)} " if n.tags else "",
         "\x1f".join(n.fields), sort_field(n.fields[0]), n.checksum)
        for n in notes()
    ))
    (first_id,) = db.execute("SELECT min(id) FROM notes").fetchone()
    db.executemany("INSERT INTO cards VALUES (?,?,?,?,?,-1,0,0,?,0,0,0,0,0,0,0,0,'')",
                   _card_rows(notes(), first_id or 0))
    db.executescript("".join(INDEX.findall(APKG_SCHEMA)))
    db.commit()
    db.close()


def _card_rows(notes: Iterable[PackedNote], first_id: int) -> Iterator[tuple]:
    """Card ids only need to be unique in the package (Anki matches cards by
    note and template): from the first note's id on. New cards are shown in
    card-file order."""
    card_id = first_id
    for position, note in enumerate(notes, 1):
        for ord_ in note.ords:
            yield card_id, note.id, note.deck_id, ord_, note.mod, position
            card_id += 1


def sort_field(html: str) -> str:
    """What Anki sorts and checks duplicates by: the first field without tags."""
    return TAG.sub("", html) if "<" in html else html


def checksum(html: str) -> int:
    """Anki's first-field checksum (kept with each built note: a big deck's
    packing would spend a tenth of its time on it)."""
    return int(hashlib.sha1(sort_field(html).encode("utf-8")).hexdigest()[:8], 16)


def apkg_bytes(notes: Callable[[], Iterable[PackedNote]], decks: list[PackedDeck],
               notetypes: dict[NoteType, int], media: list[MediaFile]) -> bytes:
    """The collection and the media, zipped with fixed timestamps and order,
    so equal input gives equal bytes. The collection is built in a temporary
    file, not in memory: for 100,000 notes it holds 45 MB."""
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="build-deck-") as tmp, zipfile.ZipFile(buffer, "w") as apkg:
        collection = Path(tmp) / "collection.anki2"
        write_collection(collection, notes, decks, notetypes)
        with collection.open("rb") as source, apkg.open(_info("collection.anki2"), "w") as target:
            shutil.copyfileobj(source, target, 1 << 20)
        ordered = sorted(media, key=lambda m: m.name)
        apkg.writestr(_info("media"), json.dumps({str(i): m.name for i, m in enumerate(ordered)}).encode())
        for i, item in enumerate(ordered):
            apkg.writestr(_info(str(i)), item.path.read_bytes())
    return buffer.getvalue()


def _info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info._compresslevel = ZIP_LEVEL  # what writestr(compresslevel=) sets; open() reads it too
    info.external_attr = 0o644 << 16
    return info


def write_atomic(path: Path, data: bytes | Iterable[bytes]) -> None:
    """Readers see the old file or the new one, never half of one, even
    after a crash or power cut (file and folder are synced). `data` may come
    in pieces, so a big file need never be held whole. The temp file
    is named after this process, so a later build can tell a killed build's
    leftovers from a running one's and remove them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    try:
        if hasattr(os, "fchmod"):  # mkstemp's 0600 would hide the package from a web server or a colleague
            os.fchmod(fd, _mode_for(path))
        with os.fdopen(fd, "wb") as handle:
            for piece in (data,) if isinstance(data, bytes) else data:
                handle.write(piece)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX)
        folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def _mode_for(path: Path) -> int:
    """The permissions the file has, or a new file gets here (0666 less the umask)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _remove_leftovers(path: Path) -> None:
    """Temp files of `path` whose build process is gone (killed mid-write).
    Only where a process can be asked whether it runs (POSIX)."""
    if os.name != "posix":
        return
    prefix = f".{path.name}."
    for leftover in path.parent.glob(f"{glob.escape(prefix)}*.tmp"):
        pid = leftover.name[len(prefix):].split(".")[0]
        if pid.isdigit() and not _running(int(pid)):
            leftover.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, but another user's
        return True
    return True
