"""`build_deck.py preview`: every card's front and back on one offline page,
rendered from the deck's own templates and CSS the way Anki renders them.

The faithfulness tests import the built deck with Anki's backend and compare
the preview with Anki's own rendering, card by card."""

from __future__ import annotations

import re
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from build_deck import app
from conftest import PNG, card_text, write_project
from deckbuild.build import build, load_project, render_project
from deckbuild.notetypes import BASIC, CLOZE_TYPE, REVERSED, TYPE_IN, Template
from deckbuild.preview import (
    TemplateError, as_reviewer_shows, build_preview, cloze_filter, encode_attribute,
    render_card, write_preview,
)
from deckbuild.verify import import_package, inspect_collection, open_collection


def squash(html: str) -> str:
    return " ".join(html.split())


def qa_fields(front: str, back: str, extra: str = "", source: str = "") -> dict[str, str]:
    return {"Front": front, "Back": back, "Extra": extra, "Source": source}


# The template engine, one feature at a time
# ----------------------------------------------------------------------------

def test_fields_and_frontside_fill_the_templates():
    question, answer = render_card(BASIC, qa_fields("Hva?", "Dette.", source="Boka"), 0)
    assert question == '<div class="prompt">Hva?</div>'
    assert answer.startswith(question + '\n<hr id="answer">\n<div class="answer">Dette.</div>')
    assert '<div class="source">Boka</div>' in answer


@pytest.mark.parametrize("extra", ["", "  ", "<br>", "<div></div>\n<br />"])
def test_a_section_for_an_empty_field_is_left_out(extra):
    _, answer = render_card(BASIC, qa_fields("Hva?", "Dette.", extra=extra), 0)
    assert 'class="extra"' not in answer and 'class="source"' not in answer


def test_reversed_cards_go_both_ways():
    fields = qa_fields("Sosialfella", "Å bruke tid sosialt")
    assert render_card(REVERSED, fields, 0)[0] == '<div class="prompt">Sosialfella</div>'
    assert render_card(REVERSED, fields, 1)[0] == '<div class="prompt">Å bruke tid sosialt</div>'


def test_a_template_naming_a_missing_field_is_an_error():
    broken = replace(BASIC, templates=(Template("Card 1", "{{Nope}}", "{{FrontSide}}"),))
    with pytest.raises(TemplateError, match=r"\{\{Nope\}\}: no such field"):
        render_card(broken, qa_fields("a", "b"), 0)


def test_cloze_front_hides_the_active_deletion_and_shows_the_others():
    text = "Søppel er {{c1::verdikjeden::kjede}} og {{c2::snake_case}}."
    assert cloze_filter(text, 1, question=True) == (
        'Søppel er <span class="cloze" data-cloze="verdikjeden" data-ordinal="1">[kjede]</span> og '
        '<span class="cloze-inactive" data-ordinal="2">snake_case</span>.')
    assert cloze_filter(text, 2, question=True) == (
        'Søppel er <span class="cloze-inactive" data-ordinal="1">verdikjeden</span> og '
        '<span class="cloze" data-cloze="snake&#x5F;case" data-ordinal="2">[...]</span>.')


def test_cloze_back_reveals_the_active_deletion():
    text = "Søppel er {{c1::verdikjeden::kjede}} og {{c2::snake_case}}."
    assert cloze_filter(text, 1, question=False) == (
        'Søppel er <span class="cloze" data-ordinal="1">verdikjeden</span> og '
        '<span class="cloze-inactive" data-ordinal="2">snake_case</span>.')


def test_nested_clozes_and_a_cloze_number_the_text_lacks():
    text = "a {{c1::b {{c2::c}} d}} e"
    assert cloze_filter(text, 2, question=True) == (
        'a <span class="cloze-inactive" data-ordinal="1">b <span class="cloze" data-cloze="c" '
        'data-ordinal="2">[...]</span> d</span> e')
    assert cloze_filter(text, 3, question=True) == ""


def test_cloze_content_in_data_cloze_is_encoded_like_anki():
    assert encode_attribute('<b>"Å" & ø</b>') == "&lt;b&gt;&quot;&#xC5;&quot;&#x20;&amp;&#x20;&#xF8;&lt;&#x2F;b&gt;"
    assert encode_attribute("€ ok") == "€&#x20;ok"  # beyond Latin-1 stays as is


def test_type_in_shows_a_box_on_the_front_and_the_expected_answer_on_the_back():
    fields = qa_fields("Hvilken kjede?", "<em>verdi</em>kjeden &amp; mer")
    question, answer = render_card(TYPE_IN, fields, 0)
    assert "[[type:Back]]" in question and "[[type:Back]]" in answer  # as Anki's backend leaves it

    question, answer = as_reviewer_shows(question, answer, TYPE_IN, fields)
    assert re.search(r'<input type=text id=typeans\s+style="font-family: \'Liberation Sans\'; '
                     r'font-size: 20px;">', question)
    assert "<code id=typeans>verdikjeden &amp; mer</code>" in answer
    assert "[[type:" not in question + answer


def test_sound_gets_a_player():
    question, _ = as_reviewer_shows("Hør: [sound:hei.mp3]", "", BASIC, qa_fields("", ""))
    assert question == 'Hør: <audio controls preload="none" src="hei.mp3"></audio>'


# The page
# ----------------------------------------------------------------------------

def preview_of(root: Path):
    project, problems = load_project(root)
    notes, render_problems = render_project(project)
    assert problems + render_problems == []
    preview, preview_problems = build_preview(project.config, notes)
    assert preview_problems == []
    return preview


def test_the_page_groups_cards_by_subdeck_with_tags_and_count(fixture_project):
    page = preview_of(fixture_project).html
    headings = re.findall(r"<h2>(.*?)</h2>", page)
    assert headings == ["Test deck", "Del 1", "Del 1 › Kapittel", "Del 2"]
    assert '<p id="card-count" aria-live="polite">6 cards</p>' in page
    assert re.findall(r'<option value="(\w+)">', page) == ["salg", "test", "verdi"]
    assert page.count('<article class="preview-card"') == 6
    assert 'data-tags="salg verdi"' in page


def test_each_side_is_a_card_with_the_deck_css(fixture_project):
    preview = preview_of(fixture_project)
    [(sheet, css)] = preview.stylesheets.items()
    assert css == BASIC.css == CLOZE_TYPE.css  # the deck's CSS, not a copy of it
    assert preview.html.count(f'<link rel="stylesheet" href="{sheet}">') == 12
    assert preview.html.count('<div class="card card1">') == 8  # 4 cards
    assert preview.html.count('<div class="card card2">') == 4  # reversed card 2, cloze 2


def test_the_page_loads_nothing_from_the_network(fixture_project):
    page = preview_of(fixture_project).html
    loaded = re.findall(r'<(?:link|script|img|audio|video|source)\b[^>]*\b(?:src|href)="([^"]*)"', page)
    assert loaded and all(not re.match(r"[a-z]+:|//", url) for url in loaded)


def test_write_preview_writes_the_page_assets_and_media(fixture_project):
    page, preview = write_preview(fixture_project)
    folder = fixture_project / "dist" / "preview"
    assert page == folder / "index.html"
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(["index.html", "_preview.css", "_preview.js", "bilder-prikk.png",
                            *preview.stylesheets])
    assert (folder / "bilder-prikk.png").read_bytes() == PNG
    assert 'src="bilder-prikk.png"' in page.read_text(encoding="utf-8")


def test_a_second_preview_leaves_no_stale_files(fixture_project):
    write_preview(fixture_project)
    (fixture_project / "cards" / "Del 1" / "Kapittel" / "cloze.md").unlink()
    write_preview(fixture_project)
    folder = fixture_project / "dist" / "preview"
    assert not (folder / "bilder-prikk.png").exists()
    assert [p.name for p in (fixture_project / "dist").iterdir()] == ["preview"]


def test_cli_preview_and_open(fixture_project, monkeypatch):
    opened = []
    monkeypatch.setattr("webbrowser.open", opened.append)
    result = CliRunner().invoke(app, ["preview", "--root", str(fixture_project), "--open"])
    assert result.exit_code == 0, result.output
    assert "6 cards, 1 media files: wrote" in result.output
    assert opened == [(fixture_project / "dist" / "preview" / "index.html").resolve().as_uri()]


def test_cli_preview_reports_problems_and_writes_nothing(tmp_path):
    root = write_project(tmp_path / "deck", {"bad.md": card_text("bad", "Hva?", type="nope")})
    result = CliRunner().invoke(app, ["preview", "--root", str(root)])
    assert result.exit_code == 1
    assert "cards/bad.md:3: unknown type 'nope'" in result.output
    assert not (root / "dist").exists()


def test_a_card_the_preview_cannot_render_is_a_problem(tmp_path):
    root = write_project(tmp_path / "deck", {"ord.md": card_text("ord-1", "hus\n\n% meaning\nhouse",
                                                                   type="hint")})
    folder = root / "notetypes" / "hint"
    folder.mkdir(parents=True)
    (folder / "notetype.toml").write_text('id = 1700000000002\nname = "Hint"\nkind = "normal"\n'
                                          'fields = ["Word", "Meaning"]\ntemplates = ["Card 1"]\n',
                                          encoding="utf-8")
    (folder / "Card 1.front.html").write_text("{{Word}} {{hint:Meaning}}", encoding="utf-8")
    (folder / "Card 1.back.html").write_text("{{FrontSide}}", encoding="utf-8")
    result = CliRunner().invoke(app, ["preview", "--root", str(root)])
    assert result.exit_code == 1
    assert "cards/ord.md:1: the preview cannot show card 1 of this note: " \
           "the preview does not render the 'hint' filter" in result.output


# Faithful: Anki's backend renders every card the same
# ----------------------------------------------------------------------------

TYPE_BOX = re.compile(r"<center>\s*<input type=text id=typeans[^>]*>\s*</center>")
TYPED_ANSWER = re.compile(r"<div style=\"[^\"]*\"><code id=typeans>.*?</code></div>", re.S)

TRICKY_CARDS = {
    "nested.md": card_text("nested", r"""
        Ytre {{c1::a **fet** {{c2::indre::hint}} b::ytre hint}} og {{c3::"sitat" & æøå – é}},
        \(x_{{c4::1}}\), en løs }} og {{c5::tom hint::}}.

        - {{c6::liste}} punkt
        - `kode` {{c6::igjen}}
        """, type="cloze"),
    "typed.md": card_text("typed", """
        Hva heter det?

        % back
        *Verdi* & "kjede"
        """, type="type-in"),
    "table.md": card_text("table", """
        Første avsnitt.

        Andre avsnitt med [lenke](https://example.com).

        % back
        | a | b |
        |---|---|
        | 1 | 2 |

        % extra
        ```
        kode {{x}}
        ```
        """, type="reversed"),
    "Del/special.md": card_text("special", "hus\n\n% meaning\n*house* &amp; home", type="special",
                                tags="[a, b]"),
}
SPECIAL_TYPE = {  # a custom note type using Anki's special fields, `text:` and `^` sections
    "notetype.toml": 'id = 1700000000003\nname = "Special"\nkind = "normal"\n'
                     'fields = ["Word", "Meaning", "Note"]\ntemplates = ["Card 1"]\n',
    "Card 1.front.html": "<!-- {{Nope}} -->{{Word}} {{Deck}}/{{Subdeck}} {{Card}} {{Type}} "
                         "[{{Tags}}] {{CardFlag}}{{#c1}} first{{/c1}}{{^Note}} no note{{/Note}}",
    "Card 1.back.html": "{{FrontSide}}<hr id=answer>{{text:Meaning}} {{Meaning}}",
}


@pytest.fixture
def tricky_project(tmp_path: Path) -> Path:
    root = write_project(tmp_path / "tricky", TRICKY_CARDS)
    folder = root / "notetypes" / "special"
    folder.mkdir(parents=True)
    for name, text in SPECIAL_TYPE.items():
        (folder / name).write_text(text, encoding="utf-8")
    return root


def anki_cards(apkg: Path) -> list[tuple[str, int, str, str, str]]:
    """(note guid, card ord, question, answer, typed answer on the back) per
    card, as Anki's backend renders them after importing the package."""
    with tempfile.TemporaryDirectory() as folder:
        col = open_collection(Path(folder))
        try:
            import_package(col, apkg)
            cards = []
            for rendered in inspect_collection(col).rendered:
                card = col.get_card(rendered.card_id)
                note = card.note()
                typed = col.compare_answer(note["Back"], "") if "Back" in note else ""
                cards.append((rendered.note_guid, card.ord, rendered.question, rendered.answer, typed))
            return cards
        finally:
            col.close()


@pytest.mark.parametrize("project", ["fixture_project", "shipped_deck", "tricky_project"])
def test_every_card_renders_as_anki_renders_it(project, request):
    root = request.getfixturevalue(project)
    anki = anki_cards(build(root).path)
    _, preview = write_preview(root)
    ours = {(c.note.guid, c.ord): c for c in preview.cards}
    assert sorted(ours) == sorted((guid, ord_) for guid, ord_, *_ in anki)

    for guid, ord_, question, answer, typed in anki:
        card = ours[guid, ord_]
        # Anki's backend leaves `[[type:Back]]` for the reviewer to fill in.
        assert squash(TYPE_BOX.sub("[[type:Back]]", card.question)) == squash(question)
        assert squash(TYPED_ANSWER.sub("[[type:Back]]", card.answer)) == squash(answer)
        if "[[type:Back]]" in answer:
            assert typed in card.answer  # the expected answer, as Anki's compare_answer shows it
