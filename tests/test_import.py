"""`import`: a deck someone already reviews in Anki becomes a deck project
that builds back to the same notes.

The judge is Anki's own backend: a student's collection with Anki's stock
note types, a custom one, media and reviews is exported with Anki's exporter
(current and legacy format), imported, built unchanged and imported back
into that collection with the default options: nothing is added, updated,
duplicated or forked, and every review stays. Then one card file is edited
and exactly that note changes."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import genanki
import pytest

from conftest import REPO
from deckbuild.build import build
from deckbuild.cards import ID_PATTERN
from deckbuild.exported import read_package
from deckbuild.html_markdown import field_text
from deckbuild.importer import import_deck
from deckbuild.lock import read_lock
from deckbuild.problems import ProjectError
from deckbuild.verify import import_package, open_collection, verify_package

DECK = "Spansk"
NOTES = {  # first field -> (note type, other fields, subdeck)
    "hola <b>amigo</b>": ("Basic", ['hello <img src="pic 1.png">'], ""),
    "Tom &amp; Jerry": ("Basic (and reversed card)", ["<div>line 1</div><div>line 2</div>"], ""),
    "{{c1::comer}} is to {{c2::eat}}": ("Cloze", ["[sound:eat.mp3]"], "::Verb"),
    "perro": ("Vocab", ["dog", "El perro *ladra* 2*3*4"], ""),
    "gato": ("Vocab", ['<font color="red">cat</font>', "  padded  "], "::Dyr & ting"),
}


def make_collection(folder: Path):
    """A student's collection: stock types, a custom type with a font and a
    second template, media, subdecks, tags, and some reviews."""
    folder.mkdir()
    col = open_collection(folder)
    basic = col.models.by_name("Basic")
    vocab = col.models.copy(basic, add=False)
    vocab["name"] = "Vocab"
    col.models.add_field(vocab, col.models.new_field("Example sentence"))
    reverse = col.models.new_template("Recall")
    reverse["qfmt"], reverse["afmt"] = "{{Back}}", "{{FrontSide}}<hr id=answer>{{Front}}"
    col.models.add_template(vocab, reverse)
    vocab["css"] += "\n@font-face { font-family: deck; src: url('_deck.woff'); }\n"
    col.models.add(vocab)
    for name, data in (("pic 1.png", b"PNG"), ("eat.mp3", b"MP3"), ("_deck.woff", b"WOFF")):
        (folder / name).write_bytes(data)
        col.media.add_file(str(folder / name))
    for first, (type_name, rest, subdeck) in NOTES.items():
        note = col.new_note(col.models.by_name(type_name))
        for index, value in enumerate([first] + rest):
            note.fields[index] = value
        note.tags = ["greet", "es::a"] if type_name == "Basic" else []
        col.add_note(note, col.decks.id(DECK + subdeck))
    col.decks.select(col.decks.id(DECK))
    for _ in range(4):
        col.sched.answerCard(col.sched.getCard(), 3)
    return col


def export(col, path: Path, legacy: bool) -> Path:
    from anki.collection import DeckIdLimit, ExportAnkiPackageOptions

    col.export_anki_package(out_path=str(path), limit=DeckIdLimit(col.decks.id(DECK)),
                            options=ExportAnkiPackageOptions(with_scheduling=False, with_media=True,
                                                             legacy=legacy, with_deck_configs=False))
    return path


def snapshot(col) -> dict:
    """Per card: the note as Anki holds it and the student's history."""
    state = {}
    for card_id in col.find_cards(""):
        card = col.get_card(card_id)
        note = card.note()
        state[card_id] = dict(
            note_id=note.id, guid=note.guid, note_mod=note.mod, fields=list(note.fields),
            tags=list(note.tags), notetype=note.mid, deck=card.did, ord=card.ord, type=card.type,
            queue=card.queue, due=card.due, ivl=card.ivl, reps=card.reps,
            revlog=col.db.list("select id from revlog where cid = ?", card_id),
        )
    return state


def note_types(col) -> list:
    """As stored (the Python layer caches note types)."""
    return col.db.all("select id, name, mtime_secs from notetypes order by id")


@pytest.fixture
def student(tmp_path: Path):
    col = make_collection(tmp_path / "student")
    yield col
    col.close()


def card_file(root: Path, word: str) -> Path:
    [path] = [p for p in (root / "cards").rglob("*.md") if f"\n{word}\n" in p.read_text()]
    return path


@pytest.mark.parametrize("legacy", [False, True], ids=["anki21b", "legacy"])
def test_round_trip_through_a_project_keeps_every_note_and_review(student, tmp_path: Path, legacy: bool):
    apkg = export(student, tmp_path / "spansk.apkg", legacy)
    assert ("collection.anki21" if legacy else "collection.anki21b") in zipfile.ZipFile(apkg).namelist()
    result = import_deck(apkg, tmp_path / "project")
    assert result.problems == [] and result.notes == len(NOTES)
    assert result.note_types == ["anki-basic", "anki-cloze", "basic-and-reversed-card", "vocab"]
    before = snapshot(student)
    types_before = note_types(student)

    first = build(tmp_path / "project")
    log = import_package(student, first.path).log
    assert (len(log.new), len(log.updated), len(log.conflicting)) == (0, 0, 0)
    assert len(log.duplicate) == len(NOTES)  # matched by GUID, not newer: left alone
    assert snapshot(student) == before
    assert note_types(student) == types_before

    word = card_file(tmp_path / "project", "perro")
    word.write_text(word.read_text().replace("% back\ndog", "% back\ndog (the animal)"))
    second = build(tmp_path / "project")
    log = import_package(student, second.path).log
    assert (len(log.new), len(log.updated)) == (0, 1)
    after = snapshot(student)
    changed = {s["note_id"] for card_id, s in after.items() if s != before[card_id]}
    perro = {s["note_id"]: s["fields"] for s in after.values() if s["fields"][0] == "perro"}
    assert changed == set(perro) and list(perro.values())[0][1] == "dog (the animal)"
    for card_id, old in before.items():  # reviews and scheduling untouched, also for perro
        assert {k: after[card_id][k] for k in ("due", "ivl", "reps", "revlog", "queue")} == \
               {k: old[k] for k in ("due", "ivl", "reps", "revlog", "queue")}
    assert note_types(student) == types_before  # not forked, not touched


def test_the_lock_starts_from_the_collections_own_mods_and_ids(student, tmp_path: Path):
    exported = read_package(export(student, tmp_path / "spansk.apkg", legacy=False))
    import_deck(tmp_path / "spansk.apkg", tmp_path / "project")
    lock = read_lock(tmp_path / "project" / "build-deck.lock")[0]
    assert sorted((s.mod, s.added) for s in lock.notes.values()) == sorted((n.mod, n.id) for n in exported.notes)
    assert {int(k): s.mod for k, s in lock.notetypes.items()} == {i: t.mod for i, t in exported.note_types.items()}
    build(tmp_path / "project")
    assert read_lock(tmp_path / "project" / "build-deck.lock")[0] == lock  # unchanged: same stamps


def test_project_files_keep_guids_tags_decks_types_and_media(student, tmp_path: Path):
    result = import_deck(export(student, tmp_path / "spansk.apkg", legacy=False), tmp_path / "project")
    root = result.root
    assert (root / "deck.toml").read_text().splitlines()[1:] == [
        'name = "Spansk"', 'namespace = "spansk"',
        "trusted_html = true  # the deck's HTML is kept exactly as Anki had it"]
    hola = card_file(root, "hola <b>amigo</b>").read_text()
    assert "\ntype: anki-basic\ntags: [\"es::a\", greet]\n---\nhola <b>amigo</b>\n" in hola
    assert 'hello <img src="pic-1.png">' in hola  # renamed to the flat name a build packs
    assert {p.name for p in (root / "media").iterdir()} == {"pic-1.png", "eat.mp3", "_deck.woff"}
    assert [w.message for w in result.warnings if w.path == "media/pic-1.png"]
    assert card_file(root, "{{c1::comer}} is to {{c2::eat}}").parent.name == "Verb"
    assert "\ndeck: \"Dyr & ting\"\n" not in card_file(root, "gato").read_text()  # a folder holds it
    assert card_file(root, "gato").parent.name == "Dyr & ting"
    perro = card_file(root, "perro").read_text()
    assert "\n% example sentence\nEl perro \\*ladra\\* 2\\*3\\*4\n" in perro  # Markdown, escaped
    tom = card_file(root, "Tom & Jerry").read_text()  # readable Markdown, same HTML
    assert "\nhtml: [Back]\n" in tom and "<div>line 1</div><div>line 2</div>" in tom
    vocab = root / "notetypes" / "vocab"
    assert sorted(p.name for p in vocab.iterdir()) == [
        "Card 1.back.html", "Card 1.front.html", "Recall.back.html", "Recall.front.html",
        "notetype.toml", "style.css"]
    assert "_deck.woff" in (vocab / "style.css").read_text()
    for path in (root / "cards").rglob("*.md"):
        card_id = path.read_text().split("\n")[1].removeprefix("id: ")
        assert ID_PATTERN.match(card_id)
    [padded] = [w for w in result.warnings if w.path.startswith("cards/")]  # "  padded  "
    assert padded.path == "cards/Dyr & ting/gato.md" and "'Example sentence'" in padded.message


def test_a_custom_type_edited_in_its_files_updates_in_place(student, tmp_path: Path):
    import_deck(export(student, tmp_path / "spansk.apkg", legacy=False), tmp_path / "project")
    css = tmp_path / "project" / "notetypes" / "vocab" / "style.css"
    css.write_text(css.read_text() + ".card { color: teal; }\n")
    before = note_types(student)
    import_package(student, build(tmp_path / "project").path)
    after = note_types(student)
    assert [t[:2] for t in after] == [t[:2] for t in before]  # same ids and names: no fork
    [(vocab_id, _, mod)] = [t for t in after if t[1] == "Vocab"]
    assert mod > dict((t[0], t[2]) for t in before)[vocab_id]
    card = student.get_card(student.find_cards("note:Vocab")[0])
    assert "color: teal" in card.question() and card.template()["name"] in ("Card 1", "Recall")


def test_genanki_decks_import_too(tmp_path: Path):
    model = genanki.Model(1607392319, "Word pair", fields=[{"name": "Word"}, {"name": "Meaning"}],
                          templates=[{"name": "Card 1", "qfmt": "{{Word}}", "afmt": "{{Meaning}}"}],
                          css=".card { font-size: 30px; }")
    deck = genanki.Deck(2059400110, "Ord")
    deck.add_note(genanki.Note(model=model, fields=["hus", "<i>house</i>"], tags=["a"], guid="hus-1"))
    deck.add_note(genanki.Note(model=model, fields=["bil", "car"]))
    (tmp_path / "sound.mp3").write_bytes(b"MP3")
    package = genanki.Package(deck, media_files=[str(tmp_path / "sound.mp3")])
    package.write_to_file(tmp_path / "ord.apkg")

    result = import_deck(tmp_path / "ord.apkg", tmp_path / "project")
    assert result.problems == [] and result.note_types == ["word-pair"]
    assert "\nid: hus-1\nguid: hus-1\n" in (tmp_path / "project" / "cards" / "hus.md").read_text()
    report = verify_package(build(tmp_path / "project").path)
    assert report.problems == [] and report.notetypes == ["Word pair"] and report.notes == 2
    assert {c.note_guid for c in report.rendered} >= {"hus-1"}


def test_a_build_deck_package_comes_back_as_markdown_with_builtin_types(tmp_path: Path):
    shipped = build(_copy_shipped(tmp_path / "shipped")).path
    result = import_deck(shipped, tmp_path / "project")
    assert result.problems == [] and result.warnings == []
    assert result.note_types == ["basic", "cloze", "reversed", "type-in"]
    assert not (tmp_path / "project" / "notetypes").exists()
    texts = [p.read_text() for p in (tmp_path / "project" / "cards").rglob("*.md")]
    assert not any("\nhtml:" in t for t in texts)  # every field is plain Markdown again
    again = read_package(build(tmp_path / "project").path)
    original = read_package(shipped)
    assert {n.guid: n.fields for n in again.notes} == {n.guid: n.fields for n in original.notes}


def _copy_shipped(root: Path) -> Path:
    for name in ("cards", "media"):
        shutil.copytree(REPO / name, root / name)
    shutil.copy(REPO / "deck.toml", root / "deck.toml")
    return root


def test_anki_notes_text_export_maps_stock_types_to_builtin_ones(student, tmp_path: Path):
    from anki.collection import NoteIdsLimit

    stock = [n for n in student.find_notes("") if student.get_note(n).note_type()["name"] != "Vocab"]
    student.export_note_csv(out_path=str(tmp_path / "notes.txt"), limit=NoteIdsLimit(stock),
                            with_html=True, with_tags=True, with_deck=True, with_notetype=True, with_guid=True)
    result = import_deck(tmp_path / "notes.txt", tmp_path / "project")
    assert result.note_types == ["basic", "cloze", "reversed"]
    assert not (tmp_path / "project" / "build-deck.lock").exists()  # no mods to start from
    assert {p.message for p in result.problems} == {"media file not found: media/pic 1.png",
                                                    "media file not found: media/eat.mp3"}
    (tmp_path / "project" / "media").mkdir()
    for name in ("pic 1.png", "eat.mp3"):
        shutil.copy(tmp_path / "student" / name, tmp_path / "project" / "media" / name)
    report = verify_package(build(tmp_path / "project").path)
    assert report.problems == [] and report.notes == 3
    guids = {student.get_note(n).guid for n in stock}
    assert {c.note_guid for c in report.rendered} == guids


def test_fields_become_the_most_readable_text_that_renders_back_exactly():
    assert field_text("hola amigo", trusted=False).text == "hola amigo"
    assert field_text("Tom &amp; Jerry", trusted=False).text == "Tom & Jerry"
    assert field_text("<p>One</p>\n<ul>\n<li><strong>two</strong></li>\n</ul>", trusted=False).text == \
        "One\n\n- **two**"
    kept = field_text("hola <b>amigo</b>", trusted=False)
    assert (kept.text, kept.html) == ("hola <b>amigo</b>", False)  # inline HTML is Markdown too
    raw = field_text("<div>a</div><div>b</div>", trusted=True)
    assert (raw.text, raw.html, raw.exact) == ("<div>a</div><div>b</div>", True, True)
    padded = field_text(" a ", trusted=True, fits=lambda text: text == text.strip())
    assert (padded.text, padded.exact) == ("a", False)


def test_what_cannot_become_one_project_is_refused(tmp_path: Path):
    (tmp_path / "bad.apkg").write_bytes(b"not a zip")
    with pytest.raises(ProjectError) as err:
        import_deck(tmp_path / "bad.apkg", tmp_path / "project")
    assert "not a readable .apkg" in err.value.problems[0].message

    model = genanki.Model(1607392320, "M", fields=[{"name": "F"}], templates=[{"name": "C", "qfmt": "{{F}}", "afmt": "{{F}}"}])
    decks = [genanki.Deck(2059400111 + i, name) for i, name in enumerate(["A", "B"])]
    for deck in decks:
        deck.add_note(genanki.Note(model=model, fields=[deck.name]))
    genanki.Package(decks).write_to_file(tmp_path / "two.apkg")
    with pytest.raises(ProjectError) as err:
        import_deck(tmp_path / "two.apkg", tmp_path / "project")
    assert "several top-level decks (A, B)" in err.value.problems[0].message
    assert not (tmp_path / "project").exists()

    slashed = genanki.Model(1607392321, "Slashed", fields=[{"name": "F"}],
                            templates=[{"name": "Front/Back", "qfmt": "{{F}}", "afmt": "{{F}}"}])
    deck = genanki.Deck(2059400120, "C")
    deck.add_note(genanki.Note(model=slashed, fields=["x"]))
    genanki.Package(deck).write_to_file(tmp_path / "slashed.apkg")
    with pytest.raises(ProjectError) as err:
        import_deck(tmp_path / "slashed.apkg", tmp_path / "project")
    assert str(err.value.problems[0]).startswith("Slashed:0: template 'Front/Back' can't be a file name")


def test_cli_import_writes_a_project_that_builds(student, tmp_path: Path):
    apkg = export(student, tmp_path / "spansk.apkg", legacy=True)
    run = subprocess.run([sys.executable, str(REPO / "build_deck.py"), "import", str(apkg)],
                         capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == ("5 notes, note types: anki-basic, anki-cloze, basic-and-reversed-card, "
                                  "vocab, 3 media files: wrote spansk/")
    assert "spansk/media/pic-1.png:0: renamed from 'pic 1.png'" in run.stderr
    again = subprocess.run([sys.executable, str(REPO / "build_deck.py"), "import", str(apkg)],
                           capture_output=True, text=True, cwd=tmp_path)
    assert again.returncode == 1 and "already holds a deck project" in again.stderr
    built = subprocess.run([sys.executable, str(REPO / "build_deck.py"), "build", "--root", "spansk"],
                           capture_output=True, text=True, cwd=tmp_path)
    assert built.returncode == 0, built.stderr
