"""The pipeline: load the project, render notes, stamp them, pack them.

    load_project(root)          config + card files -> Project (cards parsed)
    render_project(project)     Markdown -> HTML, media resolved -> Notes
    build(root)                 stamp with the lock, write dist/<deck>.apkg

`build` loads incrementally: notes of files unchanged since the last build
come from its snapshot (snapshot.py) as BuiltNotes, and the other cards are
made into BuiltNotes as they are compiled. Each stage returns its problems
as values; `build` raises them all at once.
"""

from __future__ import annotations

import html
import sys
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import Callable, Iterator

from . import media as media_stage
from .cache import CACHE_DIR, CardKeys, compile_cards, decode, user_secret, version_file
from .cards import Card
from .config import DeckConfig, load_config
from .custom_types import load_note_types
from .files import find_card_files, os_paths, read_cards
from .lock import (Lock, build_time, content_hash, id_problems, known_notes, lock_chunks, notetype_hash,
                   read_lock, stamp, tombstones)
from .media import MediaFile
from .notetypes import BUILTIN, CLOZE, NoteType, card_ords
from .package import PackedDeck, PackedNote, apkg_bytes, checksum, deck_id, note_guid, write_atomic
from .problems import Problem, ProjectError
from .render import render_fields
from .snapshot import BUILT, CHECKED, BuiltNote, CheckedNote, Reuse, load_snapshot, stat_of

RETIRED_TAG = "retired"
Progress = Callable[[int, int], None]  # (cards done, cards in all): for a progress bar


@dataclass(frozen=True)
class Project:
    config: DeckConfig
    cards: list[Card]
    lock: Lock  # empty when `remembered`: not read
    namespace: str
    rendered: dict[str, tuple[str, ...]] = field(default_factory=dict)  # card path -> fields as HTML
    # Notes already built, not in `cards`: of files unchanged since the last
    # build (incremental loads), and with `make_notes` all the others, made
    # as they were compiled; and what the load saw, for the next snapshot.
    # (For `check`, CheckedNotes: what its errors need of each.)
    built: list[BuiltNote | CheckedNote] = field(default_factory=list)
    reuse: Reuse | None = None
    # When nothing they depend on has changed since, what the last build
    # said (BuildResult.summary) or the last check found (its warnings,
    # packed, skipped rules and counts); the project is then not loaded at all.
    remembered: tuple | None = None


@dataclass(frozen=True)
class Note:
    """A card rendered and identified: what goes into Anki."""

    card: Card
    guid: str
    fields: tuple[str, ...]  # HTML in note-type field order
    deck: str  # full Anki deck name
    tags: tuple[str, ...]
    media: tuple[MediaFile, ...]

    @cached_property  # asked by the lock stamp and by the id checks
    def hash(self) -> str:
        return content_hash([self.card.note_type.id, self.guid, self.fields, self.tags,
                             [m.sha1 for m in self.media]])

    @cached_property
    def ords(self) -> tuple[int, ...]:
        note_type = self.card.note_type
        return tuple(card_ords(note_type, self.card.cloze_numbers if note_type.kind == CLOZE else set()))

    def built(self) -> BuiltNote:
        card = self.card
        return BuiltNote(card.id, card.path, card.id_line, self.guid, card.note_type, self.fields,
                         self.deck, self.tags, self.ords, self.media, self.hash, checksum(self.fields[0]))


@dataclass(frozen=True)
class BuildResult:
    path: Path
    note_count: int
    cards_by_type: dict[str, int]  # note type key -> cards
    media: list[MediaFile]
    decks: list[str]
    removed: list[str] = field(default_factory=list)  # ids in the last build, gone now
    notes: list[BuiltNote] = field(default_factory=list)  # empty when nothing was built again
    written: bool = True  # False: the package was already this, and was left alone

    @classmethod
    def of(cls, path: Path, notes: list[BuiltNote], media: list[MediaFile], decks: list[str],
           removed: list[str] = (), written: bool = True) -> BuildResult:
        counts: Counter[str] = Counter()
        for note in notes:
            counts[note.note_type.key] += len(note.ords)
        return cls(path, len(notes), dict(sorted(counts.items())), media, decks, list(removed), notes,
                   written)

    def summary(self) -> tuple:
        """What the snapshot keeps of it, to say again when nothing changed."""
        return (self.note_count, self.cards_by_type, [(m.name, str(m.path), m.sha1) for m in self.media],
                self.decks)

    @classmethod
    def again(cls, path: Path, summary: tuple) -> BuildResult:
        note_count, cards_by_type, media, decks = summary
        return cls(path, note_count, cards_by_type, [MediaFile(n, Path(p), h) for n, p, h in media], decks,
                   written=False)


def load_project(root: Path, note_types: dict[str, NoteType] = BUILTIN, cache: bool = True,
                 workers: int | None = None, incremental: bool = False,
                 lint_settings: Callable[[DeckConfig], str] | None = None, make_notes: bool = False,
                 on_card: Callable[[CheckedNote, Callable[[], tuple[Card, tuple[str, ...]]], object],
                                   None] | None = None,
                 lint: Callable[[Card, tuple[str, ...]], object] | None = None,
                 progress: Progress | None = None) -> tuple[Project, list[Problem]]:
    """Cards are parsed and rendered together: unchanged files come from the
    cache (`cache=False`: none), the rest on `workers` processes (cache.py).
    `incremental`: files unchanged since the last build are not even read;
    their notes come from its snapshot (snapshot.py) as `Project.built`
    (for `check`, with `lint_settings`: from its own snapshot).
    `make_notes`: every card is made into its note as it is compiled, into
    `Project.built`: all `build` needs, without holding every Card at once.
    With `lint` (check's rules, run beside the compiler: cache.compile_cards),
    into a CheckedNote instead (checked_note), and `on_card` is given each,
    with what `lint` found in its card and a function that decodes the card
    (a Card, its fields as HTML)."""
    config, problems = load_config(root)
    custom_types, type_problems = load_note_types(config.root, note_types)
    problems += type_problems
    note_types = {**note_types, **custom_types}
    # A deck that names its namespace needs the lock's contents only when
    # something changed since the last build or check, which saw this lock
    # (same stat) without a problem: a 100,000-note lock takes 0.4 s to read.
    read_later = bool(config.namespace) and cache and incremental
    lock, namespace = Lock(), config.namespace
    if not read_later:
        lock, namespace, lock_problems = _lock_and_namespace(config)
        problems += lock_problems
    paths, file_problems = find_card_files(config.root, config.cards_dir)
    found = bool(paths)
    reuse = (_reuse(config, namespace, note_types, lint_settings(config) if lint_settings else None)
             if cache and incremental else None)
    if reuse:
        stats = [stat_of(path) for path in os_paths(config.root, paths)]
        # Nothing to do if nothing changed since the last build (check), nor
        # what it wrote (the package and lock; check: what it read of the lock).
        outputs = [config.lock_path] if lint_settings else [config.lock_path, config.package_path]
        remembered = reuse.untouched(paths, stats, outputs)
        if remembered and not problems and not file_problems:
            return Project(config, [], lock, namespace, reuse=reuse, remembered=remembered), []
    if read_later:
        lock, namespace, lock_problems = _lock_and_namespace(config)
        problems += lock_problems
    tombstoned = frozenset(key for key in lock.removed if key not in lock.notes)
    if reuse:
        reuse.tombstoned = tombstoned
        paths = reuse.unchanged(paths, stats)
    files, read_problems = read_cards(config.root, paths)
    file_problems += read_problems
    keys = None
    if reuse:
        files, keys = reuse.same_text(files)
    finish = prepare = None
    if make_notes and lint:  # prepared where each card is compiled, taken in here
        prepare = partial(card_outline, lint)
        finish = partial(checked_note, NoteMaker(config, namespace), note_types, tombstoned, on_card)
    elif make_notes:
        finish = partial(built_note, NoteMaker(config, namespace))
    compiled, card_problems = compile_cards(files, note_types, config.trusted_html,
                                            config.root if cache else None, workers, keys,
                                            reuse.live_keys() if reuse else None, finish, progress, prepare)
    problems += file_problems + card_problems
    built = list(reuse.notes.values()) if reuse else []
    if make_notes:
        for note, note_problems in compiled:
            built.append(note)
            problems += note_problems
        compiled = []
    cards = [card for card, _ in compiled]
    problems += _duplicate_ids(sorted(cards + built, key=lambda c: c.path))
    if not found and not file_problems:
        problems.append(Problem("cards", 0, "no card files found: add cards/*.md "
                                            "(`build_deck.py new` writes one)"))
    return Project(config, cards, lock, namespace, {c.path: html for c, html in compiled},
                   built, reuse), problems


def _reuse(config: DeckConfig, namespace: str, note_types: dict[str, NoteType],
           lint_settings: str | None) -> Reuse | None:
    """The last build's snapshot, if it fits these settings (none without a
    cache secret); for `check` (with its own settings), the last check's."""
    secret = user_secret()
    if secret is None:
        return None
    keys = CardKeys(secret, note_types, config.trusted_html)
    # (The fingerprint covers the package's code.)
    settings = repr((keys.fingerprint, version_file("genanki", "version.py"), config, namespace))
    kind, settings = (CHECKED, settings + lint_settings) if lint_settings else (BUILT, settings)
    return Reuse(partial(load_snapshot, config.root / CACHE_DIR, secret, settings, note_types, kind), keys)


def _lock_and_namespace(config: DeckConfig) -> tuple[Lock, str, list[Problem]]:
    lock, problems = read_lock(config.lock_path)
    namespace, namespace_problems = _namespace(config, lock)
    return lock, namespace, problems + namespace_problems


def _namespace(config: DeckConfig, lock: Lock) -> tuple[str, list[Problem]]:
    """The configured namespace, else the one the lock remembers, else the slug."""
    if config.namespace and lock.namespace and config.namespace != lock.namespace and lock.notes:
        return config.namespace, [Problem(
            "deck.toml", 1,
            f"namespace changed from '{lock.namespace}' to '{config.namespace}': every note "
            "would get a new identity and be duplicated in users' collections; put it back")]
    return config.namespace or lock.namespace or config.slug, []


def _duplicate_ids(cards: list[Card | BuiltNote | CheckedNote]) -> list[Problem]:
    problems = []
    first: dict[str, Card | BuiltNote | CheckedNote] = {}
    for card in cards:
        if card.id in first:
            problems.append(Problem(card.path, card.id_line, f"duplicate id '{card.id}' "
                                                  f"(also in {first[card.id].path})"))
        else:
            first[card.id] = card
    return problems


def render_project(project: Project, progress: Progress | None = None) -> tuple[list[Note], list[Problem]]:
    """The project's cards made into notes, and any media clash among all its notes."""
    make = NoteMaker(project.config, project.namespace)
    notes, problems = [], []
    for done, card in enumerate(project.cards, 1):
        if progress:
            progress(done, len(project.cards))
        note, card_problems = make(card, project.rendered.get(card.path))
        notes.append(note)
        problems += card_problems
    uses = [(n.card.path, n.media) for n in notes] + [(n.path, n.media) for n in project.built]
    return notes, problems + media_clashes(project.config, sorted(uses, key=lambda use: use[0]))


def media_clashes(config: DeckConfig, uses: list[tuple[str, tuple[MediaFile, ...]]]) -> list[Problem]:
    """Two media files that would get the same flat name (Anki's names ignore case)."""
    problems = []
    names: dict[str, tuple[Path, str]] = {}  # casefolded flat name -> (file, card path)
    for path, media in uses:
        for item in media:
            key = item.name.casefold()
            if key in names and names[key][0] != item.path:
                problems.append(Problem(path, 1, f"media name clash: '{item.name}' would also name "
                                                 f"{names[key][0].relative_to(config.root).as_posix()} "
                                                 f"(used by {names[key][1]}); rename one"))
            names.setdefault(key, (item.path, path))
    return problems


class NoteMaker:
    """Makes a compiled card its Note: media found and given flat names,
    GUID given. Finds and hashes each media file once per build (many cards
    show the same few)."""

    def __init__(self, config: DeckConfig, namespace: str):
        self.config, self.namespace = config, namespace
        self.found: dict[str, tuple[MediaFile | None, str | None]] = {}

    def locate(self, ref: str) -> tuple[MediaFile | None, str | None]:
        if ref not in self.found:
            self.found[ref] = media_stage.locate(ref, self.config.media_dir)
        return self.found[ref]

    def __call__(self, card: Card, fields_html: tuple[str, ...] | None = None) -> tuple[Note, list[Problem]]:
        fields, files, problems = _render_card(card, self.locate, self.config.trusted_html, fields_html)
        tags = card.tags + ((RETIRED_TAG,) if card.retired and RETIRED_TAG not in card.tags else ())
        return Note(card=card, guid=card.guid or note_guid(self.namespace, card.id), fields=fields,
                    deck="::".join((self.config.name,) + card.deck), tags=tags, media=files), problems


def built_note(make: NoteMaker, card: Card, fields_html: tuple[str, ...]) -> tuple[BuiltNote, list[Problem]]:
    """What `build` keeps of a compiled card: the note as built, and its media problems."""
    note, problems = make(card, fields_html)
    return note.built(), problems


def card_outline(lint: Callable[[Card, tuple[str, ...]], object], card: Card,
                 fields_html: tuple[str, ...]) -> tuple[tuple, object]:
    """What `check` needs of a compiled card, as plain values made where it
    is compiled (its main process then never decodes the card): its id,
    path, line of the id, note type, ignored rules and media (field_media);
    and what `lint`, its rules, found in it."""
    outline = (card.id, card.path, card.id_line, card.note_type.key, tuple(card.ignore),
               field_media(card, fields_html))
    return outline, lint(card, fields_html)


def checked_note(make: NoteMaker, note_types: dict[str, NoteType], tombstoned: frozenset[str],
                 on_card: Callable[..., None], entry: bytes,
                 found: tuple[tuple, object]) -> tuple[CheckedNote, list[Problem]]:
    """What `check` keeps of a compiled card (`entry`, as the cache keeps
    it; `found`: its card_outline), and its media problems. Its card is
    decoded, and its note made (for its hash), only if the lock must
    compare it: a new id that a removed card had. `on_card` is given a
    function that decodes it, and fills in what the rules found."""
    (id_, path, id_line, type_key, ignore, uses), findings = found
    card_of = partial(decode, entry, note_types)
    if id_ in tombstoned:
        note, problems = make(*card_of())
        media, hash_ = note.media, note.hash
    else:
        media, _, problems = located(path, uses, make.locate)
        hash_ = None
    checked = CheckedNote(sys.intern(id_), sys.intern(path), id_line, note_types[type_key], media, hash_,
                          ignore)
    on_card(checked, card_of, findings)
    return checked, problems


def _render_card(card: Card, locate: Callable, trusted: bool, fields_html: tuple[str, ...] | None = None
                 ) -> tuple[tuple[str, ...], tuple[MediaFile, ...], list[Problem]]:
    rendered = list(fields_html or render_fields(card, trusted))
    uses = field_media(card, rendered)
    media, flat, problems = located(card.path, uses, locate)
    for index, _, _, _ in uses:
        rendered[index] = media_stage.rewrite_refs(rendered[index], flat)
    return tuple(rendered), media, problems


MediaUse = tuple[int, tuple[tuple[str, int], ...], int, str | None]


def field_media(card: Card, fields_html: tuple[str, ...] | list[str]) -> tuple[MediaUse, ...]:
    """Per field that may refer to media (media.may_refer): its index, each
    reference as written in its HTML with the line it stands on, the
    field's line, and why an image in it has no source (if one hasn't)."""
    uses = []
    for index, (name, field_html) in enumerate(zip(card.note_type.fields, fields_html)):
        if not media_stage.may_refer(field_html):
            continue
        text, first = card.fields.get(name, ""), card.field_lines.get(name, 1)
        refs = tuple((ref, _line_of(html.unescape(ref), text, first))
                     for ref in media_stage.media_refs(field_html))
        uses.append((index, refs, first, media_stage.dropped_source(field_html)))
    return tuple(uses)


def located(path: str, uses: tuple[MediaUse, ...],
            locate: Callable) -> tuple[tuple[MediaFile, ...], dict[str, str], list[Problem]]:
    """The media files a card's references name, by flat name; each
    reference found -> that flat name; and the problems of those that name none."""
    files, flat, problems = {}, {}, []
    for _, refs, line, dropped in uses:
        for ref, ref_line in refs:
            item, reason = locate(html.unescape(ref))
            if reason:
                problems.append(Problem(path, ref_line, reason))
            else:
                flat[ref] = item.name
                files.setdefault(item.name, item)
        if dropped:
            problems.append(Problem(path, line, dropped))
    return tuple(files[k] for k in sorted(files)) if files else (), flat, problems


def _line_of(needle: str, text: str, first_line: int) -> int:
    index = text.find(needle)
    return first_line + (text[:index].count("\n") if index >= 0 else 0)


def all_decks(config: DeckConfig, notes: list[Note]) -> list[str]:
    """The main deck first, then every subdeck and its parents, sorted."""
    names = {config.name}
    for deck in {note.deck for note in notes}:
        parts = deck.split("::")
        names.update("::".join(parts[:i]) for i in range(1, len(parts) + 1))
    return [config.name] + sorted(names - {config.name})


def build(root: Path, now: int | None = None, progress: Progress | None = None, cache: bool = True,
          workers: int | None = None) -> BuildResult:
    """Build dist/<deck>.apkg and update the lock, or raise every problem.
    With the cache, only files changed since the last build are read, and
    nothing is written when nothing changed."""
    project, problems = load_project(root, cache=cache, workers=workers, incremental=True,
                                     make_notes=True, progress=progress)
    if project.remembered:
        return BuildResult.again(project.config.package_path, project.remembered)
    problems += render_project(project)[1]  # no cards to make: the media clashes across notes
    if any(p.is_error for p in problems):
        raise ProjectError([p for p in problems if p.is_error])
    config, lock, reuse = project.config, project.lock, project.reuse
    notes = sorted(project.built, key=lambda n: n.path)
    path = config.package_path
    if reuse and reuse.nothing_changed([config.lock_path, path]):
        result = BuildResult.of(path, notes, _media(notes), all_decks(config, notes), written=False)
        if reuse.read_again:  # remember their stats
            reuse.keep(notes)
            reuse.next.summary = result.summary()
            reuse.next.save()
        return result
    now = build_time() if now is None else now

    note_stamps = stamp(known_notes(lock), {n.id: n.hash for n in notes}, now,
                        {n.id: n.path for n in notes})
    types = sorted({n.note_type for n in notes}, key=lambda t: t.id)
    type_stamps = stamp(lock.notetypes, {str(t.id): notetype_hash(t) for t in types}, now)
    schema_problems = lock_problems(notes, lock)
    if schema_problems:
        raise ProjectError(schema_problems)

    deck_names = all_decks(config, notes)
    decks = [PackedDeck(deck_id(project.namespace, name), name,
                        config.description if name == config.name else "")
             for name in deck_names]
    ids = {d.name: d.id for d in decks}

    def packed() -> Iterator[PackedNote]:
        for n in notes:
            note_stamp = note_stamps[n.id]
            yield PackedNote(id=note_stamp.added, guid=n.guid, note_type=n.note_type, fields=n.fields,
                             tags=n.tags, deck_id=ids[n.deck], mod=note_stamp.mod, ords=n.ords,
                             checksum=n.checksum)

    media = _media(notes)
    package = apkg_bytes(packed, decks, {t: type_stamps[str(t.id)].mod for t in types}, media)
    # The lock first: killed in between, the lock is ahead of the package,
    # never behind one users may have imported (its mods must stay the newest).
    new_lock = Lock(namespace=project.namespace, notes=note_stamps, notetypes=type_stamps,
                    schemas={str(t.id): t.schema for t in types},
                    removed=tombstones(lock, note_stamps))
    write_atomic(config.lock_path, (piece.encode("utf-8") for piece in lock_chunks(new_lock)))
    write_atomic(path, package)
    del package  # a big deck's: not held while the snapshot is saved
    result = BuildResult.of(path, notes, media, deck_names, sorted(set(lock.notes) - set(note_stamps)))
    if reuse:
        reuse.next.outputs = {str(p): stat_of(p) for p in (config.lock_path, path)}
        reuse.keep(notes)
        reuse.next.summary = result.summary()
        reuse.next.save()
    return result


def _media(notes: list[BuiltNote]) -> list[MediaFile]:
    return sorted({m.name: m for n in notes for m in n.media + n.note_type.media}.values(),
                  key=lambda m: m.name)


def lock_problems(notes: list[BuiltNote | CheckedNote], lock: Lock) -> list[Problem]:
    """What the lock refuses to build: note types forked, ids changed or
    reused. (`check` reports the same.)"""
    types = sorted({n.note_type for n in notes}, key=lambda t: t.id)
    return _forked_types(types, lock) + id_problems(
        lock, {n.id: n.hash for n in notes}, {n.id: n.path for n in notes},
        {n.id: n.id_line for n in notes})


def _forked_types(types: list[NoteType], lock: Lock) -> list[Problem]:
    """A note type whose fields or templates changed under the same id would
    fork in every user's collection; refuse to build it."""
    problems = []
    for note_type in types:
        old = lock.schemas.get(str(note_type.id))
        if old is not None and old != note_type.schema:
            problems.append(Problem(
                "build-deck.lock", 1,
                f"note type '{note_type.name}' (id {note_type.id}) changed its fields or templates "
                f"({old} -> {note_type.schema}). Anki would fork it and stop updating every "
                "existing note: keep the old fields and template names, or give it a new id"))
    return problems
