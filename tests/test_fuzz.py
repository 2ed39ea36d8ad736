"""Random and broken input: `build` and `check` either succeed or report
`path:line: message` problems; never a traceback, never a hang.

Hypothesis writes card files from pieces that have broken parsers before
(odd YAML types, aliases, tags, markers, cloze and math syntax, raw HTML),
in every encoding a text editor might save (BOM, CRLF, UTF-16, Latin-1, NUL
bytes); the named cases below are the extremes: huge files, pathological
Markdown, billion laughs, deep folder trees, thousands of files, odd file
names, broken deck.toml and lock files. A watchdog turns a hang into a
failure instead of a stuck test run.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import REPO, card_text, write_project
from deckbuild.build import build
from deckbuild.cards import FRONT_MATTER_KEYS
from deckbuild.lint import check_project
from deckbuild.problems import Problem, ProjectError

GOOD = card_text("good", "Q?\n% back\nA")
FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@contextmanager
def watchdog(seconds: int):
    """Fail, rather than hang, when the body runs longer than `seconds`."""
    def hung(signum, frame):
        raise AssertionError(f"still running after {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def assert_reported(problem: Problem, root: Path) -> None:
    """One line, `path:line: message`, the path relative to the project."""
    text = str(problem)
    assert "\n" not in text and problem.message.strip() and problem.line >= 0, text
    assert text.startswith(f"{problem.path}:{problem.line}:"), text
    assert not Path(problem.path).is_absolute() and ".." not in Path(problem.path).parts, text
    assert str(root) not in text, text


def build_and_check(root: Path) -> list[Problem]:
    """Both commands on one project: no exception but ProjectError, every
    problem well-formed, and `check` finds errors exactly when `build` fails."""
    try:
        build(root)
        problems = []
    except ProjectError as err:
        problems = err.problems
        assert problems
    report = check_project(root)
    for problem in problems + report.problems:
        assert_reported(problem, root)
    assert bool(report.errors) == bool(problems), (problems, report.problems)
    return problems


@contextmanager
def project(cards: dict[str, bytes], files: dict[str, bytes] | None = None):
    """A fresh deck project holding `cards` (raw bytes), a good card, and
    `files` in its root (deck.toml, build-deck.lock)."""
    with tempfile.TemporaryDirectory() as folder:
        root = write_project(Path(folder) / "deck", {"good.md": GOOD})
        for rel, data in {**{f"cards/{k}": v for k, v in cards.items()}, **(files or {})}.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        yield root


# --- random card files -------------------------------------------------------

YAML_VALUES = st.sampled_from([
    "basic", "cloze", "reversed", "type-in", "flip", "x1", "'quoted'", '"double"', "~", "null",
    "true", "false", "yes", "no", "on", "0", "-1", "1e400", ".nan", "0x1F", "0o17", "12:30:00",
    "2024-01-01", "2024-13-45", "2024-01-01T25:61:00", "9" * 5000, "0x" + "f" * 5000,
    "[a, b]", "[1, [2, [3]]]", "{a: 1}", "{W101: reason}", "[]", "{}", "&anchor [x]", "*anchor",
    "!!python/object:os.system x", "!!python/name:os.system", "!!binary aGk=", "!!set {a}",
    "!!omap [a: 1]", "!!str 12", "!!int x", "!!float x", "!!timestamp x", "!custom x",
    '"\\ud800"', '"\\0"', '"\\x07"', '"tab\\there"', "|\n  block\n  text", ">-\n  folded",
    "[" * 50 + "]" * 50, "{" * 50, "- a\n- b", "'unclosed", '"unclosed', "@reserved", "`tick",
    "a: b: c", "%directive", "#comment", "? complex", "<<: {id: merged}",
])
KEYS = st.sampled_from(FRONT_MATTER_KEYS + ("", "unknown", "ID", "1", "<<", "? [a, b]", "id ", "-"))
SCALAR_TEXT = st.text(max_size=12).map(lambda t: json.dumps(t))  # a double-quoted YAML string
FRONT_MATTER = st.lists(st.tuples(KEYS, YAML_VALUES | SCALAR_TEXT), max_size=8).map(
    lambda pairs: "\n".join(f"{key}: {value}" for key, value in pairs))
BODY_PIECES = st.sampled_from([
    "% back", "% extra", "% front", "% text", "% back extra", "%", "%%", "```", "~~~", "    code",
    "{{c1::", "{{c1::a::hint}}", "{{c0::x}}", "{{c501::x}}", "{{c99999999999::x}}", "}}", "::",
    "\\(", "\\)", "\\[", "\\]", "[sound:a.mp3]", "[sound:../../etc/passwd]", "![x](a.png)",
    "![x](../../etc/passwd)", "![x](file:///etc/passwd)", "<img src='/etc/passwd'>",
    "<img src=x onerror=alert(1)>", "<script>alert(1)</script>", "<a href='javascript:x'>j</a>",
    "<!--", "-->", "[", "]", "(", ")", "<", ">", "&", "&#0;", "&#xD800;", "*", "_", "|a|b|\n|-|-|",
    "# h", "> quote", "- item", "1. item", "\n", "\n\n", "---", "...", "\t", " ", "\u00a0",
    "\u2028", "\ufeff", "\x0b", "\x0c", "\x1b", "æøå", "\U0001F600", "\u202e", "\ue000", "\ue001",
]) | st.text(max_size=20)
BODY = st.lists(BODY_PIECES, max_size=40).map("".join)
CARD_TEXT = st.builds(lambda opening, meta, closing, body: f"{opening}{meta}\n{closing}{body}",
                      st.sampled_from(["---\n", "--- \n", "", "----\n", "\n---\n"]), FRONT_MATTER,
                      st.sampled_from(["---\n", "...\n", "", "-- -\n"]), BODY)


@st.composite
def saved(draw, texts=CARD_TEXT) -> bytes:
    """A text as some editor might save it."""
    text = draw(texts)
    how = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1", "crlf", "cr", "nul", "cut"]))
    if how == "crlf":
        return text.replace("\n", "\r\n").encode()
    if how == "cr":
        return text.replace("\n", "\r").encode()
    if how in ("nul", "cut"):
        data = text.encode()
        at = draw(st.integers(0, len(data)))
        return data[:at] + b"\x00" + data[at:] if how == "nul" else data[:at]
    return text.encode(how, errors="replace")


@FUZZ
@given(data=saved())
def test_any_card_file_builds_or_is_reported(data):
    with watchdog(60), project({"fuzz.md": data}) as root:
        build_and_check(root)


@FUZZ
@given(data=st.binary(max_size=2000))
def test_random_bytes_build_or_are_reported(data):
    with watchdog(60), project({"fuzz.md": data}) as root:
        build_and_check(root)


@FUZZ
@given(cards=st.lists(saved(), min_size=2, max_size=6))
def test_many_broken_files_are_all_reported_in_one_run(cards):
    with watchdog(120), project({f"Del {i % 3}/f{i}.md": data for i, data in enumerate(cards)}) as root:
        problems = build_and_check(root)
        assert {p.path for p in problems} <= {f"cards/Del {i % 3}/f{i}.md" for i in range(len(cards))}


# --- named extremes ------------------------------------------------------------

LAUGHS = "\n".join(["---", "id: lol", "a: &a [x, x, x, x, x, x, x, x, x, x]"]
                   + [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]"
                      for i in range(12)] + ["tags: *m", "---", "Q?", "% back", "A", ""])


@pytest.mark.parametrize("text, expected", [
    (LAUGHS, "cards/bad.md:4: invalid YAML in front matter: aliases (*name) are not allowed in front matter"),
    ("---\nid: 0x" + "f" * 5000 + "\n---\nQ\n% back\nA\n", "cards/bad.md:2: invalid YAML in front matter: number too long"),
    ("---\nid: x\ntags: 2024-13-45\n---\nQ\n% back\nA\n", "cards/bad.md:3: invalid YAML in front matter: '2024-13-45' is not a valid timestamp"),
    ("---\nid: !!python/object/apply:os.system [echo]\n---\nQ\n% back\nA\n", "cards/bad.md:2: invalid YAML in front matter: could not determine a constructor for the tag 'tag:yaml.org,2002:python/object/apply:os.system'"),
    ("---\nid: x\nsource: \"\\ud800\"\n---\nQ\n% back\nA\n", "cards/bad.md:3: invalid YAML in front matter: text with a NUL or a lone surrogate (\\0, \\ud800 escapes)"),
    ("---\nid: " + "[" * 3000 + "]" * 3000 + "\n---\nQ\n% back\nA\n", "cards/bad.md:2: invalid YAML in front matter: nested too deeply"),
    ("---\nid: \"x\\n\"\n---\nQ\n% back\nA\n", None),
    ("---\nid: !!int x\n---\nQ\n% back\nA\n", "cards/bad.md:2: invalid YAML in front matter: 'x' is not a valid int"),
    ("---\nid: !!timestamp x\n---\nQ\n% back\nA\n", "cards/bad.md:2: invalid YAML in front matter: 'x' is not a valid timestamp"),
    ("---\nid: x\nretired: yes\n---\nQ\n% back\nA\n", "cards/bad.md:3: 'retired' must be true or false"),
    ("---\nid: x\ntype: cloze\n---\n{{c501::too far}}\n", "cards/bad.md:5: cloze numbers go up to c500: Anki makes no card for higher ones"),
    ("---\nid: x\ntype: cloze\n---\n{{c" + "9" * 5000 + "::x}}\n", "cards/bad.md:5: cloze numbers go up to c500: Anki makes no card for higher ones"),
    ("---\nid: x\n" + "k: v\n" * 5000 + "---\nQ\n% back\nA\n", "cards/bad.md:2: front matter is 25,005 characters; at most 16,384 (is '---' missing after it?)"),
])
def test_odd_yaml_and_syntax_is_reported_where_it_is(text, expected):
    with watchdog(60), project({"bad.md": text.encode()}) as root:
        problems = [str(p) for p in build_and_check(root)]
        assert problems and all(p.startswith("cards/bad.md:") for p in problems)
        if expected:
            assert expected in problems, problems


@pytest.mark.parametrize("name, body", [
    ("a run of '['", "[" * 8_000),
    ("nested brackets", "[" * 4_000 + "]" * 4_000),
    ("many links", "[a](" * 2_500),
    ("unclosed tags", "<a " * 6_000),
    ("math openers", "\\(" * 15_000),
    ("huge paragraph", "ord " * 100_000),
    ("deep quotes", "\n".join(">" * i + " x" for i in range(1, 400))),
    ("deep lists", "\n".join("    " * i + "- x" for i in range(200))),
])
def test_pathological_markdown_is_refused_or_rendered_quickly(name, body):
    """Python-Markdown is quadratic on such text; cards.py bounds it."""
    with watchdog(60), project({"bad.md": card_text("x", f"Q?\n% back\n{body}").encode()}) as root:
        problems = build_and_check(root)
        assert all(p.path == "cards/bad.md" for p in problems)


def test_a_huge_file_is_refused_without_reading_it():
    with watchdog(60), project({"huge.md": b"---\nid: huge\n---\n" + b"x" * (50 << 20)}) as root:
        [problem] = build_and_check(root)
        assert str(problem) == "cards/huge.md:1: is 52,428,817 bytes; a card file holds one note: at most 1,048,576"


def test_a_deep_folder_tree_is_cut_off_and_reported():
    with watchdog(120), project({}) as root:
        deep = root / "cards"
        for level in range(300):  # deeper than Python's recursion could walk
            deep = deep / "d"
        deep.mkdir(parents=True)
        (deep / "c.md").write_text(card_text("deep", "Q?\n% back\nA"))
        (root / "cards" / ("d/" * 30) / "ok.md").write_text(card_text("ok", "Q?\n% back\nA"))
        [problem] = build_and_check(root)
        assert str(problem) == f"cards/{'d/' * 32}d:0: folders nest more than 32 deep here; not read"


def test_thousands_of_files_with_broken_ones_among_them():
    cards = {f"Del {i % 10}/c{i}.md": card_text(f"c{i}", f"Spørsmål {i}?\n% back\nSvar {i}").encode()
             for i in range(3_000)}
    cards.update({f"Del {i}/broken.md": b"---\nid: [\n---\n" for i in range(10)})
    with watchdog(300), project(cards) as root:
        problems = build_and_check(root)
        assert sorted(p.path for p in problems) == sorted(f"cards/Del {i}/broken.md" for i in range(10))


@pytest.mark.parametrize("name", [b"bad\xff\xfe.md", b"line\nbreak.md", b"esc\x1b[31m.md", b"tab\there.md"])
def test_odd_file_names_are_reported_printably(name):
    with watchdog(60), project({}) as root:
        path = os.path.join(os.fsencode(root / "cards"), name)
        with open(path, "wb") as handle:
            handle.write(card_text("odd", "Q?\n% back\nA").encode())
        [problem] = build_and_check(root)
        assert problem.message.startswith("a file or folder name with a control character")
        assert problem.path.isprintable() and problem.path.startswith("cards/")


@FUZZ
@given(toml=st.sampled_from([
    b"name = 1", b"name = ''", b"name = 'a::b'", b"name = [", b"\xff\xfe", b"trusted_html = 'yes'",
    b"ignore = [1]", b"words = 'x'", b"unknown = 1", b"name = \"\\u0000\"", b"[table]\nname = 'x'",
    b"name = 'x'\nname = 'y'", b"namespace = ''", b"name = '" + b"x" * 10_000 + b"'",
]) | st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_deck_toml_builds_or_is_reported(toml):
    with watchdog(60), project({}, {"deck.toml": toml}) as root:
        build_and_check(root)


@FUZZ
@given(lock=st.sampled_from([
    b"", b"{", b"[]", b'{"version": 2}', b'{"version": 1, "notes": []}',
    b'{"version": 1, "notes": {"good": {"hash": "h", "mod": "x"}}}',
    b'{"version": 1, "notes": {"good": {"hash": "h", "mod": 1, "added": 1e400}}}',
    b'{"version": 1, "namespace": 5}', b'{"version": 1, "notetypes": {"1": {"hash": "h", "mod": 1}}}',
    b'{"version": 1, "removed": {"good": {"hash": "h", "mod": 1, "path": 3}}}',
    b'{"version": 1, "notes": {}, "removed": {"good": {"hash": "other", "mod": 1, "path": "cards/x.md"}}}',
]) | st.binary(max_size=200))
def test_any_lock_file_builds_or_is_reported(lock):
    with watchdog(60), project({}, {"build-deck.lock": lock}) as root:
        build_and_check(root)


# --- through the command line -------------------------------------------------

@pytest.mark.parametrize("command", ["build", "check"])
def test_the_cli_reports_broken_decks_without_a_traceback(command):
    cards = {"laughs.md": LAUGHS.encode(), "utf16.md": GOOD.encode("utf-16"), "nul.md": b"---\x00",
             "latin1.md": "---\nid: blåbær\n---\nQ\n".encode("latin-1"),
             "huge.md": b"x" * (2 << 20), "brackets.md": card_text("b", "Q?\n% back\n" + "[" * 9000).encode()}
    with project(cards) as root:
        run = subprocess.run([sys.executable, str(REPO / "build_deck.py"), command],
                             capture_output=True, text=True, timeout=120, cwd=root)
        assert run.returncode == 1 and "Traceback" not in run.stderr + run.stdout
        lines = [line for line in (run.stderr + run.stdout).splitlines() if line.startswith("cards/")]
        assert {line.split(":")[0] for line in lines} == {f"cards/{name}" for name in cards}
