"""A fast build is the same build: the cache, the worker processes and the
shortcuts past Python-Markdown (plain text) and PyYAML (simple front matter)
never change a byte of the output."""

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import genanki
import nh3
import pytest
import yaml
from hypothesis import given, settings, strategies as st

from conftest import FIXTURE_CARDS, PNG, REPO, card_text, write_project
from deckbuild import cache, render, snapshot
from deckbuild.build import build, load_project
from deckbuild.cache import CACHE_DIR, DATABASE, decode, encode
from deckbuild.front_matter import simple_mapping, yaml_loader
from deckbuild.lint import check_project
from deckbuild.package import note_guid
from deckbuild.render import (inline_html, list_html, parsed_html, plain_html, protect, render_markdown, restore,
                              sanitize)

NOW = 1_700_000_000

# Fields of every kind the renderer meets: plain sentences (the shortcut),
# inline Markdown, blocks, raw HTML to sanitize, cloze, MathJax, media.
BODIES = [
    "Hva er verdikjeden?\n\n% back\nAlt som øker fortjenesten.",
    "Hvorfor smile?\n\n% back\nFordi **smilet** smitter, sier [Ellingsen](https://ndla.no/a).",
    "Tre ting?\n\n% back\n- lytt\n- spør\n- følg opp\n\n% extra\n1. først\n2. så",
    "Tabell?\n\n% back\n| a | b |\n|---|---|\n| 1 | 2 |",
    "Kode?\n\n% back\n```\nrabatt = pris * 0.1\n```",
    "Bilde?\n\n% back\nSe her:\n\n![Prikk](bilder/prikk.png)",
    'Farlig?\n\n% back\n<b onclick="x()">fet</b><script>alert(1)</script> & <i>mer</i>',
    "To avsnitt?\n\n% back\nFørste avsnitt.\n\nAndre avsnitt,\nmed to linjer.",
]


def deck(root, copies: int = 8):
    cards = dict(FIXTURE_CARDS)
    for i in range(copies):
        for j, body in enumerate(BODIES):
            kind = ["basic", "reversed", "type-in"][(i + j) % 3]
            cards[f"Del {i % 3}/k{i}-{j}.md"] = card_text(f"k{i}-{j}", body, type=kind)
        cards[f"Del {i % 3}/c{i}.md"] = card_text(
            f"c{i}", r"Søppel er {{c1::alt _som_ ikke}} bidrar \(a_1 * b\) {{c2::**mer**::hint}}.",
            type="cloze")
    return write_project(root, cards, {"bilder/prikk.png": PNG})


@pytest.fixture(autouse=True)
def own_cache_key(tmp_path, monkeypatch):
    """The cache key's secret lives in the user's cache folder: use a fresh one."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))


def outputs(root):
    return (root / "dist" / "test-deck.apkg").read_bytes(), (root / "build-deck.lock").read_text()


def edit(root, rel="Del 1/k1-1.md"):
    path = root / "cards" / rel
    path.write_text(path.read_text().replace("smitter", "smitter alltid"))


def test_parallel_cached_builds_equal_a_plain_single_process_build(tmp_path):
    plain, fast = deck(tmp_path / "plain"), deck(tmp_path / "fast")

    build(plain, now=NOW, cache=False, workers=1)
    build(fast, now=NOW, workers=2)  # cold: every card compiled in worker processes
    assert outputs(fast) == outputs(plain)
    assert (fast / CACHE_DIR / DATABASE).is_file()
    assert (fast / CACHE_DIR / ".gitignore").read_text().endswith("*\n")  # never committed

    build(plain, now=NOW + 10, cache=False, workers=1)
    build(fast, now=NOW + 10, workers=2)  # warm: every card from the cache
    assert outputs(fast) == outputs(plain)

    edit(plain), edit(fast)
    build(plain, now=NOW + 20, cache=False, workers=1)
    build(fast, now=NOW + 20, workers=2)  # one card compiled, the rest cached
    assert outputs(fast) == outputs(plain)


def test_a_check_finds_the_same_whether_cards_are_linted_in_workers_or_from_the_cache(tmp_path, monkeypatch):
    """A card's own rules run where it is compiled: in a worker process; for
    a card from the cache, in a worker too when there are many, else in the
    main one."""
    plain, fast, cached, few = (deck(tmp_path / name) for name in ("plain", "fast", "cached", "few"))
    single = check_project(plain)  # too few files for workers: one process
    assert single.warnings and not single.errors

    monkeypatch.setattr(cache, "PARALLEL_MIN", 1)
    monkeypatch.setattr(cache.os, "cpu_count", lambda: 2)
    assert check_project(fast) == single  # every card compiled and linted in a worker

    build(cached, now=NOW)  # every card in the cache, none linted yet
    assert check_project(cached) == single  # linted in the workers from its cache entry

    build(few, now=NOW)
    monkeypatch.setattr(cache, "PARALLEL_MIN", 10_000)
    assert check_project(few) == single  # linted here


def in_a_new_process(script: str) -> str:
    """What `script` prints, run where nothing is imported yet."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    return run.stdout.strip()


def test_a_build_from_the_cache_never_loads_python_markdown(tmp_path):
    """Its import is a good part of a warm build's time: only a card to render needs it."""
    root = deck(tmp_path / "deck", copies=1)
    build(root, now=NOW)
    assert in_a_new_process("import sys; from pathlib import Path; from deckbuild.build import build; "
                            f"build(Path({str(root)!r}), now={NOW}); print('markdown' in sys.modules)") == "False"


def test_a_build_or_check_with_nothing_to_do_never_loads_pyyaml(tmp_path, monkeypatch):
    """Only front matter of an unusual shape needs PyYAML (genanki loads it
    too, for a package to write): its import is a tenth of such a run."""
    root = deck(tmp_path / "deck", copies=1)
    monkeypatch.setattr(snapshot, "RACY_NS", 0)  # files written just now are trusted by their stat
    build(root, now=NOW)
    check_project(root)
    script = ("import sys; from pathlib import Path; from deckbuild import snapshot; "
              "from deckbuild.build import build; from deckbuild.lint import check_project; "
              f"snapshot.RACY_NS = 0; root = Path({str(root)!r}); "
              f"written = build(root, now={NOW}).written; check_project(root); "
              "print(written, 'yaml' in sys.modules)")
    assert in_a_new_process(script) == "False False"


def test_a_deleted_or_damaged_cache_is_a_cold_build(tmp_path):
    plain, fast = deck(tmp_path / "plain", copies=1), deck(tmp_path / "fast", copies=1)
    build(plain, now=NOW, cache=False)
    build(fast, now=NOW)

    (fast / CACHE_DIR / DATABASE).write_bytes(b"not a database")
    build(fast, now=NOW)
    assert outputs(fast) == outputs(plain)


def test_a_cache_made_with_another_key_is_never_read(tmp_path, monkeypatch):
    """A cache that comes with a project (committed, copied) could carry
    unsanitized HTML; keyed with another user's secret, it is never hit."""
    root = deck(tmp_path / "deck", copies=1)
    build(root, now=NOW)
    with sqlite3.connect(root / CACHE_DIR / DATABASE) as db:
        db.execute("UPDATE cards SET entry = replace(entry, 'fortjenesten', '<script>x()</script>')")
    db.close()

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "someone-else"))
    result = build(root, now=NOW)
    assert not any("<script>" in field for note in result.notes for field in note.fields)
    assert any("øker fortjenesten" in field for note in result.notes for field in note.fields)


def test_trusted_html_has_its_own_cache_entries(tmp_path):
    root = deck(tmp_path / "deck", copies=1)
    build(root, now=NOW)
    (root / "deck.toml").write_text('name = "Test deck"\nnamespace = "test-deck"\ntrusted_html = true\n')
    fields = [f for note in build(root, now=NOW).notes for f in note.fields]
    assert any('<b onclick="x()">' in f for f in fields)


def test_cached_cards_decode_to_the_cards_parsed(tmp_path):
    root = deck(tmp_path / "deck", copies=1)
    (root / "cards" / "full.md").write_text(card_text(
        "full", "<b>Q</b>\n\n% back\nA", extra_meta='deck: "Annet::Her"\nguid: "abc"\nretired: true\n'
        'ignore: {W101: "fordi"}\nhtml: [Front]'))
    project, problems = load_project(root, cache=False)
    assert problems == []
    for card in project.cards:
        fields = project.rendered[card.path]
        assert decode(encode(card, fields), {card.note_type.key: card.note_type}) == (card, fields)


def test_the_reusable_sanitizer_is_nh3_clean_with_the_same_rules():
    dirty = ('<p style="color:red;position:fixed" onclick="x()">a</p><script>x()</script>'
             '<a href="javascript:x()">l</a><img src="a.png" onerror="y()"><audio src="a.mp3" controls>')
    assert sanitize(dirty) == nh3.clean(
        dirty, tags=render.SAFE_TAGS, attributes=render.SAFE_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"}, link_rel=None,
        filter_style_properties=render.SAFE_STYLE)


def test_plain_sentences_skip_the_parser():
    assert plain_html("Hva er «søppel» (Ellingsen)?") == "Hva er «søppel» (Ellingsen)?"
    assert plain_html("Svar på e-post innen 2-3 dager.") == "Svar på e-post innen 2-3 dager."
    assert plain_html("Ett avsnitt.\n\nTo avsnitt.") == "<p>Ett avsnitt.</p>\n<p>To avsnitt.</p>"
    for markdown in ["Hva er *dette*?", "- punkt", "1. punkt", "a & b", "a  \nb", "# Tittel",
                     "snake_case", "a <b>", "    kode", "Linje\n---", "Linje\n-", "- - -"]:
        assert plain_html(markdown) is None, markdown


def assert_as_parsed(shortcut, text: str, trusted: bool) -> None:
    """A shortcut declines the text (None) or renders it as the parser does."""
    fast = shortcut(text)
    assert fast is None or fast == parsed_html(text, trusted)


# Texts near the edge of "plain": letters and the allowed punctuation mixed
# with Markdown's syntax characters, whitespace and placeholders.
ALPHABET = ("aZæøÅé9 0\n.,;:?!'\"()/%«»–—…’‘“”+=@$€§°\ue000\ue001"
            "*_-#>`<&|~[]\\\t\xa0\u0301²")
WORDS = st.text(alphabet="abæø1920", min_size=1, max_size=6)
GLUE = st.sampled_from(list(" .,;:?!'\"()/%«»–—…’‘“”+=@$€§°-#*_") +
                       ["\n", "\n\n", "\n\n\n", "  ", "1. ", "+ ", "\ue0000\ue001", " \n"])
TEXTS = st.one_of(st.text(alphabet=ALPHABET, min_size=1, max_size=40),
                  st.lists(st.one_of(WORDS, GLUE), min_size=1, max_size=25).map("".join))


@settings(max_examples=3000, deadline=None)
@given(TEXTS, st.booleans())
def test_the_plain_text_shortcut_gives_exactly_what_python_markdown_gives(text, trusted):
    assert_as_parsed(plain_html, text, trusted)


def test_simple_inline_markdown_skips_the_parser():
    assert inline_html("Fordi **smilet** smitter, sier [Ellingsen](https://ndla.no/salg).") == (
        'Fordi <strong>smilet</strong> smitter, sier <a href="https://ndla.no/salg">Ellingsen</a>.')
    assert inline_html("_Kunden,_ *alltid* `pris * 0.1 & mer`\n\nSe `a<b`?") is None  # < in code
    assert inline_html("_Kunden,_ *alltid* `pris * 0.1 & mer`\n\nSe *b*.") == (
        "<p><em>Kunden,</em> <em>alltid</em> <code>pris * 0.1 &amp; mer</code></p>\n"
        "<p>Se <em>b</em>.</p>")
    for markdown in ["Hva er verdikjeden?", "snake_case *ord*", "** ikke fet**", "*a* *b", "**a***b*",
                     "![bilde](https://ndla.no/a.png)", "[lenke](javascript:x)", "[a](https://1.2)",
                     '[a](https://ndla.no "tittel")', "- *punkt*", "1. *punkt*", "*a*  \nb",
                     "*a* &amp; b", "<https://ndla.no>", "`&#1`", "*[a](https://ndla.no)*"]:
        assert inline_html(markdown) is None, markdown


# Texts near the edge of "simple inline": Markdown's inline syntax characters
# at random; well-formed constructs in sentences; and those mixed with near
# misses (spaces inside, nesting, images, other URL schemes, titles,
# entities) and block syntax.
INLINE_ALPHABET = "aZæøÅé9 0\n.,:?!'\"()/&;<>*_`[]-#~\\\t\xa0\u0301²\ue000\ue001hts"
PHRASE = st.lists(st.text(alphabet="abæøÅ19.,:?!'\"()«»-\ue000\ue001", min_size=1, max_size=5),
                  min_size=1, max_size=3).map(" ".join)
CODE = st.text(alphabet="ab1 *_&>#|~^{}[]-.=()\"';<\\", min_size=1, max_size=8)
LABELS = st.lists(st.text(alphabet="aZ09-x", min_size=1, max_size=5), min_size=1, max_size=3).map(".".join)
URL = st.builds("".join, st.tuples(st.sampled_from(["https://", "http://", "HTTP://"]), LABELS,
                                   st.text(alphabet="aZ09_-.~/?=+#", max_size=10)))
WELL_FORMED = st.one_of(
    PHRASE.map("**{}**".format), PHRASE.map("*{}*".format), PHRASE.map("_{}_".format),
    CODE.map("`{}`".format), st.builds("[{}]({})".format, PHRASE, URL),
    st.builds("![{}]({})".format, PHRASE, st.text(alphabet="aZ09_-./:% ", min_size=1, max_size=12)))
SENTENCE_BREAK = st.sampled_from([" ", " ", " ", ", ", ". ", "\n", "\n\n", "", "(", ") ", "«", "» ", "x"])
SENTENCES = st.lists(st.tuples(st.one_of(PHRASE, WELL_FORMED, WELL_FORMED), SENTENCE_BREAK),
                     min_size=1, max_size=8).map(lambda pairs: "".join(map("".join, pairs)).strip(" \n") or "x")

INNER = st.one_of(PHRASE, st.text(alphabet="ab19 .:!'\"()\ue000*_`[]&#;<>-\\\t\n", max_size=8))
ODD_URL = st.one_of(URL, st.builds("".join, st.tuples(
    st.sampled_from(["https://", "javascript:", "mailto:", "ftp://", "<https://", ""]),
    LABELS, st.text(alphabet="aZ09_-.~/?=+#%:@&;()<> \"", max_size=10))))
MARK = st.sampled_from(["*", "**", "_", "`", "__", "***", "``", "* ", " *"])
NEAR_MISS = st.one_of(
    st.builds(lambda mark, inner, close: mark + inner + (close or mark),
              MARK, INNER, st.one_of(st.none(), MARK)),
    st.builds(lambda bang, text, url, close: f"{bang}[{text}]({url}{close}",
              st.sampled_from(["", "!", "\\"]), INNER, ODD_URL, st.sampled_from([")", ' "t")', "))"])))
INLINE_TEXTS = st.one_of(
    st.text(alphabet=INLINE_ALPHABET, min_size=1, max_size=40),
    SENTENCES, SENTENCES,
    st.lists(st.tuples(st.one_of(PHRASE, WELL_FORMED, NEAR_MISS), st.one_of(SENTENCE_BREAK, GLUE)),
             min_size=1, max_size=8).map(lambda pairs: "".join(map("".join, pairs)).strip(" \n") or "x"))


@settings(max_examples=5000, deadline=None)
@given(INLINE_TEXTS, st.booleans())
def test_the_inline_shortcut_gives_exactly_what_python_markdown_gives(text, trusted):
    assert_as_parsed(inline_html, text, trusted)


def test_simple_lists_skip_the_parser():
    assert list_html("Husk:\n\n- **smil**\n- lytt til [kunden](https://ndla.no)") == (
        '<p>Husk:</p>\n<ul>\n<li><strong>smil</strong></li>\n'
        '<li>lytt til <a href="https://ndla.no">kunden</a></li>\n</ul>')
    assert list_html("1. Hils\n2. Spør\n\nSå lytt.") == (
        "<ol>\n<li>Hils</li>\n<li>Spør</li>\n</ol>\n<p>Så lytt.</p>")
    assert list_html("- e-post\n- 2-3 dager") == "<ul>\n<li>e-post</li>\n<li>2-3 dager</li>\n</ul>"
    for markdown in ["Hva er verdikjeden?", "*bare* tekst", "- a\n\n- b", "3. a\n4. b", "- a\nb",
                     "a\n- b", "* a", "-  a", "- a\n1. b", "- - a", "- a\n  - b", "- # a", "- a  "]:
        assert list_html(markdown) is None, markdown


# Lists near the edge of "simple": items of sentences, constructs and near
# misses behind markers right and wrong, between paragraphs, with single,
# double and triple line breaks.
LINE = st.lists(st.one_of(PHRASE, WELL_FORMED, NEAR_MISS), min_size=1, max_size=4).map(" ".join)
MARKER = st.sampled_from(["- ", "- ", "- ", "1. ", "1. ", "2. ", "10. ", "* ", "+ ", "-  ", "1) ", "-",
                          " - ", "\t- ", "- - ", "1.", "", "> "])
LIST_BLOCK = st.lists(st.tuples(MARKER, LINE), min_size=1, max_size=4).map(
    lambda items: "\n".join(marker + line for marker, line in items))
SIMPLE_WORD = st.text(alphabet="abæøÅ9-", min_size=1, max_size=6)
SIMPLE_LINE = st.lists(st.one_of(SIMPLE_WORD, SIMPLE_WORD, st.builds(
    "{0}{1}{0}".format, st.sampled_from(["**", "*", "_", "`"]), SIMPLE_WORD)), min_size=1, max_size=5).map(" ".join)
CLEAN_LINE = st.one_of(st.lists(st.one_of(PHRASE, WELL_FORMED), min_size=1, max_size=4).map(" ".join),
                       SIMPLE_LINE)


def as_list(lines: st.SearchStrategy) -> st.SearchStrategy:
    return st.builds(lambda ordered, items: "\n".join(f"{k}. {item}" if ordered else f"- {item}"
                                                       for k, item in enumerate(items, 1)),
                     st.booleans(), st.lists(lines, min_size=1, max_size=4))


CLEAN_LIST = as_list(CLEAN_LINE)
LIST_TEXTS = st.one_of(
    st.lists(st.tuples(st.one_of(LIST_BLOCK, CLEAN_LIST, LINE, CLEAN_LINE),
                       st.sampled_from(["\n\n", "\n\n", "\n", "\n\n\n", "\n \n"])),
             min_size=1, max_size=4).map(lambda pairs: "".join(map("".join, pairs)).strip("\n") or "x"),
    st.lists(st.one_of(CLEAN_LIST, CLEAN_LINE), min_size=1, max_size=4).map("\n\n".join),
    st.lists(st.one_of(as_list(SIMPLE_LINE), SIMPLE_LINE), min_size=1, max_size=4).map("\n\n".join))


@settings(max_examples=5000, deadline=None)
@given(LIST_TEXTS, st.booleans())
def test_the_list_shortcut_gives_exactly_what_python_markdown_gives(text, trusted):
    assert_as_parsed(list_html, text, trusted)


def test_the_benchmark_inline_fields_and_lists_skip_the_parser(tmp_path, monkeypatch):
    """The synthetic deck's emphasis, code and links (a third of its fields)
    and its lists never reach Python-Markdown; every field renders as the
    parser renders it."""
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    from synthetic import write_deck

    write_deck(tmp_path, 300)
    project, problems = load_project(tmp_path, cache=False)
    assert problems == []
    fields = [card.fields[name] for card in project.cards for name in card.note_type.fields
              if card.fields.get(name) and name not in card.html]
    inline, lists = [], []
    for field in fields:
        protected, kept = protect(field)
        for trusted in (False, True):
            assert render_markdown(field, trusted) == restore(parsed_html(protected, trusted), kept)
        parsed = parsed_html(protected, False)
        if plain_html(protected) is None and not re.search(r"<(?!/?(strong|em|code|a)[ >])", parsed):
            inline.append(protected)
        elif re.search(r"<[uo]l>", parsed) and not re.search(r"<(?!/?(strong|em|code|a|p|ul|ol|li)[ >])",
                                                               parsed):
            lists.append(protected)
    assert len(inline) > 50 and len(lists) > 10
    assert all(inline_html(text) is not None for text in inline)
    assert all(list_html(text) is not None for text in lists)


# Front matter near the edge of "simple": the keys and values cards use,
# and values YAML reads as something else (numbers, dates, null, comments).
KEYS = st.sampled_from(["id", "type", "tags", "source", "deck", "retired", "x2", "null", "true"])
YAML_CHARS = "aZæø 9-_.,:/()«»'’!?#&*[]{}\"\\\t\x85\u2028é²"
WORD = st.text(alphabet="abø19-._", min_size=1, max_size=8)
VALUES = st.one_of(
    st.text(alphabet=YAML_CHARS, max_size=20),
    st.builds(lambda a, b: a + b, WORD, st.text(alphabet="aæ 9-.,:/()«»'’!?", max_size=12)),
    st.text(alphabet=YAML_CHARS, max_size=15).map(lambda s: f'"{s}"'),
    st.text(alphabet=YAML_CHARS, max_size=15).map(lambda s: f"'{s}'"),
    st.lists(st.one_of(WORD, st.sampled_from(["true", "no", "null", "1", "a b", ""])), max_size=4)
    .map(lambda items: "[" + ", ".join(items) + "]"),
    st.sampled_from(["true", "False", "null", "NULL", "no", "on", "2024-01-01", "12", "1.5", "~",
                     "kort-0001", "Del 1::Kapittel 2", "a: b", "a #c", "a:", "x::", "a ", "!!int x"]),
)
FRONT_MATTER = st.lists(st.tuples(KEYS, st.sampled_from([": ", ":  ", ":", " : "]), VALUES),
                        min_size=1, max_size=6).map(lambda lines: "\n".join(map("".join, lines)))


@settings(max_examples=3000, deadline=None)
@given(FRONT_MATTER)
def test_simple_front_matter_reads_as_the_yaml_loader_reads_it(text):
    fast = simple_mapping(text)
    if fast is not None:  # repr: True and 1, '1' and 1 must differ too
        assert repr(fast) == repr(yaml.load(text, Loader=yaml_loader()))


def test_the_usual_front_matter_is_simple():
    assert simple_mapping('id: ss-soppel\ntype: cloze\ntags: [salg, service]\n'
                          'source: "Kay Ellingsen: «Det er summen»"\ndeck: Del 1::Kap 2\nretired: true') == {
        "id": "ss-soppel", "type": "cloze", "tags": ["salg", "service"],
        "source": "Kay Ellingsen: «Det er summen»", "deck": "Del 1::Kap 2", "retired": True}
    for other in ["id: 12", "id: a # note", "tags:\n  - a", "id: a\nid: b", "id: &x a", "id: 'it''s'"]:
        assert simple_mapping(other) is None, other


@settings(max_examples=2000, deadline=None)
@given(st.text(max_size=30), st.text(max_size=30))
def test_note_guids_are_the_ones_genanki_gives(namespace, card_id):
    """Every note ever shipped got its GUID from genanki.guid_for: one
    character different and Anki sees a new note."""
    assert note_guid(namespace, card_id) == genanki.guid_for(namespace, card_id)
