"""The build cache: what each card file compiled to (its parsed card and its
fields as HTML), so a build parses and renders only the files that changed.

`.build-deck-cache/cards.sqlite3` beside the lock maps a keyed hash of a card
file (its path and text, the code and library versions that compile it, the
deck's note types and `trusted_html`) to the compiled result (marshal). An
entry is thus never stale: anything that could change the result changes the
key. SQLite commits each build's entries atomically; deleting the folder is
always safe (the next build is a cold one, and as fast as a build without a
cache). The hash is keyed with a secret kept outside the project, so a cache
that arrives with the project (by git or a copy) can never be hit: a planted
entry could otherwise smuggle unsanitized HTML into a deck.

Cold builds compile on every core; the result is the same in any case:
entries are decoded from the same bytes whether they were just computed, in
this process or a worker, or read from the cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import marshal
import os
import secrets
import sqlite3
import sys
from functools import lru_cache, partial
from pathlib import Path
from typing import Callable, Iterator

import nh3

from .cards import Card, parse_card
from .files import CardFile
from .notetypes import NoteType
from .problems import Problem
from .render import render_fields

CACHE_DIR = ".build-deck-cache"
DATABASE = "cards.sqlite3"
SCHEMA = "CREATE TABLE IF NOT EXISTS cards (key BLOB PRIMARY KEY, entry BLOB NOT NULL) WITHOUT ROWID"
SAVE_BATCH = 500  # new entries stored at a time
FEW_KEYS = 200  # looked up one by one; more: one pass over the table
PARALLEL_MIN = 400  # fewer files to compile than this: one process is faster
# Card attributes by position in an entry (the fingerprint covers cards.py,
# so a change to Card makes new keys).
CARD_FIELDS = [f.name for f in dataclasses.fields(Card)]
ID, NOTE_TYPE, FIELDS, SOURCE, PATH = (CARD_FIELDS.index(name)
                                       for name in ("id", "note_type", "fields", "source", "path"))
TUPLE_FIELDS = [i for i, f in enumerate(dataclasses.fields(Card)) if str(f.type).startswith("tuple")]
DICT_FIELDS = [i for i, f in enumerate(dataclasses.fields(Card)) if str(f.type).startswith("dict")]

Compiled = tuple[Card, tuple[str, ...]]  # a parsed card, its fields as HTML (media not yet flat)


def compile_cards(files: list[CardFile], note_types: dict[str, NoteType], trusted: bool,
                  root: Path | None = None, workers: int | None = None,
                  keys: list[bytes] | None = None, live: list[bytes] | None = None,
                  finish: Callable[..., object] | None = None,
                  progress: Callable[[int, int], None] | None = None,
                  prepare: Callable[[Card, tuple[str, ...]], object] | None = None) -> tuple[list, list[Problem]]:
    """Every card file parsed and rendered, in file order: from the cache in
    `root` where a file is unchanged, the rest on `workers` processes (default:
    every core, for more than a few hundred files). `root=None`: no cache.
    `keys`: the files' CardKeys, if the caller has them; `live`: the keys of
    every file of the project, if more than `files` (the cache keeps them).
    Each card comes as (Card, its fields as HTML), or with `finish` (a
    function of the two) as what `finish` makes of it as it comes in, so
    the Cards need not all be held at once. `prepare` (a function of the
    two, giving plain values: check's outline and findings) runs where
    each card is compiled, in the workers for most (and for cards from the
    cache when there are many); `finish` is then given the card's entry
    undecoded (`decode` makes it the two) and what `prepare` made of it.
    `files` is emptied: each file's text is let go once handed to be
    compiled."""
    if not files:
        return [], []
    cache = CardCache.open(root) if root is not None else None
    if keys is None:
        keyed = CardKeys(cache.secret if cache else b"", note_types, trusted)
        keys = [keyed(f) for f in files]
    compiled: list = [None] * len(files)
    shared: dict = {}

    def take(entry: bytes, prepared: bytes | None = None):
        if prepare:  # prepared where it was compiled or looked up, or here (a few from the cache)
            made = prepare(*decode(entry, note_types)) if prepared is None else marshal.loads(prepared)
            return finish(entry, made)
        card, fields = decode(entry, note_types, shared)
        return finish(card, fields) if finish else (card, fields)

    # Cards from the cache (a check after a build): on more than one core,
    # prepared in the workers with the rest.
    in_workers = prepare is not None and len(keys) >= PARALLEL_MIN and (workers or os.cpu_count() or 1) > 1
    entries: dict[int, bytes] = {}
    if cache:
        for i, entry in cache.lookup(keys):
            if in_workers:
                entries[i] = entry
            else:
                compiled[i] = take(entry)
    missing = [i for i, found in enumerate(compiled) if found is None]
    cached = set(entries)  # prepared, not stored again
    todo = [entries.pop(i) if i in cached else files[i] for i in missing]  # let go as handed out
    files.clear()
    problems, fresh = [], []
    for done, (i, (entry, file_problems, prepared)) in enumerate(zip(missing, compile_files(
            todo, note_types, trusted, workers, prepare)), 1):
        if progress:
            progress(done, len(missing))
        problems += file_problems
        if entry is not None:
            if i not in cached:
                fresh.append((keys[i], entry))
            compiled[i] = take(entry, prepared)
        if cache and len(fresh) >= SAVE_BATCH:  # stored while the workers compile the rest
            cache.add(fresh)
            fresh = []
    if cache:
        cache.add(fresh)
        cache.finish(live or keys)
    return [found for found in compiled if found is not None], problems


def compile_files(files: list[CardFile | bytes], note_types: dict[str, NoteType], trusted: bool,
                  workers: int | None = None,
                  prepare: Callable | None = None) -> Iterator[tuple[bytes | None, list[Problem], bytes | None]]:
    """`compile_file` for each file (`prepare_entry` for a cache entry), in
    order, in chunks over worker processes; yielded as chunks finish, so
    the caller takes one chunk in while the workers compile the next.
    `files` is emptied as chunks are handed out: a big deck's texts are
    never all held with what they compiled to."""
    if workers is None:
        workers = (os.cpu_count() or 1) if len(files) >= PARALLEL_MIN else 1
    work = partial(_compile_chunk, note_types=note_types, trusted=trusted, prepare=prepare)
    if workers <= 1 or len(files) <= 1:
        for chunk in _handed_out(files, SAVE_BATCH):
            yield from work(chunk)
        return
    import multiprocessing  # here: a warm build compiles nothing, and its import costs

    size = max(1, -(-len(files) // (workers * 8)))
    with multiprocessing.Pool(workers) as pool:
        for chunk in pool.imap(work, _handed_out(files, size)):
            yield from chunk


def _handed_out(files: list, size: int) -> Iterator[list]:
    """`files` in chunks of `size`, in order, each let go of as it is taken."""
    files.reverse()
    while files:
        yield [files.pop() for _ in range(min(size, len(files)))]


def _compile_chunk(files: list[CardFile | bytes], note_types: dict[str, NoteType], trusted: bool,
                   prepare: Callable | None) -> list[tuple[bytes | None, list[Problem], bytes | None]]:
    return [compile_file(f, note_types, trusted, prepare) if isinstance(f, CardFile)
            else prepare_entry(f, note_types, prepare) for f in files]


def compile_file(card_file: CardFile, note_types: dict[str, NoteType], trusted: bool,
                 prepare: Callable | None = None) -> tuple[bytes | None, list[Problem], bytes | None]:
    """Parse and render one card file: the entry the cache keeps, or
    problems; and with `prepare`, what it makes of the card (marshal: it
    crosses from a worker, and marshal is the cheapest way across)."""
    card, problems = parse_card(card_file, note_types)
    if card is None:
        return None, problems, None
    fields = render_fields(card, trusted)
    return encode(card, fields), problems, marshal.dumps(prepare(card, fields)) if prepare else None


def prepare_entry(entry: bytes, note_types: dict[str, NoteType],
                  prepare: Callable) -> tuple[bytes, list[Problem], bytes]:
    """`compile_file` for a card the cache already has: what `prepare` makes of it."""
    return entry, [], marshal.dumps(prepare(*decode(entry, note_types)))


def encode(card: Card, fields: tuple[str, ...]) -> bytes:
    """marshal (the fastest encoding of plain values; only this code reads
    what it wrote, under keys made with the user's secret): the card's
    attributes in order, then each field's HTML, or None where it is the
    Markdown itself (plain text, half of all fields)."""
    values = [getattr(card, name) for name in CARD_FIELDS]
    values[NOTE_TYPE] = card.note_type.key
    html = tuple(None if text == card.fields.get(name, "") else text
                 for name, text in zip(card.note_type.fields, fields))
    return marshal.dumps((tuple(values), html))


def decode(entry: bytes, note_types: dict[str, NoteType], shared: dict | None = None) -> Compiled:
    """The card and its HTML, lean: a 100,000-card deck holds them all at once,
    so equal values are one object: HTML and its Markdown, `source` and the
    Source field, and (through `shared`, one per build) tags, subdecks,
    sources and field names across cards; its id and path are interned."""
    shared = {} if shared is None else shared
    values, html = marshal.loads(entry)
    values = list(values)
    note_type = values[NOTE_TYPE] = note_types[values[NOTE_TYPE]]
    values[ID], values[PATH] = sys.intern(values[ID]), sys.intern(values[PATH])  # as the lock's and snapshot's
    for i in TUPLE_FIELDS:
        if values[i] is not None:
            values[i] = shared.setdefault(values[i], values[i])
    for i in DICT_FIELDS:
        if values[i]:
            values[i] = {shared.setdefault(k, k): v for k, v in values[i].items()}
    texts = values[FIELDS]
    source = values[SOURCE] = shared.setdefault(values[SOURCE], values[SOURCE])
    for name in [k for k, v in texts.items() if v == source]:
        texts[name] = source
    fields = tuple(texts.get(name, "") if text is None else text
                   for name, text in zip(note_type.fields, html))
    return Card(*values), fields


class CardKeys:
    """A card file's cache key: a hash of everything its entry depends on."""

    def __init__(self, secret: bytes, note_types: dict[str, NoteType], trusted: bool):
        self.fingerprint = fingerprint(note_types, trusted)
        self.base = hashlib.blake2b(key=secret, digest_size=20)
        self.base.update(self.fingerprint.encode())

    def __call__(self, card_file: CardFile) -> bytes:
        h = self.base.copy()
        h.update(f"{card_file.rel}\x00{'/'.join(card_file.folders)}\x00{card_file.text}".encode())
        return h.digest()


def fingerprint(note_types: dict[str, NoteType], trusted: bool) -> str:
    """The code and settings compiling depends on: the package's source
    (code_digest), the libraries' versions, the note types and `trusted_html`."""
    markdown_version = version_file("markdown", "__meta__.py")
    yaml_version = version_file("yaml", "__init__.py")
    return hashlib.sha1(repr((sys.version, markdown_version, nh3.__version__, yaml_version, trusted,
                              sorted(note_types.items()), code_digest())).encode()).hexdigest()


def version_file(package: str, name: str) -> bytes:
    """A library's version, as its version file `name`: read, not imported
    (a build from the cache never loads Python-Markdown or PyYAML, one with
    nothing to do never loads genanki), and without importlib.metadata,
    whose import costs as much as a warm build's reads."""
    spec = importlib.util.find_spec(package)
    return (Path(spec.submodule_search_locations[0]) / name).read_bytes()


@lru_cache(maxsize=1)  # the card keys, build and check each ask
def code_digest() -> str:
    """A hash of the package's source: every module, not only those a stage
    uses. Simpler than following imports, and as exact for users, whose
    code changes only with an upgrade."""
    h = hashlib.sha1()
    for source in sorted(Path(__file__).parent.glob("*.py")):
        h.update(source.name.encode() + b"\x00" + source.read_bytes())
    return h.hexdigest()


class CardCache:
    """The SQLite file of entries. Never fails a build: a cache that can't be
    opened, read or written is an empty one."""

    def __init__(self, db: sqlite3.Connection | None, secret: bytes):
        self.db = db
        self.secret = secret

    @classmethod
    def open(cls, root: Path) -> CardCache:
        secret = user_secret()
        if secret is None:
            return cls(None, b"")
        try:
            (root / CACHE_DIR).mkdir(exist_ok=True)
            ignore = root / CACHE_DIR / ".gitignore"
            if not ignore.exists():  # as pytest does: never committed, whatever the project ignores
                ignore.write_text("# made by build-deck: a cache, safe to delete\n*\n", encoding="utf-8")
            db = sqlite3.connect(root / CACHE_DIR / DATABASE)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(SCHEMA)
            return cls(db, secret)
        except (OSError, sqlite3.Error):
            return cls(None, b"")

    def __bool__(self) -> bool:
        return self.db is not None

    def lookup(self, keys: list[bytes]) -> Iterator[tuple[int, bytes]]:
        """(position in `keys`, entry) for each key found: one pass over the
        table for many keys, a query per key for a few. A table that breaks
        off mid-way ends early."""
        try:
            if len(keys) <= FEW_KEYS:
                for i, key in enumerate(keys):
                    row = self.db.execute("SELECT entry FROM cards WHERE key = ?", (key,)).fetchone()
                    if row:
                        yield i, row[0]
                return
            index = {key: i for i, key in enumerate(keys)}
            for key, entry in self.db.execute("SELECT key, entry FROM cards"):
                if key in index:
                    yield index[key], entry
        except sqlite3.Error:
            return

    def add(self, fresh: list[tuple[bytes, bytes]]) -> None:
        """Store new entries (committed by `finish`)."""
        try:
            if self.db is not None:
                self.db.executemany("INSERT OR REPLACE INTO cards VALUES (?, ?)", fresh)
        except sqlite3.Error:
            self.db = None

    def finish(self, used: list[bytes]) -> None:
        """Drop unused entries once they outnumber the used; commit it all."""
        try:
            if self.db is None:
                return
            with self.db:
                (total,) = self.db.execute("SELECT count(*) FROM cards").fetchone()
                if total > 2 * len(used) + 100:
                    self.db.execute("CREATE TEMP TABLE used (key BLOB PRIMARY KEY)")
                    self.db.executemany("INSERT OR IGNORE INTO used VALUES (?)", ((k,) for k in used))
                    self.db.execute("DELETE FROM cards WHERE key NOT IN (SELECT key FROM used)")
            self.db.close()
        except sqlite3.Error:
            pass


def user_secret() -> bytes | None:
    """A random key kept in the user's cache folder (made on first use), or
    None where there is no such folder to write to."""
    home = os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache")
    path = Path(home) / "build-deck" / "cache-key"
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".cache-key.{os.getpid()}")
            tmp.write_text(secrets.token_hex(32), encoding="ascii")
            tmp.chmod(0o600)
            try:
                os.link(tmp, path)  # atomic; the first of two racing builds wins
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        secret = path.read_bytes()
    except (OSError, RuntimeError):
        return None
    return secret if len(secret) >= 32 else None
