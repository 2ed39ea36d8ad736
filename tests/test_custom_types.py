"""Custom note types as files: `notetypes/<key>/` holds notetype.toml, one
pair of HTML templates per card template and style.css. They follow the
rules of the built-in types: Anki imports them as they are, a rename of a
field or template under the same id is refused, and `mod` moves only when
the type's content does."""

from pathlib import Path

import pytest

from conftest import card_text, write_project
from deckbuild.build import build
from deckbuild.custom_types import load_note_types, note_type_files
from deckbuild.lock import read_lock
from deckbuild.notetypes import CLOZE, NORMAL
from deckbuild.problems import ProjectError
from deckbuild.verify import import_package, open_collection, verify_package

V1, V2 = 1_700_000_000, 1_700_086_400

VOCAB_TOML = """\
id = 1700000000001
name = "Vocabulary"
kind = "normal"
fields = ["Word", "Meaning", "Back Extra"]
templates = ["Recognition", "Recall"]
required = ["Word", "Meaning"]
"""

VOCAB_FILES = {
    "notetype.toml": VOCAB_TOML,
    "Recognition.front.html": '<div class="word">{{Word}}</div>',
    "Recognition.back.html": "{{FrontSide}}<hr id=answer>{{Meaning}}<div>{{Back Extra}}</div>",
    "Recall.front.html": "{{Meaning}}",
    "Recall.back.html": "{{FrontSide}}<hr id=answer>{{Word}}",
    "style.css": "@font-face { font-family: Deck; src: url('_deck.woff'); }\n.word { font-family: Deck; }\n",
}

VOCAB_CARD = card_text("ord-1", """
    hus

    % meaning
    *house*

    % back extra
    et hus, huset
    """, type="vocab")


def write_type(root: Path, key: str, files: dict[str, str]) -> Path:
    folder = root / "notetypes" / key
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def vocab_project(tmp_path: Path) -> Path:
    root = write_project(tmp_path / "deck", {"ord.md": VOCAB_CARD}, {"_deck.woff": b"font"})
    write_type(root, "vocab", VOCAB_FILES)
    return root


def test_a_folder_becomes_a_note_type(vocab_project: Path):
    types, problems = load_note_types(vocab_project)
    assert problems == []
    vocab = types["vocab"]
    assert (vocab.id, vocab.name, vocab.kind) == (1700000000001, "Vocabulary", NORMAL)
    assert vocab.fields == ("Word", "Meaning", "Back Extra")
    assert [t.name for t in vocab.templates] == ["Recognition", "Recall"]
    assert vocab.templates[1].front == "{{Meaning}}"
    assert vocab.required == ("Word", "Meaning")
    assert "font-family: Deck" in vocab.css
    assert [m.name for m in vocab.media] == ["_deck.woff"]  # the font the CSS loads
    assert vocab.sections == {"meaning": "Meaning", "back extra": "Back Extra"}


def test_anki_imports_a_custom_type_with_its_cards_and_font(vocab_project: Path):
    result = build(vocab_project, now=V1)
    report = verify_package(result.path)
    assert report.problems == []
    assert report.notetypes == ["Vocabulary"]
    assert report.cards == 2  # one per template
    assert "_deck.woff" in report.media
    by_template = {c.template: c for c in report.rendered}
    assert '<div class="word">hus</div>' in by_template["Recognition"].question
    assert "<em>house</em>" in by_template["Recognition"].answer
    assert "et hus, huset" in by_template["Recognition"].answer  # `% back extra`
    assert by_template["Recall"].question.strip().endswith("<em>house</em>")


def test_a_custom_cloze_type(tmp_path: Path):
    root = write_project(tmp_path / "deck", {"c.md": card_text("c-1", """
        Oslo er {{c1::hovedstaden}} i {{c2::Norge}}.

        % notes
        Fra 1814.
        """, type="lueke")})
    write_type(root, "lueke", {
        "notetype.toml": 'id = 1700000000002\nname = "Lueke"\nkind = "cloze"\n'
                         'fields = ["Text", "Notes"]\ntemplates = ["Cloze"]\n',
        "Cloze.front.html": "{{cloze:Text}}",
        "Cloze.back.html": "{{cloze:Text}}<br>{{Notes}}",
    })
    types, _ = load_note_types(root)
    assert types["lueke"].kind == CLOZE and types["lueke"].required == ("Text",)
    report = verify_package(build(root, now=V1).path)
    assert report.problems == [] and report.cards == 2


def test_files_written_for_a_type_load_back_to_the_same_type(tmp_path: Path, vocab_project: Path):
    vocab = load_note_types(vocab_project)[0]["vocab"]
    tricky = type(vocab)(**{**vocab.__dict__, "name": 'Ord "på" norsk \\ del\x7f 2', "key": "tricky", "media": ()})
    write_type(tmp_path, "tricky", note_type_files(tricky))
    assert load_note_types(tmp_path) == ({"tricky": tricky}, [])


def problems_for(root: Path) -> list[str]:
    with pytest.raises(ProjectError) as err:
        build(root, now=V1)
    return [str(p) for p in err.value.problems]


BAD = {
    "invalid TOML": ({"notetype.toml": 'id = 1\nname = "x\n'}, "notetypes/bad/notetype.toml:2: invalid TOML"),
    "unknown key": ({"notetype.toml": VOCAB_TOML + "colour = 1\n"},
                    "notetypes/bad/notetype.toml:7: unknown setting 'colour'"),
    "no id": ({"notetype.toml": VOCAB_TOML.replace("id = 1700000000001", "id = 'x'")},
              "notetypes/bad/notetype.toml:1: 'id' must be a positive whole number"),
    "field twice": ({"notetype.toml": VOCAB_TOML.replace('"Back Extra"', '"word"')},
                    "notetypes/bad/notetype.toml:4: 'Word' appears twice in fields"),
    "bad field name": ({"notetype.toml": VOCAB_TOML.replace('"Back Extra"', '"Back:Extra"')},
                       "notetypes/bad/notetype.toml:4: 'Back:Extra' can't be one of the fields"),
    "required not a field": ({"notetype.toml": VOCAB_TOML.replace('required = ["Word", "Meaning"]',
                                                                  'required = ["Ord"]')},
                             "notetypes/bad/notetype.toml:6: 'required' must list some of the fields"),
    "bad kind": ({"notetype.toml": VOCAB_TOML.replace('"normal"', '"flip"')},
                 "notetypes/bad/notetype.toml:3: 'kind' must be \"normal\" or \"cloze\""),
    "cloze with two templates": ({"notetype.toml": VOCAB_TOML.replace('"normal"', '"cloze"')},
                                 "notetypes/bad/notetype.toml:5: a cloze note type has exactly one template"),
    "missing template": ({"Recall.back.html": None}, "notetypes/bad/Recall.back.html:0: missing template file"),
    "stray template": ({"Reverse.front.html": "{{Word}}"},
                       "notetypes/bad/Reverse.front.html:0: 'Reverse' is not a template listed in notetype.toml"),
    "no settings": ({"notetype.toml": None}, "notetypes/bad/notetype.toml:0: missing"),
    "builtin id": ({"notetype.toml": VOCAB_TOML.replace("1700000000001", "1213404095")},
                   "notetypes/bad/notetype.toml:1: id 1213404095 is already used by built-in type 'basic'"),
    "builtin name": ({"notetype.toml": VOCAB_TOML.replace('"Vocabulary"', '"basic (BUILD-DECK)"')},
                     "notetypes/bad/notetype.toml:2: name 'basic (BUILD-DECK)' is already used by built-in type 'basic'"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_note_type_files_are_reported_with_path_and_line(tmp_path: Path, case: str):
    changes, expected = BAD[case]
    root = write_project(tmp_path / "deck", {"ord.md": VOCAB_CARD.replace("vocab", "bad")})
    folder = write_type(root, "bad", {k: v for k, v in {**VOCAB_FILES, **changes}.items() if v is not None})
    for name, text in changes.items():
        if text is None:
            (folder / name).unlink(missing_ok=True)
    assert any(p.startswith(expected) for p in problems_for(root)), problems_for(root)
    assert not (root / "dist").exists()


def test_a_folder_named_like_a_builtin_type_is_refused(tmp_path: Path):
    root = write_project(tmp_path / "deck", {"a.md": card_text("a", "Q?\n% back\nA")})
    write_type(root, "basic", {**VOCAB_FILES})
    assert "notetypes/basic:0: 'basic' is a built-in type: rename the folder" in problems_for(root)


def test_two_custom_types_cannot_share_an_id(vocab_project: Path):
    write_type(vocab_project, "vocab2", {**VOCAB_FILES, "notetype.toml": VOCAB_TOML.replace("Vocabulary", "Other")})
    assert ("notetypes/vocab2/notetype.toml:1: id 1700000000001 is already used by notetypes/vocab"
            in problems_for(vocab_project))


def test_renaming_a_field_under_the_same_id_is_refused(vocab_project: Path):
    build(vocab_project, now=V1)
    settings = vocab_project / "notetypes" / "vocab" / "notetype.toml"
    settings.write_text(settings.read_text().replace('"Meaning"', '"Betydning"'))
    card = vocab_project / "cards" / "ord.md"
    card.write_text(card.read_text().replace("% meaning", "% betydning"))
    [message] = problems_for(vocab_project)
    assert "note type 'Vocabulary' (id 1700000000001) changed its fields or templates" in message


def test_mod_moves_only_when_the_type_changes_and_anki_updates_it_in_place(vocab_project: Path, tmp_path: Path):
    type_id = "1700000000001"
    col = open_collection(tmp_path)
    try:
        import_package(col, build(vocab_project, now=V1).path)
        assert read_lock(vocab_project / "build-deck.lock")[0].notetypes[type_id].mod == V1
        build(vocab_project, now=V2)
        assert read_lock(vocab_project / "build-deck.lock")[0].notetypes[type_id].mod == V1

        css = vocab_project / "notetypes" / "vocab" / "style.css"
        css.write_text(css.read_text() + ".word { color: teal; }\n")
        import_package(col, build(vocab_project, now=V2).path)
        assert read_lock(vocab_project / "build-deck.lock")[0].notetypes[type_id].mod == V2
        [model] = [m for m in col.models.all() if m["name"].startswith("Vocabulary")]
        assert model["name"] == "Vocabulary" and model["id"] == int(type_id)  # no fork
        assert "color: teal" in model["css"]
        assert col.note_count() == 1
    finally:
        col.close()
