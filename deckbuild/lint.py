"""`check`: everything `build` rejects, plus warnings about cards that are
hard to learn from, after Wozniak's "20 rules of formulating knowledge".

The errors come from the build's own stages (load_project, render_project,
the note type lock check): one implementation, so `check` passes exactly when
`build` would. The warnings are pure functions over compiled cards (a Card
and its fields as HTML), run where each card is compiled. Each has a code
that a deck (`ignore = ["W104"]` in deck.toml) or a card (front matter
`ignore: {W104: "reason"}`) can switch off.

Rules that judge a card's shape (question, answer, list) apply to the
built-in types; a custom note type's fields have meanings only its author
knows, so it gets the shape-free rules (source, tags, duplicates, clozes,
images, spelling).
"""

from __future__ import annotations

import json
import marshal
import re
import zlib
from dataclasses import dataclass, field, replace
from functools import cached_property, partial, reduce
from operator import xor
from pathlib import Path
from typing import Callable, Iterator

from .build import load_project, lock_problems, render_project
from .snapshot import CheckedNote, Snapshot, stat_of
from .cards import Card
from .config import DeckConfig
from .notetypes import CLOZE
from .problems import Problem
from .spelling import dictionary_identity, misspelled, user_cache, visible_text, words

ERROR_CODE = "E001"


# rule code -> name; the README's "Checking cards" table says when each warns
RULES: dict[str, str] = {
    ERROR_CODE: "build-error",
    "W100": "unknown-ignore",
    "W101": "answer-too-long",
    "W102": "list-in-answer",
    "W103": "question-too-long",
    "W104": "not-a-question",
    "W105": "missing-source",
    "W106": "no-tags",
    "W107": "duplicate-question",
    "W108": "similar-question",
    "W109": "too-many-clozes",
    "W110": "cloze-number-gap",
    "W111": "image-without-alt",
    "W112": "misspelled-word",
}
SPELLING = "W112"

QUESTION_TYPES = ("basic", "type-in")  # fronts that ask a question
ANSWER_TYPES = ("basic", "type-in", "reversed")  # backs that answer one


@dataclass(frozen=True)
class Limits:
    answer_words: int = 20
    question_words: int = 30
    clozes: int = 3
    similarity: float = 0.75  # token Jaccard for W108


@dataclass(frozen=True, eq=False)
class Report:
    """What a check found, and its text as asked for (check_project's
    `output`). The problems are made when first asked for: a check with
    nothing changed prints its last report's text, and a big deck's has
    100,000 lines."""

    make_problems: Callable[[], list[Problem]] = field(repr=False)
    cards: int
    skipped: dict[str, str]  # rule code -> why it did not run
    errors: int
    warnings: int
    printed: bytes = b""  # UTF-8: a big deck's is 20 MB, printed again unread

    @classmethod
    def of(cls, problems: list[Problem], cards: int, skipped: dict[str, str]) -> Report:
        errors = sum(p.is_error for p in problems)
        return cls(lambda: problems, cards, skipped, errors, len(problems) - errors)

    @cached_property
    def problems(self) -> list[Problem]:
        """Sorted: errors and warnings together, by place."""
        return self.make_problems()

    def __eq__(self, other: object) -> bool:  # by what was found, however the problems were made
        return isinstance(other, Report) and ((self.problems, self.cards, self.skipped, self.printed)
                                              == (other.problems, other.cards, other.skipped, other.printed))

    def exit_code(self, strict: bool = False) -> int:
        return 1 if self.errors or (strict and self.warnings) else 0


def check_project(root: Path, limits: Limits = Limits(), output: tuple[str, str] = ("text", "")) -> Report:
    """Check a deck project, writing nothing but caches: what the last check
    found in a card file unchanged since is reused, and when nothing changed
    at all, its whole report. Each card's own rules run where it is
    compiled, mostly in the worker processes (card_findings); here, spelling
    is looked up once for all and the rules across cards run. No note is
    made: what check needs of a card, and keeps, is a CheckedNote.
    `output`: the format (FORMATS) and path prefix of `Report.printed`."""
    compiled: list[tuple[CheckedNote, Callable, str]] = []  # to spell
    tokens: set[str] = set()  # every card's (whitespace-separated): the words to spell are theirs
    questions = Questions()

    def on_card(note: CheckedNote, card_of: Callable[[], tuple[Card, tuple[str, ...]]], found: tuple) -> None:
        note.warnings, note.prompts, to_spell = found
        compiled.append((note, card_of, to_spell))
        tokens.update(to_spell.split())
        questions.add(note.path, note.prompts)

    project, problems = load_project(root, incremental=True, make_notes=True, on_card=on_card,
                                     lint_settings=partial(lint_settings, limits=limits),
                                     lint=partial(card_findings, limits=limits))
    if project.remembered:
        packed, skipped, cards, warnings = project.remembered
        last = project.reuse.last
        return _printed(Report(partial(_unpacked, packed), cards, skipped, 0, warnings), output, last,
                        last.printed(output))
    config, reuse = project.config, project.reuse
    errors = [_as_error(p) for p in problems + render_project(project)[1]
              + lock_problems(project.built, project.lock)]
    skipped = spell_cards(compiled, config, tokens, partial(misspelled, cache=user_cache()))
    # A big deck's cards and words are not held while the rules across cards run.
    compiled.clear()
    tokens.clear()
    last = reuse.last.summary if reuse and reuse.notes else ()  # (what the kept notes were checked by)
    if last:
        skipped = {**last[1], **skipped}
    notes = sorted(project.built, key=lambda note: note.path)
    if last and _same_questions(notes, reuse.last.notes):  # the same duplicates as last time
        duplicates = [Problem(*values) for values in reuse.last.with_notes]
    else:
        for note in reuse.notes.values() if reuse else ():
            questions.add(note.path, note.prompts)
        duplicates = duplicate_questions(questions, limits)
    warnings = sorted(deck_warnings(notes, config, duplicates), key=_place)
    report = Report.of(sorted(errors + warnings, key=_place) if errors else warnings, len(notes), skipped)
    if not reuse or errors:
        return _printed(report, output)
    # Kept for the next check, with what its report depends on.
    reuse.next.summary = (_packed(warnings), skipped, len(notes), len(warnings))
    reuse.next.with_notes = tuple(d.values() for d in duplicates)
    reuse.next.outputs = {str(config.lock_path): stat_of(config.lock_path)}
    reuse.keep(notes)
    reuse.next.save()
    return _printed(report, output, reuse.next)


def _same_questions(notes: list[CheckedNote], known: dict[str, CheckedNote]) -> bool:
    """Whether the cards ask what the last check's (`known`, by card file)
    asked, each at the same place (CheckedNote.prompts): then the duplicates
    are those it found. (A note reused from it compares with itself.)"""
    return len(notes) == len(known) and all(
        note.path in known and known[note.path].prompts == note.prompts for note in notes)


def _printed(report: Report, output: tuple[str, str], snapshot: Snapshot | None = None,
             known: bytes | None = None) -> Report:
    """The report with its text in `output` (format, path prefix): `known`,
    as printed before, or formatted now and kept with `snapshot`."""
    if known is None:
        known = FORMATS[output[0]](report, output[1]).encode()
        if snapshot:
            snapshot.keep_printed(output, known)
    return replace(report, printed=known)


def _packed(problems: list[Problem]) -> bytes:
    """Problems kept, for when they are asked for again: the snapshot is read
    (and its signature checked) by every check, and a big deck has 100,000."""
    return zlib.compress(marshal.dumps(tuple(zip(*(p.values() for p in problems)))), 1)


def _unpacked(packed: bytes) -> list[Problem]:
    return [Problem(*values) for values in zip(*marshal.loads(zlib.decompress(packed)))]


def lint_settings(config: DeckConfig, limits: Limits) -> str:
    """What check's snapshot depends on besides what the build's does (the
    cards, the deck's settings, the package's code): the rules' limits and
    the dictionary."""
    return repr((limits, dictionary_identity(config.language) if SPELLING not in config.ignore else ""))


def card_findings(card: Card, fields_html: tuple[str, ...], limits: Limits = Limits()) -> tuple:
    """What a card's own rules find, spelling aside: (warnings as values,
    prompts, its text to spell-check). Plain values, light to send from a
    worker and to keep until spelling is looked up: its fields' visible
    text in one string (spell_cards finds the words in the whitespace-
    separated tokens of all cards, once for each distinct token)."""
    if card.retired:
        return (), (), ""
    text = CardText.of(card, fields_html)
    warnings = [p for rule in CARD_RULES for p in rule(text, limits)] + unknown_ignores(text)
    to_spell = "" if SPELLING in card.ignore else " ".join(text.text.values())
    return tuple(p.values() for p in warnings), _prompts(text), to_spell


def spell_cards(per_card: list[tuple[CheckedNote, Callable, str]], config: DeckConfig,
                tokens: set[str], spell: Callable = misspelled) -> dict[str, str]:
    """Spelling looked up once for all the `tokens` of the cards' texts,
    and added to the warnings of each note with a misspelled
    word (per card: its note, what decodes it, its tokens: card_findings);
    the rules that could not run (code -> why)."""
    skipped, unknown, misspelling = {}, frozenset(), frozenset()
    if SPELLING not in config.ignore:
        # A word never spans tokens, so the deck's words are its tokens' words.
        result = spell(set(words(" ".join(tokens))), config.language, config.words)
        unknown = result.unknown
        if result.skipped:
            skipped[SPELLING] = result.skipped
        if unknown:  # a letters-only token is its own word
            misspelling = frozenset(t for t in tokens if t in unknown
                                    or not t.isalpha() and not unknown.isdisjoint(words(t)))
    if misspelling:
        for note, card_of, to_spell in per_card:
            if not misspelling.isdisjoint(to_spell.split()):
                note.warnings += _misspelled(*card_of(), unknown, config.language)
    return skipped


def _misspelled(card: Card, fields_html: tuple[str, ...], unknown: frozenset[str],
                language: str) -> tuple[tuple, ...]:
    """W112 once per unknown word of a card, at its first place."""
    text, reported, found = CardText.of(card, fields_html), set(), []
    for name, field_text in text.text.items():
        for word in words(field_text):
            if word in unknown and word not in reported:
                reported.add(word)
                found.append(text.warn(
                    SPELLING, f"unknown word '{word}' ({language}): fix it, or add it to `words` "
                              "in deck.toml", name, word).values())
    return tuple(found)


def deck_warnings(notes: list[CheckedNote], config: DeckConfig, duplicates: list[Problem]) -> list[Problem]:
    """Every warning: each card's, the `duplicates` across cards, the deck's
    own; less what the deck or a card ignores."""
    found = [Problem(*values) for note in notes for values in note.warnings] + duplicates
    found += deck_unknown_ignores(config)
    ignored = {note.path: note.ignore for note in notes}
    return [p for p in found if p.code not in config.ignore and p.code not in ignored.get(p.path, ())]


def _prompts(card: CardText) -> tuple[tuple, ...]:
    """(field, its words casefolded and space-separated, its line) per prompt."""
    lines = card.card.field_lines
    return tuple((name, " ".join(TOKEN.findall(text.casefold())), lines.get(name, 1))
                 for name, text in card.prompts)


def _as_error(problem: Problem) -> Problem:
    return Problem(problem.path, problem.line, problem.message, problem.col or 1,
                   problem.code or ERROR_CODE, "error")


def _place(problem: Problem) -> tuple:
    return (problem.path, problem.line, problem.col, problem.code, problem.message)


@dataclass(slots=True)  # not frozen: made for every card checked, and a frozen one costs more to make
class CardText:
    """A note as the learner sees it: the visible text of each field, and
    the prompts (field, text) it asks: both sides of a reversed card."""

    card: Card
    html: tuple[str, ...]  # the fields as rendered
    key: str  # the note type's key: basic, cloze, ...
    is_cloze: bool
    text: dict[str, str]
    prompts: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, card: Card, fields_html: tuple[str, ...]) -> CardText:
        note_type = card.note_type
        text = {name: visible_text(html) for name, html in zip(note_type.fields, fields_html)
                if name != "Source"}
        is_cloze = note_type.kind == CLOZE
        if is_cloze or note_type.key in QUESTION_TYPES:
            prompts = ((note_type.first_field, text.get(note_type.first_field, "")),)
        elif note_type.key == "reversed":
            prompts = tuple((name, text.get(name, "")) for name in ("Front", "Back"))
        else:
            prompts = ()
        return cls(card, fields_html, note_type.key, is_cloze, text, prompts)

    def warn(self, code: str, message: str, field_name: str | None = None, needle: str = "",
             offset: int = 0) -> Problem:
        """A warning at `needle` (a whole word) or `offset` in the field's
        source, else at the field's start; without a field, at the file's."""
        line, col = 1, 1
        if field_name is not None:
            source = self.card.fields.get(field_name, "")
            match = re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", source) if needle else None
            offset = match.start() if match else offset
            before = source[:offset]
            line = self.card.field_lines.get(field_name, 1) + before.count("\n")
            col = offset - (before.rfind("\n") + 1) + 1
        return Problem(self.card.path, line, message, col, code, "warning")


def _count(text: str) -> int:
    return len(text.split())


def answer_too_long(card: CardText, limits: Limits) -> Iterator[Problem]:
    if card.key in ANSWER_TYPES and _count(card.text.get("Back", "")) > limits.answer_words:
        yield card.warn("W101", f"answer has {_count(card.text['Back'])} words (limit "
                                f"{limits.answer_words}): keep the answer short, move detail to "
                                "'% extra' or split the card", "Back")
    if card.is_cloze:
        first = card.card.note_type.first_field
        for number, answer in CLOZE_DELETION.findall(card.card.fields.get(first, "")):
            if _count(answer) > limits.answer_words:
                yield card.warn("W101", f"cloze c{number} hides {_count(answer)} words (limit "
                                        f"{limits.answer_words}): hide less, or split it", first)


CLAUSE_END = re.compile(r"[.;:!?()«»–—]")
CONJUNCTION = re.compile(r"\s(?:og|eller|samt|and|or)\s", re.I)
ITEM_WORDS = 3  # an enumerated item is short: "raus og tolerant", "skaffe venner"


def enumerates(text: str) -> bool:
    """'A, B og C' or 'A, B, C': three or more short items in one clause
    (the first may follow a lead-in: 'du legger bort X, smiler og Y')."""
    if "," not in text:
        return False
    for clause in CLAUSE_END.split(text):
        parts = clause.split(",")
        if len(parts) < 2:
            continue
        tail = CONJUNCTION.split(parts[-1])
        items = parts[1:-1] + tail
        if len(parts) + len(tail) - 1 >= 3 and (len(parts) >= 3 or len(tail) >= 2) \
                and all(0 < len(item.split()) <= ITEM_WORDS for item in items):
            return True
    return False


def list_in_answer(card: CardText, limits: Limits) -> Iterator[Problem]:
    if card.key not in ANSWER_TYPES:
        return
    html = card.html[card.card.note_type.fields.index("Back")]
    items = html.count("<li")
    if items >= 2:
        yield card.warn("W102", f"answer is a list of {items} items: hard to recall as one answer; "
                                "use a cloze card (one deletion per item) or split it", "Back")
    elif enumerates(card.text.get("Back", "")):
        yield card.warn("W102", "answer is an enumeration: hard to recall as one answer; "
                                "use a cloze card (one deletion per item) or split it", "Back")


def question_too_long(card: CardText, limits: Limits) -> Iterator[Problem]:
    for name, text in card.prompts[:1]:
        if _count(text) > limits.question_words:
            yield card.warn("W103", f"question has {_count(text)} words (limit "
                                    f"{limits.question_words}): ask one short thing", name)


def not_a_question(card: CardText, limits: Limits) -> Iterator[Problem]:
    text = card.text.get("Front", "").strip().rstrip("»”\"')]").rstrip()
    if card.key in QUESTION_TYPES and text and not text.endswith("?"):
        yield card.warn("W104", "the front is not a question: end it with '?' (or use type: "
                                "reversed for a term and its definition)", "Front")


def missing_source(card: CardText, limits: Limits) -> Iterator[Problem]:
    if not card.card.source:
        yield card.warn("W105", "no source: add `source:` to the front matter, so the fact can "
                                "be checked")


def no_tags(card: CardText, limits: Limits) -> Iterator[Problem]:
    if not card.card.tags:
        yield card.warn("W106", "no tags: add `tags: [...]` to the front matter")


CLOZE_DELETION = re.compile(r"\{\{c(\d+)::((?:(?!::|\}\}).)*)", re.S)


def too_many_clozes(card: CardText, limits: Limits) -> Iterator[Problem]:
    if not card.is_cloze:
        return
    first = card.card.note_type.first_field
    count = len(CLOZE_DELETION.findall(card.card.fields.get(first, "")))
    if count > limits.clozes:
        yield card.warn("W109", f"{count} cloze deletions (limit {limits.clozes}): split the note, "
                                "so each card asks for little", first)


def cloze_number_gap(card: CardText, limits: Limits) -> Iterator[Problem]:
    if not card.is_cloze:
        return
    numbers = card.card.cloze_numbers
    missing = sorted(set(range(1, max(numbers, default=0) + 1)) - numbers)
    if missing:
        found = ", ".join(f"c{n}" for n in sorted(numbers))
        yield card.warn("W110", f"cloze numbers skip {', '.join(f'c{n}' for n in missing)} "
                                f"(has {found}): renumber them, unless the note is out already "
                                "(its cards keep their review history by number)",
                        card.card.note_type.first_field)


IMG = re.compile(r"<img\b[^>]*>", re.I)
ALT = re.compile(r"""\balt\s*=\s*(["'])(.*?)\1""", re.I | re.S)
IMAGE_SOURCE = re.compile(r"!\[|<img\b", re.I)


def image_without_alt(card: CardText, limits: Limits) -> Iterator[Problem]:
    for name, html in zip(card.card.note_type.fields, card.html):
        if "<img" not in html:
            continue
        sources = [m.start() for m in IMAGE_SOURCE.finditer(card.card.fields.get(name, ""))]
        for index, tag in enumerate(IMG.findall(html)):
            alt = ALT.search(tag)
            if alt is None or not alt.group(2).strip():
                yield card.warn("W111", "image without alt text: describe it, e.g. "
                                        "![What it shows](file.png), for screen readers", name,
                                offset=sources[index] if index < len(sources) else 0)


CARD_RULES = (answer_too_long, list_in_answer, question_too_long, not_a_question, missing_source,
              no_tags, too_many_clozes, cloze_number_gap, image_without_alt)


TOKEN = re.compile(r"\w+")
SIMILAR_CANDIDATES = 8  # earlier prompts compared per shared key: keeps it linear


class Questions:
    """Every question (prompt) of the deck, hashed as it comes in (a
    compiled card's as it is taken in, while the workers compile the next),
    for duplicate_questions: its keys, and which keys more than one
    question has (most have none, and are never filed)."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, int, str, tuple[int, ...]]] = []  # path, line, words, keys
        self.seen: set[int] = set()
        self.recurring: set[int] = set()

    def add(self, path: str, prompts: tuple[tuple, ...]) -> None:
        for _, words_, line in prompts:
            if words_:
                keys = _question_keys(words_)
                self.recurring.update(self.seen.intersection(keys))
                self.seen.update(keys)
                self.asked.append((path, line, words_, keys))


def duplicate_questions(questions: Questions, limits: Limits) -> list[Problem]:
    """W107 for the same question (same words, case and punctuation aside),
    W108 for questions whose word sets differ by one word added, dropped or
    replaced (token Jaccard >= limits.similarity). A card points at the
    earliest such one before it (by path). Linear: every question has keys,
    a hash of its word set and of each set one word smaller
    (_question_keys), and only questions sharing a key are compared: each is
    filed under its keys that another question has too."""
    questions.seen.clear()  # all are in: only the keys that recur matter from here
    problems = []
    exact: dict[str, tuple[str, int]] = {}  # words -> (path, line) first asking
    filed: dict[int, list[tuple[int, frozenset, str, str]]] = {}  # key -> (order, words, path, path:line)
    order = 0
    for path, line, words_, keys in sorted(questions.asked, key=lambda asked: asked[0]):
        first_path, first_line = exact.setdefault(words_, (path, line))
        if first_path != path:
            problems.append(Problem(path, line, f"same question as {first_path}:{first_line}: merge "
                                    "the cards, or ask something distinct", 1, "W107", "warning"))
            continue
        keys = questions.recurring.intersection(keys)
        if not keys:
            continue
        bag = frozenset(words_.split())
        similar = _first_similar(bag, path, keys, filed, limits.similarity)
        if similar:
            problems.append(Problem(path, line, f"question nearly the same as {similar}: "
                                    "learners will mix up the answers; make them clearly "
                                    "different", 1, "W108", "warning"))
        order += 1
        entry = (order, bag, path, f"{path}:{line}")
        for key in keys:
            bucket = filed.get(key)
            if bucket is None:
                filed[key] = [entry]
            elif len(bucket) < SIMILAR_CANDIDATES:
                bucket.append(entry)
    return problems


def _question_keys(words_: str) -> tuple[int, ...]:
    """Hashes of a question's word set and of each set one word smaller, as
    XORs of its words' hashes: two questions one word apart share one.
    (Python's own string hashes, which differ between runs: keys are never
    kept, and questions are compared by their words, so no report depends
    on them.)"""
    hashes = {hash(word) for word in words_.split()}
    if len(hashes) < 3:  # a set of two is never similar to another (Jaccard at most 1/3)
        return ()
    whole = reduce(xor, hashes)
    return (whole, *(whole ^ h for h in hashes)) if len(hashes) >= 4 else (whole,)


def _first_similar(bag: frozenset, path: str, keys: set[int], filed: dict, threshold: float) -> str | None:
    """The earliest filed prompt sharing a key and similar enough, of another card."""
    size, found = len(bag), None
    for key in keys:
        for order, other_bag, other_path, where in filed.get(key, ()):
            if found is not None and order >= found[0]:
                break  # a bucket is in order
            shared = len(bag & other_bag)
            if other_path != path and shared >= threshold * (size + len(other_bag) - shared):
                found = order, where
                break
    return found[1] if found else None


KNOWN_CODES = sorted(set(RULES) - {ERROR_CODE})


def unknown_ignores(card: CardText) -> list[Problem]:
    return [card.warn("W100", _unknown_rule(code)) for code in card.card.ignore if code not in KNOWN_CODES]


def deck_unknown_ignores(config: DeckConfig) -> list[Problem]:
    return [Problem("deck.toml", 1, _unknown_rule(code), 1, "W100", "warning")
            for code in config.ignore if code not in KNOWN_CODES]


def _unknown_rule(code: str) -> str:
    return f"ignore names unknown rule '{code}' (known: {', '.join(KNOWN_CODES)})"


def format_text(report: Report, prefix: str = "") -> str:
    """ruff-style lines, then a summary. `prefix` leads every path: where the
    project is, seen from where the user stands."""
    lines = [f"{prefix}{p.path}:{p.line}:{p.col or 1}: {p.code} {p.message}" for p in report.problems]
    lines.append(summary(report))
    return "\n".join(lines)


def summary(report: Report) -> str:
    if not report.errors and not report.warnings:
        return f"All checks passed: {report.cards} cards."
    return (f"Found {report.errors} error(s) and {report.warnings} warning(s) in "
            f"{report.cards} cards.")


def format_json(report: Report, prefix: str = "") -> str:
    """The shape documented in the README ("Checking cards")."""
    return json.dumps({
        "version": 1,
        "cards": report.cards,
        "summary": {"errors": report.errors, "warnings": report.warnings},
        "skipped": [{"code": code, "rule": RULES[code], "reason": reason}
                    for code, reason in sorted(report.skipped.items())],
        "problems": [{
            "path": prefix + p.path, "line": p.line, "col": p.col or 1, "code": p.code,
            "rule": RULES.get(p.code, ""), "severity": p.severity,
            "message": p.message,
        } for p in report.problems],
    }, ensure_ascii=False, indent=2)


FORMATS = {"text": format_text, "json": format_json}
