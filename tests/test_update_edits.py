"""Each common edit, judged by Anki's backend: a student imports v1 and
reviews every card, the author makes one edit and rebuilds, the student
imports v2 with Anki's default options. Every review is kept, the edit
arrives, nothing is duplicated, no card is empty, no note type forks.

Retiring a card is here too: what `retired: true` does in a collection,
and what deleting or suspending retired cards does on the next import."""

import dataclasses
from pathlib import Path

import pytest

from conftest import card_text
from deckbuild.build import build
from deckbuild.notetypes import BUILTIN, Template
from deckbuild.verify import import_package, open_collection
from test_update import V1, V2, review_every_card, snapshot, student  # noqa: F401 (fixture)

HISTORY = ("card_id", "note_id", "type", "queue", "due", "ivl", "reps", "revlog")
V3 = V2 + 86_400


def import_edit(project: Path, col, edit) -> tuple[dict, dict]:
    """v1 imported and reviewed, `edit(project)`, v2 imported: the student's
    cards before and after."""
    import_package(col, build(project, now=V1).path)
    review_every_card(col)
    before = snapshot(col)
    edit(project)
    import_package(col, build(project, now=V2).path)
    return before, snapshot(col)


def assert_safe(col, before: dict, after: dict, new_cards: int = 0) -> None:
    """Reviews kept, nothing duplicated, no empty card, no forked note type."""
    assert set(before) <= set(after) and len(after) == len(before) + new_cards
    for key, old in before.items():
        for history in HISTORY:
            assert after[key][history] == old[history], (key, history)
    assert col.note_count() == len({s["note_id"] for s in after.values()}) == 4
    assert col.get_empty_cards().notes == []
    col.models._clear_cache()
    assert sorted(m["name"] for m in col.models.all() if "build-deck" in m["name"]) == sorted(
        t.name for t in BUILTIN.values())


def changed(before: dict, after: dict) -> set:
    return {key for key in before if after[key]["note_mod"] != before[key]["note_mod"]}


def rewrite(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def edit_plain_card(project: Path, col, old: str, new: str) -> dict:
    """Replace `old` by `new` in one card file: safe, and only its note
    changed. Its card as the student has it after the import."""
    plain = project / "cards" / "plain.md"
    before, after = import_edit(project, col, lambda _: rewrite(plain, old, new))
    assert_safe(col, before, after)
    [key] = changed(before, after)
    return after[key]


def test_edited_text_arrives_and_only_that_note_changes(fixture_project, student):
    card = edit_plain_card(fixture_project, student, "Alt som **øker**", "Alt som **direkte øker**")
    assert "Alt som <strong>direkte øker</strong>" in card["fields"][1]


def test_a_renamed_file_is_the_same_untouched_note(fixture_project, student):
    cards = fixture_project / "cards"
    before, after = import_edit(fixture_project, student,
                                lambda _: (cards / "plain.md").rename(cards / "verdikjeden.md"))
    assert_safe(student, before, after)
    assert after == before


def test_a_moved_file_keeps_its_cards_where_students_have_them(fixture_project, student, tmp_path):
    """Anki's importer never moves an existing card to another deck; a moved
    file's cards land in the new subdeck for students importing afresh."""
    cards = fixture_project / "cards"
    before, after = import_edit(fixture_project, student, lambda _: (cards / "Del 1" / "reversed.md").rename(
        cards / "Del 2" / "reversed.md"))
    assert_safe(student, before, after)
    assert after == before
    moved = [c for c in student.find_cards('"Front:Sosialfella"')]
    assert {student.decks.name(student.get_card(c).did) for c in moved} == {"Test deck::Del 1"}

    (tmp_path / "fresh").mkdir()
    fresh = open_collection(tmp_path / "fresh")  # a student importing for the first time
    import_package(fresh, fixture_project / "dist" / "test-deck.apkg")
    assert {fresh.decks.name(fresh.get_card(c).did) for c in fresh.find_cards('"Front:Sosialfella"')} == {
        "Test deck::Del 2"}
    fresh.close()


def test_changed_tags_arrive(fixture_project, student):
    card = edit_plain_card(fixture_project, student, "tags: [salg, verdi]", "tags: [salg, kjede]")
    assert sorted(student.get_note(card["note_id"]).tags) == ["kjede", "salg"]


def test_an_added_cloze_deletion_makes_one_new_card_to_learn(fixture_project, student):
    cloze = fixture_project / "cards" / "Del 1" / "Kapittel" / "cloze.md"
    before, after = import_edit(fixture_project, student,
                                lambda _: rewrite(cloze, "og {{c2::snake_case_ord}}",
                                                  "og {{c2::snake_case_ord}} i {{c3::salget}}"))
    assert_safe(student, before, after, new_cards=1)
    [(guid, ord_)] = set(after) - set(before)
    assert ord_ == 2 and after[(guid, ord_)]["type"] == 0  # a new card, to learn
    card = student.get_card(after[(guid, ord_)]["card_id"])
    assert "[...]" in card.question() and "salget" in card.answer()
    assert student.decks.name(card.did) == "Test deck::Del 1::Kapittel"


def with_basic(monkeypatch, **changes) -> None:
    """Build with the Basic note type changed, as a new version of the tool would."""
    monkeypatch.setitem(BUILTIN, "basic", dataclasses.replace(BUILTIN["basic"], **changes))


def basic_type(col) -> dict:
    col.models._clear_cache()  # Python's copy of note types; Anki's own windows reload them
    [model] = [m for m in col.models.all() if m["name"] == "Basic (build-deck)"]
    return model


def test_changed_css_updates_the_note_type_in_place(fixture_project, student, monkeypatch):
    css = BUILTIN["basic"].css + "\n.prompt { letter-spacing: 0.02em; }\n"
    before, after = import_edit(fixture_project, student, lambda _: with_basic(monkeypatch, css=css))
    assert_safe(student, before, after)
    assert after == before  # the notes themselves did not change
    model = basic_type(student)
    assert model["id"] == BUILTIN["basic"].id and "letter-spacing: 0.02em" in model["css"]
    assert "letter-spacing" in student.get_card(student.find_cards('"note:Basic (build-deck)"')[0]).question()


def test_a_changed_template_updates_the_note_type_in_place(fixture_project, student, monkeypatch):
    [card_1] = BUILTIN["basic"].templates
    template = Template(card_1.name, card_1.front.replace('<div class="prompt">', '<div class="prompt v2">'),
                        card_1.back)
    before, after = import_edit(fixture_project, student,
                                lambda _: with_basic(monkeypatch, templates=(template,)))
    assert_safe(student, before, after)
    assert after == before
    model = basic_type(student)
    assert model["id"] == BUILTIN["basic"].id and 'class="prompt v2"' in model["tmpls"][0]["qfmt"]
    assert 'class="prompt v2"' in student.get_card(student.find_cards('"note:Basic (build-deck)"')[0]).question()


def test_renamed_template_fields_are_refused_before_they_fork(fixture_project, monkeypatch):
    from deckbuild.problems import ProjectError

    build(fixture_project, now=V1)
    [card_1] = BUILTIN["basic"].templates
    with_basic(monkeypatch, templates=(dataclasses.replace(card_1, name="Forward"),))
    with pytest.raises(ProjectError) as refused:
        build(fixture_project, now=V2)
    assert "note type 'Basic (build-deck)' (id 1213404095) changed its fields or templates" in str(
        refused.value.problems[0].message)


# --- retired cards ---------------------------------------------------------

def retire(project: Path) -> None:
    rewrite(project / "cards" / "plain.md", "source: Test source", "source: Test source\nretired: true")


def test_a_retired_card_keeps_shipping_tagged_retired(fixture_project, student):
    before, after = import_edit(fixture_project, student, retire)
    assert_safe(student, before, after)
    [note_id] = student.find_notes("tag:retired")  # the one search the README gives
    assert sorted(student.get_note(note_id).tags) == ["retired", "salg", "verdi"]
    assert {after[key]["note_id"] for key in changed(before, after)} == {note_id}  # only the tag


def test_retired_cards_deleted_come_back_while_the_deck_ships_them(fixture_project, student):
    """What the README tells students: deleting retired notes is undone by
    the next import that still ships them; suspending them lasts."""
    import_edit(fixture_project, student, retire)
    student.remove_notes(student.find_notes("tag:retired"))
    assert student.note_count() == 3
    rewrite(fixture_project / "cards" / "Del 2" / "type.md", "Hvilken kjede", "Hvilken kjede i salget")
    import_package(student, build(fixture_project, now=V3).path)
    [back] = student.find_notes("tag:retired")
    assert student.note_count() == 4 and student.get_note(back).cards()[0].reps == 0  # new again


def test_suspended_retired_cards_stay_suspended_and_are_not_added_again(fixture_project, student):
    import_edit(fixture_project, student, retire)
    retired_cards = student.find_cards("tag:retired")
    student.sched.suspend_cards(retired_cards)
    rewrite(fixture_project / "cards" / "plain.md", "punkt to", "punkt tre")  # the retired card changes
    import_package(student, build(fixture_project, now=V3).path)
    assert student.note_count() == 4
    assert student.find_cards("tag:retired is:suspended") == retired_cards
    assert "punkt tre" in student.get_card(retired_cards[0]).answer()


def test_a_removed_card_is_named_by_build_and_stays_in_collections(fixture_project, student):
    import_package(student, build(fixture_project, now=V1).path)
    (fixture_project / "cards" / "plain.md").unlink()
    result = build(fixture_project, now=V2)
    assert result.removed == ["basic-1"]
    import_package(student, result.path)
    assert student.note_count() == 4  # Anki's importer never deletes
