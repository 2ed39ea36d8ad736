"""Read a deck someone exported from Anki: notes, note types, decks, media.

One reader for every `.apkg` in use:

- Anki 2.1.50+ (`meta` says "latest"): `collection.anki21b`, a zstd-compressed
  SQLite collection in schema 18, where note types live in the `notetypes`,
  `fields` and `templates` tables with protobuf configs; the `media` map is a
  zstd-compressed protobuf, and every media file is zstd-compressed too.
- Legacy exports (`collection.anki21`, or `collection.anki2` from old Anki,
  genanki and build_deck): schema 11, note types and decks as JSON in `col`,
  the `media` map as JSON. A new Anki puts a "please update" stub
  `collection.anki2` beside the real collection: the `meta` file says which
  one to read.

No `anki` backend needed: the few protobuf fields used are decoded here.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

LEGACY_1, LEGACY_2, LATEST = 1, 2, 3
COLLECTIONS = {LEGACY_1: "collection.anki2", LEGACY_2: "collection.anki21", LATEST: "collection.anki21b"}


class ExportError(Exception):
    """The file is not a deck this reader understands; the message says why."""

    def __init__(self, message: str, line: int = 0):
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class ExportedType:
    id: int
    name: str
    kind: int  # 0 normal, 1 cloze (Anki's numbers, as in notetypes.py)
    fields: tuple[str, ...]
    templates: tuple[tuple[str, str, str], ...]  # (name, front, back)
    css: str
    mod: int


@dataclass(frozen=True)
class ExportedNote:
    id: int  # ms: when it was added
    guid: str
    type_id: int
    mod: int
    tags: tuple[str, ...]
    fields: tuple[str, ...]  # HTML, in note type field order
    deck: str  # full deck name ("A::B") of the note's first card


@dataclass
class Exported:
    notes: list[ExportedNote]
    note_types: dict[int, ExportedType]
    decks: dict[str, str] = field(default_factory=dict)  # full name -> description
    media: dict[str, str] = field(default_factory=dict)  # file name -> zip member
    package: Path | None = None
    zstd_media: bool = False
    stamped: bool = True  # ids and mods are a collection's own (not a text export)


def read_package(path: Path) -> Exported:
    """Every note of an .apkg with its type and deck, and its media map."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            version = _version(archive, names)
            collection = COLLECTIONS[version]
            if collection not in names:
                raise ExportError(f"no {collection} inside: not an Anki deck package")
            data = archive.read(collection)
            media_map = archive.read("media") if "media" in names else b""
    except (zipfile.BadZipFile, OSError) as err:
        raise ExportError(f"not a readable .apkg (zip) file: {err}") from err
    if version == LATEST:
        data, media_map = _unzstd(data), _unzstd(media_map) if media_map else b""
        media = {_text(_proto(entry)[1][0]): str(index)
                 for index, entry in enumerate(_proto(media_map).get(1, []))}
    else:
        media = {name: member for member, name in json.loads(media_map or b"{}").items()}
    with tempfile.TemporaryDirectory() as folder:
        db_path = Path(folder) / "collection.db"
        db_path.write_bytes(data)
        db = sqlite3.connect(db_path)
        db.create_collation("unicase", lambda a, b: (a.casefold() > b.casefold()) - (a.casefold() < b.casefold()))
        try:
            types, decks = (_schema18 if version == LATEST else _schema11)(db)
            notes = _notes(db, {i: name for i, (name, _) in decks.items()})
        except sqlite3.DatabaseError as err:
            raise ExportError(f"the collection inside is damaged: {err}") from err
        finally:
            db.close()
    used = {n.type_id for n in notes}
    return Exported(
        notes=notes, note_types={i: t for i, t in types.items() if i in used},
        decks={name: description for name, description in decks.values()},
        media=media, package=path, zstd_media=version == LATEST,
    )


def copy_media(exported: Exported, names: dict[str, str], folder: Path) -> None:
    """Write media files: package name -> file name under `folder`."""
    if not names:
        return
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(exported.package) as archive:
        for name, target in names.items():
            data = archive.read(exported.media[name])
            (folder / target).write_bytes(_unzstd(data) if exported.zstd_media else data)


def _version(archive: zipfile.ZipFile, names: set[str]) -> int:
    if "meta" in names:
        version = (_proto(archive.read("meta")).get(1) or [0])[0]
        if version not in COLLECTIONS:
            raise ExportError("made by a newer Anki than this reader knows: export it with "
                              "'Support older Anki versions' ticked")
        return version
    return LEGACY_2 if "collection.anki21" in names else LEGACY_1


def _schema11(db: sqlite3.Connection) -> tuple[dict[int, ExportedType], dict[int, tuple[str, str]]]:
    models, decks = db.execute("SELECT models, decks FROM col").fetchone()
    types = {}
    for model in json.loads(models).values():
        fields = sorted(model["flds"], key=lambda f: f["ord"])
        templates = sorted(model["tmpls"], key=lambda t: t["ord"])
        types[int(model["id"])] = ExportedType(
            id=int(model["id"]), name=model["name"], kind=int(model.get("type", 0)),
            fields=tuple(f["name"] for f in fields),
            templates=tuple((t["name"], t["qfmt"], t["afmt"]) for t in templates),
            css=model.get("css", ""), mod=int(model.get("mod", 0)),
        )
    return types, {int(d["id"]): (d["name"], d.get("desc", "")) for d in json.loads(decks).values()}


def _schema18(db: sqlite3.Connection) -> tuple[dict[int, ExportedType], dict[int, tuple[str, str]]]:
    fields: dict[int, list[str]] = {}
    for ntid, name in db.execute("SELECT ntid, name FROM fields ORDER BY ntid, ord"):
        fields.setdefault(ntid, []).append(name)
    templates: dict[int, list[tuple[str, str, str]]] = {}
    for ntid, name, config in db.execute("SELECT ntid, name, config FROM templates ORDER BY ntid, ord"):
        proto = _proto(config)
        templates.setdefault(ntid, []).append((name, _text(proto, 1), _text(proto, 2)))
    types = {}
    for ntid, name, mtime, config in db.execute("SELECT id, name, mtime_secs, config FROM notetypes"):
        proto = _proto(config)
        types[ntid] = ExportedType(
            id=ntid, name=name, kind=(proto.get(1) or [0])[0], fields=tuple(fields.get(ntid, ())),
            templates=tuple(templates.get(ntid, ())), css=_text(proto, 3), mod=mtime,
        )
    decks = {}
    for deck_id, name, kind in db.execute("SELECT id, name, kind FROM decks"):
        normal = _proto(kind).get(1)
        decks[deck_id] = (name.replace("\x1f", "::"), _text(_proto(normal[0]), 4) if normal else "")
    return types, decks


def _notes(db: sqlite3.Connection, deck_names: dict[int, str]) -> list[ExportedNote]:
    first_deck = {}
    for nid, did in db.execute("SELECT nid, CASE WHEN odid THEN odid ELSE did END FROM cards "
                               "ORDER BY nid, ord"):
        first_deck.setdefault(nid, did)
    return [
        ExportedNote(id=nid, guid=guid, type_id=mid, mod=mod, tags=tuple(tags.split()),
                     fields=tuple(flds.split("\x1f")),
                     deck=deck_names.get(first_deck.get(nid), "Default"))
        for nid, guid, mid, mod, tags, flds in db.execute(
            "SELECT id, guid, mid, mod, tags, flds FROM notes ORDER BY id")
    ]


def _unzstd(data: bytes) -> bytes:
    import zstandard

    return zstandard.ZstdDecompressor().decompressobj().decompress(data)


def _proto(data: bytes) -> dict[int, list]:
    """A protobuf message as field number -> values (ints, or bytes for
    length-delimited fields): enough for the few fields read here."""
    fields: dict[int, list] = {}
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        wire = key & 7
        if wire == 0:
            value, position = _varint(data, position)
        elif wire == 2:
            size, position = _varint(data, position)
            value, position = data[position:position + size], position + size
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, position = data[position:position + size], position + size
        else:
            raise ExportError(f"unexpected protobuf wire type {wire}")
        fields.setdefault(key >> 3, []).append(value)
    return fields


def _varint(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if position >= len(data):
            raise ExportError("truncated protobuf")
        byte = data[position]
        result |= (byte & 0x7F) << shift
        position += 1
        if not byte & 0x80:
            return result, position
        shift += 7


def _text(message, number: int | None = None) -> str:
    """A string field (or a raw bytes value) as text; missing means empty."""
    if number is not None:
        message = (message.get(number) or [b""])[0]
    return bytes(message).decode("utf-8")
