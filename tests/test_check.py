"""`check`: build's errors, card-quality warnings and spelling, without
writing anything. Every rule has a card that triggers it and one that
does not; the CLI output is ruff-like and the JSON follows the shape the
README documents."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from conftest import PNG, REPO, card_text, write_project
from deckbuild import spelling
from deckbuild import build as build_module, cache
from deckbuild.build import NoteMaker, build
from deckbuild.lint import RULES, check_project
from deckbuild.problems import ProjectError
from deckbuild.spelling import load_dictionary, misspelled, visible_text, words

CONFIG = 'name = "Test deck"\nnamespace = "test-deck"\n'
NORWEGIAN = CONFIG + 'language = "nb_NO"\n'


def codes_by_file(root: Path) -> dict[str, set[str]]:
    """cards/<name> -> the rule codes check reports for it."""
    found: dict[str, set[str]] = {}
    for problem in check_project(root).problems:
        found.setdefault(problem.path.removeprefix("cards/"), set()).add(problem.code)
    return found


def basic(id: str, front: str, back: str, **meta) -> str:
    return card_text(id, f"{front}\n\n% back\n{back}", **meta)


def cloze(id: str, text: str, **meta) -> str:
    return card_text(id, text, type="cloze", **meta)


LONG_ANSWER = " ".join(["ord"] * 21)
LONG_QUESTION = " ".join(["ord"] * 30) + " eller?"

# code -> (cards where cards/bad*.md must get the code, cards where no file gets it)
RULE_CASES = {
    "W101": ({"bad.md": basic("a", "Hva er søppel?", LONG_ANSWER)},
             {"good.md": basic("a", "Hva er søppel?", "Alt som ikke øker fortjenesten.")}),
    "W101 cloze": ({"bad.md": cloze("a", f"Søppel er {{{{c1::{LONG_ANSWER}}}}}.")},
                   {"good.md": cloze("a", "Søppel er {{c1::alt som ikke øker fortjenesten}}.")}),
    "W102": ({"bad.md": basic("a", "Hvordan er krevende kunder?", "- sure\n- utålmodige\n- kritiske")},
             {"good.md": basic("a", "Hvordan er krevende kunder?", "Ofte utålmodige.")}),
    "W102 enumeration": ({"bad.md": basic("a", "Hvordan er krevende kunder?", "Sure, utålmodige og kritiske.")},
                         {"good.md": basic("a", "Hva er søppel?",
                                           "Alt som ikke bidrar til verdikjeden, altså ikke øker fortjenesten.")}),
    "W103": ({"bad.md": basic("a", LONG_QUESTION, "Ja.")},
             {"good.md": basic("a", "Hva er søppel?", "Det som ikke øker fortjenesten.")}),
    "W104": ({"bad.md": basic("a", "Søppel", "Det som ikke øker fortjenesten.")},
             {"good.md": basic("a", "Hva er «søppel»?", "Det som ikke øker fortjenesten."),
              "term.md": basic("b", "Søppel", "Det som ikke øker fortjenesten.", type="reversed")}),
    "W105": ({"bad.md": basic("a", "Hva er søppel?", "Alt unødvendig.", source='""')},
             {"good.md": basic("a", "Hva er søppel?", "Alt unødvendig.", source="Ellingsen")}),
    "W106": ({"bad.md": basic("a", "Hva er søppel?", "Alt unødvendig.", tags="[]")},
             {"good.md": basic("a", "Hva er søppel?", "Alt unødvendig.", tags="[soppel]")}),
    "W107": ({"a.md": basic("a", "Hva er søppel?", "Alt unødvendig."),
              "bad.md": basic("b", "hva er  SØPPEL", "Det som ikke øker fortjenesten.")},
             {"a.md": basic("a", "Hva er søppel?", "Alt unødvendig."),
              "b.md": basic("b", "Hva er sosialfella?", "Prat som ikke gir salg.")}),
    "W108": ({"a.md": basic("a", "Hvilket bilde bruker Ellingsen på selgeren i arbeidsdagen?", "En sjonglør."),
              "bad.md": basic("b", "Hvilket bilde bruker Ellingsen på kunden i arbeidsdagen?", "Ingen.")},
             {"a.md": basic("a", "Hvilket bilde bruker Ellingsen på selgeren i arbeidsdagen?", "En sjonglør."),
              "b.md": basic("b", "Hvem selger du til ifølge Ellingsen?", "Kundene.")}),
    "W109": ({"bad.md": cloze("a", "{{c1::Sur}}, {{c2::treg}}, {{c3::kritisk}} og {{c4::rask}}.")},
             {"good.md": cloze("a", "{{c1::Sur}}, {{c2::treg}} og {{c3::kritisk}}.")}),
    "W110": ({"bad.md": cloze("a", "Kunden er {{c1::sur}} og {{c3::treg}}.")},
             {"good.md": cloze("a", "Kunden er {{c1::sur}} og {{c2::treg}}.")}),
    "W111": ({"bad.md": basic("a", "Hva viser bildet?\n\n![](prikk.png)", "En prikk.")},
             {"good.md": basic("a", "Hva viser bildet?\n\n![En svart prikk](prikk.png)", "En prikk.")}),
}


@pytest.mark.parametrize("case", RULE_CASES)
def test_each_rule_triggers_on_a_bad_card_and_not_on_a_good_one(tmp_path: Path, case: str):
    code = case.split()[0]
    bad, good = RULE_CASES[case]
    media = {"prikk.png": PNG}
    found = codes_by_file(write_project(tmp_path / "bad", bad, media, CONFIG))
    assert code in found.get("bad.md", set()), found
    found = codes_by_file(write_project(tmp_path / "good", good, media, CONFIG))
    assert all(code not in codes for codes in found.values()), found


def test_every_rule_has_a_case():
    cased = {case.split()[0] for case in RULE_CASES} | {"W100", "W112", "E001"}
    assert cased == set(RULES)


def test_spelling_flags_a_misspelled_word_where_it_stands(tmp_path: Path):
    root = write_project(tmp_path / "deck", {
        "bad.md": basic("a", "Hva er søppel?", "Alt som ikke øker\nfortjenesten i butikkken."),
        "good.md": basic("b", "Hva er sosialfella?", "Prat med kolleger som ikke gir salg."),
    }, config=NORWEGIAN)
    report = check_project(root)
    assert report.skipped == {}
    [problem] = report.problems
    assert (problem.path, problem.line, problem.col, problem.code) == ("cards/bad.md", 11, 16, "W112")
    assert "'butikkken'" in problem.message


def test_a_misspelled_word_is_flagged_in_every_card_it_stands_in(tmp_path: Path):
    root = write_project(tmp_path / "deck", {
        "a.md": basic("a", "Hva er søppel?", "Alt som ikke øker fortjenesten i butikkken."),
        "b.md": basic("b", "Hvor jobber selgeren?", "I (butikkken) og på lageret."),
        "c.md": basic("c", "Hva er sosialfella?", "Prat med kolleger som ikke gir salg."),
    }, config=NORWEGIAN)
    report = check_project(root)
    assert [(p.path, p.code) for p in report.problems] == [("cards/a.md", "W112"), ("cards/b.md", "W112")]


def test_a_check_looks_again_only_at_the_cards_with_a_misspelled_word(tmp_path: Path, monkeypatch):
    """Everything else it needs of a card is made where the card is
    compiled: its main process decodes no other card, nor makes any note."""
    root = write_project(tmp_path / "deck", {
        "a.md": basic("a", "Hva er søppel?", "Alt som ikke øker fortjenesten i butikkken."),
        "b.md": basic("b", "Hva viser bildet?", "![Prikk](prikk.png)"),
        "c.md": basic("c", "Hva er sosialfella?", "Prat med kolleger som ikke gir salg."),
    }, config=NORWEGIAN)
    (root / "media").mkdir()
    (root / "media/prikk.png").write_bytes(PNG)
    decoded, made = [], []
    real_decode, make = cache.decode, NoteMaker.__call__
    for module in (cache, build_module):
        monkeypatch.setattr(module, "decode", lambda entry, *a: decoded.append(real_decode(entry, *a)[0].path)
                            or real_decode(entry, *a))
    monkeypatch.setattr(NoteMaker, "__call__", lambda self, *a: made.append(1) or make(self, *a))
    report = check_project(root)
    assert [(p.path, p.code) for p in report.problems] == [("cards/a.md", "W112")]
    assert decoded == ["cards/a.md"] and made == []


def test_words_in_deck_toml_are_accepted(tmp_path: Path):
    root = write_project(tmp_path / "deck", {"a.md": basic("a", "Hva er Wozniaks regel?", "Minimum.")},
                         config=NORWEGIAN + 'words = ["wozniaks"]\n')
    assert check_project(root).problems == []


def test_spelling_reads_visible_text_only(tmp_path: Path):
    """HTML, code, MathJax, sound and cloze syntax are not words; cloze answers are."""
    root = write_project(tmp_path / "deck", {"a.md": cloze("a", r"""
        Kunden er {{c1::fornøyd::hvordan}} når `xqzt_kode` virker og \(x^2 + qwrt\) stemmer.

        % extra
        <span class="zzyzx">Les mer</span> [sound:lydfil.mp3]

        ```
        pqxw rtzv
        ```
        """)}, {"lydfil.mp3": b"ID3"}, config=NORWEGIAN)
    assert check_project(root).problems == []
    report = check_project(write_project(tmp_path / "typo", {"a.md": cloze(
        "a", "Kunden er {{c1::fornøydd}}.")}, config=NORWEGIAN))
    assert [p.message.split("'")[1] for p in report.problems] == ["fornøydd"]


def test_visible_text_keeps_cloze_answers_and_hints():
    html = 'Det er {{c1::summen {{c2::av}}::hint}} <b>små</b>valg &amp; \\(x\\) <code>kode</code>'
    assert visible_text(html).split() == ["Det", "er", "summen", "av", "hint", "småvalg", "&"]
    assert words("e-post, 5G, snake_case, «Søppel», https://x.no og www.vg.no") == \
        ["e-post", "Søppel", "og"]


# Text made of what decides a word's edges: words (Norwegian, other scripts,
# letter-like digits such as ²), digits, "_", hyphens, apostrophes, the
# punctuation `words` strips, other symbols, and every kind of space.
EDGY_PIECES = st.sampled_from([
    "kunden", "Å", "e", "Ωμέγα", "x²", "Ⅻ", "5", "_", "-", "'", "’", ".", ",", "«", "»", "(", "!", "/", "*",
    "&", "#", '"', "„", "…", "@", ":", " ", "\t", "\n", "\u00a0", "\u2028"])
EDGY_TEXT = st.lists(st.one_of(EDGY_PIECES, EDGY_PIECES, EDGY_PIECES, st.characters()),
                     max_size=12).map("".join)


@settings(max_examples=1000)
@given(EDGY_TEXT)
def test_words_finds_what_the_word_pattern_finds(text: str):
    """The fast path (whole tokens, stripped of punctuation) is only a shortcut."""
    if "://" in text or "@" in text or "www." in text:
        text = spelling.ADDRESS.sub(" ", text)
    assert words(text) == [w for w in spelling.WORD.findall(text) if len(w) > 1]


@settings(max_examples=1000)
@given(EDGY_TEXT)
def test_words_are_found_token_by_token(text: str):
    """check spell-checks the words of a deck's distinct whitespace-separated
    tokens, once for all its cards: no word spans two tokens."""
    assert words(text) == [w for token in text.split() for w in words(token)]


def test_dictionary_gaps_of_nb_no_are_covered():
    """nb_NO has no word spelled with 'oe' or 'ae': noe, temaet, kollegaen."""
    result = misspelled({"noe", "noen", "temaet", "kollegaen", "kontoen", "kundaen", "poeng"}, "nb_NO")
    assert result.unknown == {"kundaen", "poeng"}


def test_without_a_dictionary_spelling_is_skipped_once_and_the_rest_runs(tmp_path: Path):
    root = write_project(tmp_path / "deck", {
        "a.md": basic("a", "Søppel", "Xqzt."), "b.md": basic("b", "Sosialfella", "Xqzt."),
    }, config=CONFIG + 'language = "xx_XX"\n')
    run = cli("check", "--root", str(root))
    assert run.returncode == 0
    assert run.stderr.count("W112 skipped: no Hunspell dictionary for 'xx_XX'") == 1
    assert run.stdout.count(" W104 ") == 2


def test_without_spylls_spelling_is_skipped(monkeypatch):
    monkeypatch.setitem(sys.modules, "spylls.hunspell", None)
    assert "spylls is not installed" in misspelled({"ord"}, "nb_NO").skipped


def test_a_broken_dictionary_skips_spelling_instead_of_crashing(tmp_path: Path):
    (tmp_path / "nb_NO.aff").write_text("SET NO-SUCH-ENCODING\n", encoding="utf-8")
    (tmp_path / "nb_NO.dic").write_text("1\nord\n", encoding="utf-8")
    result = misspelled({"ord"}, "nb_NO", dirs=(str(tmp_path),))
    assert result.unknown == set() and "could not read the dictionary nb_NO" in result.skipped


def test_verdicts_are_cached_so_a_second_run_reads_no_dictionary(tmp_path: Path, monkeypatch):
    cache = tmp_path / "cache"
    first = misspelled({"kunden", "kundne"}, "nb_NO", cache=cache)
    monkeypatch.setattr(spelling, "load_dictionary", lambda *a: pytest.fail("read the dictionary"))
    assert misspelled({"kunden", "kundne"}, "nb_NO", cache=cache) == first
    assert first.unknown == {"kundne"}


# A small Hunspell dictionary with what makes filtering delicate: suffixes
# and prefixes that strip letters, compounding, and capitalized stems.
TINY_AFF = """SET UTF-8
COMPOUNDFLAG z
COMPOUNDMIN 3
PFX P Y 1
PFX P ab u ab
SFX S Y 3
SFX S 0 er .
SFX S el ler el
SFX S ann enn ann
SFX T Y 1
SFX T e a e
"""
TINY_DIC = "7\nabsurd/P\nankel/S\nmann/Sz\nhus/z\nkake/Tz\nOslo\nbu/S\n"


def test_filtered_dictionary_gives_the_same_verdicts_as_the_whole_one(tmp_path: Path):
    from spylls.hunspell import Dictionary

    (tmp_path / "tiny.aff").write_text(TINY_AFF, encoding="utf-8")
    (tmp_path / "tiny.dic").write_text(TINY_DIC, encoding="utf-8")
    words_ = {"absurd", "usurd", "ankel", "ankler", "ankeler", "mann", "menn", "menner", "husmann",
              "mannhus", "kake", "kaka", "husmenn", "kakehus", "Oslo", "oslo", "OSLO", "bu", "buer",
              "hus", "huset", "kak", "manne"}
    whole = Dictionary.from_files(str(tmp_path / "tiny"))
    for word in words_:
        filtered = load_dictionary(tmp_path / "tiny", {word})
        assert filtered.lookup(word) == whole.lookup(word), word
    assert {w for w in words_ if whole.lookup(w)} >= {"usurd", "ankler", "menn", "husmann", "kaka"}


def test_filtered_nb_no_agrees_with_the_whole_dictionary():
    from spylls.hunspell import Dictionary

    base = spelling.find_dictionary("nb_NO")
    assert base is not None, "install the test extra: it brings a Hunspell nb_NO"
    sample = {"kunden", "kundene", "kunders", "relasjonskompetansen", "verdikjeden", "fortjenesten",
              "hjerterøttene", "balansekunstner", "ankler", "ankelen", "menn", "mannen", "føtter",
              "Oslo", "OSLO", "sjonglerer", "tallerkener", "kundd", "selgre", "julerushet",
              "forretningsforbindelse", "samvittigheten", "uskyldig", "vips", "småsnakk"}
    whole = Dictionary.from_files(str(base))
    filtered = load_dictionary(base, sample)
    assert {w: filtered.lookup(w) for w in sample} == {w: whole.lookup(w) for w in sample}


def test_ignores_switch_rules_off_for_the_deck_or_one_card_with_a_reason(tmp_path: Path):
    cards = {
        "quiet.md": basic("a", "Søppel", "Alt unødvendig.", extra_meta='ignore: {W104: "a heading"}\n'),
        "loud.md": basic("b", "Sosialfella", "Prat uten salg."),
    }
    found = codes_by_file(write_project(tmp_path / "card", cards, config=CONFIG))
    assert found == {"loud.md": {"W104"}}
    found = codes_by_file(write_project(tmp_path / "deck", cards, config=CONFIG + 'ignore = ["W104"]\n'))
    assert found == {}


def test_an_ignore_naming_no_rule_is_reported(tmp_path: Path):
    root = write_project(tmp_path / "deck", {
        "a.md": basic("a", "Hva er søppel?", "Alt unødvendig.", extra_meta='ignore: {W999: "typo"}\n'),
    }, config=CONFIG + 'ignore = ["W10"]\n')
    found = [(p.path, p.code, p.message.split("'")[1]) for p in check_project(root).problems]
    assert found == [("cards/a.md", "W100", "W999"), ("deck.toml", "W100", "W10")]


def test_retired_cards_get_no_warnings(tmp_path: Path):
    root = write_project(tmp_path / "deck", {
        "old.md": basic("a", "Søppel", "Alt unødvendig.", tags="[]", extra_meta="retired: true\n"),
    }, config=CONFIG)
    assert check_project(root).problems == []


def test_errors_are_exactly_what_build_rejects(tmp_path: Path):
    root = write_project(tmp_path / "deck", {
        "bad.md": card_text("bad", "Spørsmål?", type="flip"),
        "nomedia.md": basic("m", "Hva viser bildet?\n\n![Prikk](borte.png)", "En prikk."),
        "ok.md": basic("ok", "Hva er søppel?", "Alt unødvendig."),
    }, config=CONFIG)
    with pytest.raises(ProjectError) as err:
        build(root)
    report = check_project(root)
    assert [(p.path, p.line, p.message) for p in report.problems if p.is_error] == \
        [(p.path, p.line, p.message) for p in err.value.problems]
    assert {p.code for p in report.problems if p.is_error} == {"E001"}
    assert not (root / "dist").exists() and not (root / "build-deck.lock").exists()


def test_a_card_under_a_removed_id_is_judged_as_build_judges_it(tmp_path: Path):
    """check makes no notes, but the lock compares the hash of a card whose
    id a removed card had: brought back unchanged it is welcome, changed it
    is refused. Also for a card the last check kept, before the lock knew."""
    root = write_project(tmp_path / "deck", {
        "good.md": basic("good", "Hva er søppel?", "Alt unødvendig."),
        "other.md": basic("other", "Hva er verdikjeden?", "Alt som skaper verdi."),
    }, config=CONFIG)
    build(root)
    text = (root / "cards/good.md").read_text()
    (root / "cards/good.md").unlink()
    build(root)
    lock = (root / "build-deck.lock").read_text()
    (root / "build-deck.lock").unlink()
    (root / "cards/restored.md").write_text(text)
    assert check_project(root).errors == 0  # no lock: nothing to compare with
    (root / "build-deck.lock").write_text(lock)
    assert check_project(root).errors == 0

    (root / "cards/restored.md").write_text(text.replace("unødvendig", "overflødig"))
    with pytest.raises(ProjectError) as err:
        build(root)
    assert [(p.path, p.line, p.message) for p in check_project(root).problems if p.is_error] == \
        [(p.path, p.line, p.message) for p in err.value.problems] != []


def cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "build_deck.py"), *args], cwd=cwd,
                          capture_output=True, text=True)


LINE = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<code>[EW]\d{3}) (?P<message>.+)$")


def test_output_is_ruff_like_with_a_summary_and_strict_fails_on_warnings(tmp_path: Path):
    root = write_project(tmp_path / "deck", {"a.md": basic("a", "Søppel", "Alt unødvendig.")},
                         config=CONFIG)
    run = cli("check", cwd=root)
    *lines, summary = run.stdout.splitlines()
    assert run.returncode == 0
    assert [LINE.match(line).groupdict() for line in lines] == [{
        "path": "cards/a.md", "line": "7", "col": "1", "code": "W104",
        "message": "the front is not a question: end it with '?' (or use type: reversed for a "
                   "term and its definition)"}]
    assert summary == "Found 0 error(s) and 1 warning(s) in 1 cards."
    assert cli("check", "--strict", cwd=root).returncode == 1
    assert cli("check", "--root", "deck", cwd=tmp_path).stdout.startswith("deck/cards/a.md:7:1: W104")


def test_errors_exit_1_even_without_strict(tmp_path: Path):
    root = write_project(tmp_path / "deck", {"a.md": card_text("a", "Spørsmål?", type="flip")},
                         config=CONFIG)
    run = cli("check", "--root", str(root))
    assert run.returncode == 1
    assert LINE.match(run.stdout.splitlines()[0]).group("code") == "E001"


def documented_json() -> dict:
    """The example after `<!-- check-json -->` in the README."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- check-json -->\s*```json\n(.*?)```", text, re.S)
    assert match, "the README documents the JSON shape: <!-- check-json --> then a json block"
    return json.loads(match.group(1))


def assert_same_shape(value, example, where="$"):
    """Same keys and value types as the documented example, all the way down."""
    assert type(value) is type(example), f"{where}: {type(value).__name__}, documented {type(example).__name__}"
    if isinstance(example, dict):
        assert set(value) == set(example), f"{where}: keys {sorted(value)}, documented {sorted(example)}"
        for key in example:
            assert_same_shape(value[key], example[key], f"{where}.{key}")
    elif isinstance(example, list):
        for index, item in enumerate(value):
            assert_same_shape(item, example[0], f"{where}[{index}]")


def test_json_output_has_the_documented_shape(tmp_path: Path):
    root = write_project(tmp_path / "deck", {
        "a.md": basic("a", "Søppel", "Alt unødvendig."),
        "b.md": card_text("b", "Spørsmål?", type="flip"),
    }, config=CONFIG + 'language = "xx_XX"\n')
    run = cli("check", "--format", "json", "--root", str(root))
    data = json.loads(run.stdout)
    assert_same_shape(data, documented_json())
    assert data["summary"] == {"errors": 1, "warnings": 1}
    assert [(p["path"], p["code"], p["severity"]) for p in data["problems"]] == [
        (f"{root.as_posix()}/cards/a.md", "W104", "warning"),
        (f"{root.as_posix()}/cards/b.md", "E001", "error")]
    assert data["skipped"][0]["code"] == "W112"
    assert {p["rule"] for p in data["problems"]} == {"not-a-question", "build-error"}
    assert run.returncode == 1


def test_the_shipped_deck_passes_strict(shipped_deck: Path):
    run = cli("check", "--strict", "--root", str(shipped_deck))
    assert run.stderr == ""  # spelling ran: a dictionary is installed
    assert run.returncode == 0, run.stdout
    assert run.stdout.startswith("All checks passed: ")


def test_the_report_does_not_depend_on_the_hash_seed(tmp_path: Path):
    """Which earlier question a near-duplicate names is fixed, run after run:
    the earliest."""
    questions = ["Hva gjør en god selger med kunden?", "Hva gjør en selger med kunden nå?",
                 "Hva gjør en god selger med kunden nå?"]  # the last is near both others
    root = write_project(tmp_path / "deck", {f"{i}.md": basic(f"q{i}", q, "Lytter.") for i, q in enumerate(questions)},
                         config=CONFIG)
    runs = [subprocess.run([sys.executable, str(REPO / "build_deck.py"), "check", "--root", str(root)],
                           capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": seed})
            for seed in ("1", "2", "3")]
    assert "cards/2.md:7:1: W108 question nearly the same as cards/0.md:7" in runs[0].stdout
    assert runs[0].stdout == runs[1].stdout == runs[2].stdout
