"""Judge a package with Anki's own backend (the `anki` package from PyPI):
import it into a fresh collection, render every card, check media.

Imported lazily: `anki` is an optional extra, and heavy.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

STYLE = re.compile(r"<style>.*?</style>", re.S)
TAG = re.compile(r"<[^>]+>")
TEMPLATE_ERROR = re.compile(r"template has a problem|TemplateError|\{\{[^}]*\}\}", re.I)


@dataclass(frozen=True)
class RenderedCard:
    card_id: int
    note_guid: str
    deck: str
    notetype: str
    template: str
    question: str  # HTML as Anki renders it, without the <style> block
    answer: str


@dataclass
class Report:
    notes: int = 0
    cards: int = 0
    decks: list[str] = field(default_factory=list)
    notetypes: list[str] = field(default_factory=list)
    media: list[str] = field(default_factory=list)
    empty_cards: list[int] = field(default_factory=list)  # note ids
    render_errors: list[str] = field(default_factory=list)
    missing_media: list[str] = field(default_factory=list)
    rendered: list[RenderedCard] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        found = [f"render: {e}" for e in self.render_errors]
        found += [f"missing media: {m}" for m in self.missing_media]
        found += [f"empty card in note {n}" for n in self.empty_cards]
        if not self.cards:
            found.append("the package holds no cards")
        return found


def open_collection(folder: Path):
    from anki.collection import Collection

    return Collection(str(folder / "collection.anki2"))


def import_package(col, apkg: Path, update: str = "if_newer"):
    """Import as Anki desktop does with its default options."""
    from anki.collection import ImportAnkiPackageOptions, ImportAnkiPackageRequest
    from anki.import_export_pb2 import ImportAnkiPackageUpdateCondition as Condition

    condition = {
        "if_newer": Condition.IMPORT_ANKI_PACKAGE_UPDATE_CONDITION_IF_NEWER,
        "always": Condition.IMPORT_ANKI_PACKAGE_UPDATE_CONDITION_ALWAYS,
        "never": Condition.IMPORT_ANKI_PACKAGE_UPDATE_CONDITION_NEVER,
    }[update]
    options = ImportAnkiPackageOptions(
        merge_notetypes=False, update_notes=condition, update_notetypes=condition,
        with_scheduling=False, with_deck_configs=False,
    )
    return col.import_anki_package(ImportAnkiPackageRequest(package_path=str(apkg), options=options))


def inspect_collection(col) -> Report:
    """What a user of this collection would see, card by card."""
    report = Report()
    report.notes = col.note_count()
    card_ids = sorted(col.find_cards(""))
    report.cards = len(card_ids)
    report.decks = sorted(d.name for d in col.decks.all_names_and_ids() if d.id != 1 or col.decks.card_count(1, include_subdecks=False))
    report.notetypes = sorted(m["name"] for m in col.models.all() if col.models.use_count(m))
    report.media = sorted(p.name for p in Path(col.media.dir()).iterdir())
    check = col.media.check()
    report.missing_media = sorted(check.missing)
    report.empty_cards = sorted(n.note_id for n in col.get_empty_cards().notes)
    for card_id in card_ids:
        card = col.get_card(card_id)
        note = card.note()
        question = STYLE.sub("", card.question())
        answer = STYLE.sub("", card.answer())
        rendered = RenderedCard(
            card_id=card_id, note_guid=note.guid, deck=col.decks.name(card.did),
            notetype=note.note_type()["name"], template=card.template()["name"],
            question=question, answer=answer,
        )
        report.rendered.append(rendered)
        for side, text in (("front", question), ("back", answer)):
            if TEMPLATE_ERROR.search(TAG.sub("", text.replace("[[type:", ""))):
                report.render_errors.append(f"card {card_id} ({rendered.deck}): {side} shows a template error")
            elif not TAG.sub("", text).strip() and "<img" not in text:
                report.render_errors.append(f"card {card_id} ({rendered.deck}): {side} is blank")
    return report


def verify_package(apkg: Path) -> Report:
    """Import into a fresh temporary collection and report what Anki sees."""
    with tempfile.TemporaryDirectory() as folder:
        col = open_collection(Path(folder))
        try:
            import_package(col, apkg)
            return inspect_collection(col)
        finally:
            col.close()
