"""Update safety, judged by Anki's backend: a student imports v1, reviews
every card, the author edits and rebuilds, the student imports v2 with
Anki's default options. Nothing is lost, nothing is duplicated."""

from pathlib import Path

import pytest

from conftest import card_text
from deckbuild.build import build
from deckbuild.verify import import_package, open_collection

V1, V2 = 1_700_000_000, 1_700_086_400


def review_every_card(col) -> None:
    """Answer each card 'Easy' through the scheduler until none is due
    (siblings Anki buries for the day are unburied and answered too)."""
    col.decks.select(col.decks.id_for_name("Test deck"))
    for _ in range(200):
        card = col.sched.getCard()
        if card is None:
            buried = col.find_cards("is:buried")
            if not buried:
                return
            col.sched.unbury_cards(buried)
            continue
        col.sched.answerCard(card, 4)
    raise AssertionError("scheduler kept returning cards")


def snapshot(col) -> dict:
    """(guid, template ord) -> what the student's history is made of."""
    state = {}
    for card_id in col.find_cards(""):
        card = col.get_card(card_id)
        note = card.note()
        revlog = col.db.list("select id from revlog where cid = ?", card_id)
        state[(note.guid, card.ord)] = dict(
            card_id=card_id, note_id=note.id, note_mod=note.mod, fields=list(note.fields),
            type=card.type, queue=card.queue, due=card.due, ivl=card.ivl, reps=card.reps,
            revlog=revlog,
        )
    return state


@pytest.fixture
def student(tmp_path):
    col = open_collection(tmp_path)
    yield col
    col.close()


def test_edit_rename_add_keeps_every_review(fixture_project: Path, student):
    import_package(student, build(fixture_project, now=V1).path)
    review_every_card(student)
    before = snapshot(student)
    assert all(s["reps"] == 1 and s["revlog"] for s in before.values())

    cards = fixture_project / "cards"
    plain = cards / "plain.md"
    plain.write_text(plain.read_text().replace("Alt som **øker**", "Alt som **direkte øker**"))
    typed = cards / "Del 2" / "type.md"
    typed.write_text(typed.read_text().replace("Hvilken kjede", "Hvilken kjede i salget"))
    (cards / "Del 1" / "reversed.md").rename(cards / "Del 1" / "sosialfella.md")
    (cards / "ny.md").write_text(card_text("new-1", "Nytt spørsmål?\n% back\nNytt svar."))
    import_package(student, build(fixture_project, now=V2).path)
    after = snapshot(student)

    assert student.note_count() == 5  # one added, none duplicated
    assert set(before) < set(after) and len(after) == len(before) + 1
    for key, old in before.items():
        new = after[key]
        for history in ("card_id", "note_id", "type", "queue", "due", "ivl", "reps", "revlog"):
            assert new[history] == old[history], (key, history)
    changed = {key for key in before if after[key]["fields"] != before[key]["fields"]}
    changed_texts = [" ".join(after[key]["fields"]) for key in changed]
    assert len({after[key]["note_id"] for key in changed}) == 2
    assert any("direkte øker" in t for t in changed_texts)
    assert any("Hvilken kjede i salget" in t for t in changed_texts)
    for key in set(before) - changed:  # untouched notes, renamed file included
        assert after[key]["note_mod"] == before[key]["note_mod"]


def test_unchanged_rebuild_touches_nothing(fixture_project: Path, student):
    first = build(fixture_project, now=V1)
    import_package(student, first.path)
    before = snapshot(student)
    second = build(fixture_project, now=V2)
    assert second.path.read_bytes() == first.path.read_bytes()
    log = import_package(student, second.path).log
    assert len(log.updated) == 0 and len(log.new) == 0
    assert snapshot(student) == before


def test_edits_made_in_anki_survive_an_unrelated_rebuild(fixture_project: Path, student):
    import_package(student, build(fixture_project, now=V1).path)
    note = student.get_note(student.find_notes("Sosialfella")[0])
    note["Extra"] = "Min egen huskeregel"
    student.update_note(note)
    plain = fixture_project / "cards" / "plain.md"
    plain.write_text(plain.read_text().replace("punkt to", "punkt tre"))
    import_package(student, build(fixture_project, now=V2).path)
    assert student.get_note(note.id)["Extra"] == "Min egen huskeregel"
