"""End to end: build a fixture deck with every note type, import it with
Anki's own backend, and check what a user sees."""

import os
import re
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import REPO, card_text, write_project
from deckbuild.build import build
from deckbuild.verify import verify_package

TAG = re.compile(r"<[^>]+>")


def text(html: str) -> str:
    return " ".join(TAG.sub(" ", html).split())


def test_fixture_deck_imports_cleanly_with_every_card_rendered(fixture_project):
    result = build(fixture_project, now=1_700_000_000)
    report = verify_package(result.path)

    assert report.problems == []
    assert (report.notes, report.cards) == (4, 6)
    assert report.decks == ["Test deck", "Test deck::Del 1", "Test deck::Del 1::Kapittel",
                            "Test deck::Del 2"]
    assert report.media == ["bilder-prikk.png"]
    for card in report.rendered:
        front, back = text(card.question), text(card.answer)
        assert front and back and front != back
        assert "Test source" in back and "Test source" not in front


def test_each_note_type_renders_as_anki_shows_it(fixture_project):
    cards = {(c.notetype, c.template, c.question.count("[...]")): c
             for c in verify_package(build(fixture_project).path).rendered}
    by_type = {}
    for card in cards.values():
        by_type.setdefault(card.notetype, []).append(card)

    [basic] = by_type["Basic (build-deck)"]
    assert "Hva er <em>verdikjeden</em>?" in basic.question
    assert "<strong>øker</strong>" in basic.answer and "<li>punkt en</li>" in basic.answer

    forward, backward = sorted(by_type["Basic and reversed (build-deck)"], key=lambda c: c.template)
    assert text(forward.question) == "Sosialfella"
    assert text(backward.question) == "Å bruke tid sosialt uten at det gir salg."
    assert "Sosialfella" in text(backward.answer)

    first, second = sorted(by_type["Cloze (build-deck)"], key=lambda c: c.card_id)
    assert "[kjede]" in first.question and "verdikjeden" not in text(first.question)
    assert "verdikjeden" in text(first.answer)
    assert "snake_case_ord" in text(first.question)  # the other deletion stays visible
    assert "[...]" in second.question and r"\(a_1 * b_2\)" in second.question
    assert '<img alt="En prikk" src="bilder-prikk.png">' in first.answer

    [typed] = by_type["Type-in answer (build-deck)"]
    assert "[[type:Back]]" in typed.question


def test_tags_and_guid_come_from_the_card_file(fixture_project, tmp_path):
    from deckbuild.verify import import_package, open_collection

    result = build(fixture_project)
    col = open_collection(tmp_path)
    import_package(col, result.path)
    note = col.get_note(col.find_notes('"Front:Hva er <em>verdikjeden</em>?"')[0])
    assert sorted(note.tags) == ["salg", "verdi"]
    import genanki
    assert note.guid == genanki.guid_for("test-deck", "basic-1")
    col.close()


def test_same_input_builds_byte_identical_packages(fixture_project):
    first = build(fixture_project).path.read_bytes()
    second = build(fixture_project).path.read_bytes()
    assert first == second


def test_package_is_compressed_with_flat_media_names(fixture_project):
    with zipfile.ZipFile(build(fixture_project).path) as apkg:
        infos = apkg.infolist()
        assert [i.filename for i in infos] == ["collection.anki2", "media", "0"]
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in infos)
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in infos)
        assert apkg.read("media") == b'{"0": "bilder-prikk.png"}'


def test_only_referenced_media_are_packed(fixture_project):
    (fixture_project / "media" / "unused.png").write_bytes(b"x")
    assert [m.name for m in build(fixture_project).media] == ["bilder-prikk.png"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_the_package_and_lock_get_the_permissions_of_a_new_file(tmp_path):
    """Readable by a web server or a colleague as the umask allows, not
    only by the author; a file's own permissions are kept when rebuilt."""
    root = write_project(tmp_path / "deck", {"a.md": card_text("a", "Q?\n% back\nA")})
    umask = os.umask(0o022)
    try:
        package = build(root).path
    finally:
        os.umask(umask)
    assert stat.S_IMODE(package.stat().st_mode) == 0o644
    assert stat.S_IMODE((root / "build-deck.lock").stat().st_mode) == 0o644
    package.chmod(0o640)
    (root / "cards" / "a.md").write_text(card_text("a", "Q?\n% back\nB"))
    assert stat.S_IMODE(build(root).path.stat().st_mode) == 0o640


def test_a_folder_with_only_cards_builds_with_defaults(tmp_path):
    root = write_project(tmp_path / "Min kortstokk", {"a.md": card_text("a", "Q?\n% back\nA")},
                         config=None)
    result = build(root)
    assert result.path == root / "dist" / "min-kortstokk.apkg"
    assert verify_package(result.path).decks == ["Min kortstokk"]


def test_cli_build_prints_a_summary(fixture_project):
    run = subprocess.run([sys.executable, str(REPO / "build_deck.py"), "build", "--root",
                          str(fixture_project)], capture_output=True, text=True, cwd=fixture_project)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "4 notes, 6 cards (1 basic, 2 cloze, 2 reversed, 1 type-in), 3 subdecks, 1 media files",
        "wrote dist/test-deck.apkg",
    ]


def test_cli_verify_uses_ankis_importer(fixture_project):
    build(fixture_project)
    run = subprocess.run([sys.executable, str(REPO / "build_deck.py"), "verify"],
                         capture_output=True, text=True, cwd=fixture_project)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("4 notes, 6 cards, 4 decks, 1 media files")


def test_new_writes_a_card_that_builds(fixture_project):
    run = subprocess.run([sys.executable, str(REPO / "build_deck.py"), "new", "cards/Del 2/ny.md",
                          "--type", "cloze"], capture_output=True, text=True, cwd=fixture_project)
    assert run.returncode == 0, run.stderr
    written = (fixture_project / "cards" / "Del 2" / "ny.md").read_text()
    assert re.search(r"^id: ny-[a-z2-9]{6}$", written, re.M)
    assert len(build(fixture_project).notes) == 5
