"""The shipped deck, Salg og service: its content invariants, and that
Anki's backend imports it with no problem."""

import re
import unicodedata
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

from conftest import REPO
from deckbuild.build import build, load_project, render_project
from deckbuild.verify import verify_package

ELLINGSEN = "Kay Ellingsen: «Det er summen av de små valgene du gjør»"
KUNDERELASJONER = "«Hvordan skape gode kunderelasjoner?»"
SUBDECK_SOURCE = {"Små valg i salg og service": ELLINGSEN, "Gode kunderelasjoner": KUNDERELASJONER}
MAX_ANSWER_WORDS = 20


@pytest.fixture(scope="module")
def project():
    project, problems = load_project(REPO)
    assert problems == []
    return project


def plain(text: str) -> str:
    text = re.sub(r"\{\{c\d+::(.*?)(?:::[^}]*)?\}\}", r"\1", text)
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)
    return " ".join(re.sub(r"[*_`#>]", "", text).split())


def test_deck_builds_and_anki_imports_it_cleanly(shipped_deck):
    result = build(shipped_deck)
    report = verify_package(result.path)
    assert report.problems == []
    assert 40 <= report.notes <= 100
    assert report.decks == ["Salg og service", "Salg og service::Gode kunderelasjoner",
                            "Salg og service::Små valg i salg og service"]
    assert set(report.notetypes) == {"Basic (build-deck)", "Basic and reversed (build-deck)",
                                     "Cloze (build-deck)", "Type-in answer (build-deck)"}
    assert report.media == sorted(p.name for p in (REPO / "media").iterdir())


def test_committed_lock_matches_the_cards(shipped_deck):
    """The lock in git is up to date: building changes nothing in it."""
    before = (shipped_deck / "build-deck.lock").read_text()
    build(shipped_deck)
    assert (shipped_deck / "build-deck.lock").read_text() == before


def test_every_card_has_the_source_of_its_subdeck_and_tags(project):
    for card in project.cards:
        assert card.source == SUBDECK_SOURCE[card.deck[0]], card.path
        assert card.tags, card.path
        assert ("ellingsen" if card.source == ELLINGSEN else "kunderelasjoner") in card.tags


def test_description_credits_both_texts(project):
    description = project.config.description
    assert "Kay Ellingsen" in description and "Hvordan skape gode kunderelasjoner?" in description


def test_every_key_concept_has_a_card(project):
    texts = [plain(" ".join(card.fields.values())) for card in project.cards]
    missing = []
    for line in (REPO / "tests" / "concepts.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, pattern = (part.strip() for part in line.split("|", 1))
            if not any(re.search(pattern, text, re.I) for text in texts):
                missing.append(name)
    assert missing == []


def test_central_ideas_are_asked_both_ways_and_applied(project):
    tags = Counter()
    for card in project.cards:
        for tag in card.tags:
            tags[(tag, card.note_type.key)] += 1
    for idea in ("soppel", "sosialfella", "relasjonskompetanse", "eierskap", "julerushet"):
        assert tags[(idea, "reversed")] >= 1, idea
        assert any(tag == "scenario" for card in project.cards if idea in card.tags
                   for tag in card.tags), idea


def test_no_two_cards_ask_the_same_question(project):
    def key(card):
        return unicodedata.normalize("NFC", plain(card.fields[card.note_type.first_field])).casefold()

    counts = Counter(key(card) for card in project.cards)
    assert [q for q, n in counts.items() if n > 1] == []


def test_answers_are_short(project):
    for card in project.cards:
        answers = ([card.fields["Back"]] if "Back" in card.fields else
                   re.findall(r"\{\{c\d+::(.*?)(?:::[^}]*)?\}\}", card.fields["Text"]))
        for answer in answers:
            assert len(plain(answer).split()) <= MAX_ANSWER_WORDS, card.path
        if card.note_type.key == "type-in":
            assert len(card.fields["Back"].split()) <= 2, card.path


def test_questions_are_questions(project):
    for card in project.cards:
        if card.note_type.key in ("basic", "type-in"):
            assert card.fields["Front"].rstrip().endswith("?"), card.path


def test_every_type_is_used_for_its_job(project):
    kinds = Counter(card.note_type.key for card in project.cards)
    assert kinds["reversed"] >= 5 and kinds["cloze"] >= 10 and kinds["type-in"] >= 4


def test_pictures_are_self_contained_svgs_used_by_cards(project):
    notes, problems = render_project(project)
    used = {m.name for note in notes for m in note.media}
    for svg in (REPO / "media").glob("*.svg"):
        root = ET.parse(svg).getroot()
        assert root.get("viewBox"), svg.name
        text = svg.read_text(encoding="utf-8")
        assert "http://" not in text.replace("http://www.w3.org/", "") and "https://" not in text
        assert svg.name in used
