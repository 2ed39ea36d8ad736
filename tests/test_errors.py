"""Bad input: every problem as `path:line: message`, all in one run, exit 1,
no traceback, and dist/ exactly as it was."""

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PNG, REPO, card_text, write_project

GOOD = {"good.md": card_text("good", "Q?\n% back\nA")}


def build_cli(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "build_deck.py"), "build", "--root", str(root)],
                          capture_output=True, text=True, cwd=root)


def snapshot_dist(root: Path) -> dict:
    dist = root / "dist"
    return {p.name: p.read_bytes() for p in dist.iterdir()} if dist.exists() else {}


def assert_rejected(root: Path, *expected: str) -> list[str]:
    before = snapshot_dist(root)
    lock = (root / "build-deck.lock").read_bytes() if (root / "build-deck.lock").exists() else None
    run = build_cli(root)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr and run.stdout == ""
    lines = run.stderr.splitlines()
    for message in expected:
        assert message in lines, f"{message!r} not in {lines}"
    assert snapshot_dist(root) == before
    assert ((root / "build-deck.lock").read_bytes() if lock is not None else None) == lock
    return lines


@pytest.fixture
def project(tmp_path):
    """A project that has built once, so dist/ holds a good package to protect."""
    root = write_project(tmp_path / "deck", GOOD)
    assert build_cli(root).returncode == 0
    return root


CASES = {
    "missing id": ("---\ntags: [a]\n---\nQ?\n% back\nA\n",
                   "cards/bad.md:1: missing 'id' in front matter (run `build_deck.py new` to get one)"),
    "unknown type": ("---\nid: x\ntype: flip\n---\nQ?\n% back\nA\n",
                     "cards/bad.md:3: unknown type 'flip' (known: basic, reversed, cloze, type-in)"),
    "bad yaml": ("---\nid: x\ntags: [a\n---\nQ?\n% back\nA\n", None),
    "missing question": ("---\nid: x\n---\n% back\nA\n", "cards/bad.md:4: missing question"),
    "missing answer": ("---\nid: x\n---\nQ?\n", "cards/bad.md:4: missing '% back' section"),
    "cloze without markers": (
        "---\nid: x\ntype: cloze\n---\nNothing hidden.\n",
        "cards/bad.md:5: cloze card without a cloze deletion: mark one like {{c1::answer}}"),
    "empty file": ("", "cards/bad.md:1: empty file: a card file needs front matter and a body"),
    "missing media": ("---\nid: x\n---\nQ?\n% back\n![bilde](finnes-ikke.png)\n",
                      "cards/bad.md:6: media file not found: media/finnes-ikke.png"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_card_is_rejected_with_its_location(project, case):
    text, expected = CASES[case]
    (project / "cards" / "bad.md").write_text(text, encoding="utf-8")
    lines = assert_rejected(project, *([expected] if expected else []))
    assert lines[0].startswith("cards/bad.md:")
    assert lines[-1] == "1 error(s); nothing was written."


def test_non_utf8_file(project):
    (project / "cards" / "bad.md").write_bytes("---\nid: x\n---\nblåbær?\n".encode("latin-1"))
    assert_rejected(project, "cards/bad.md:4: not valid UTF-8; save the file as UTF-8")


def test_duplicate_id_names_both_files(project):
    (project / "cards" / "copy.md").write_text(card_text("good", "Other?\n% back\nB"))
    assert_rejected(project, "cards/good.md:2: duplicate id 'good' (also in cards/copy.md)")


@pytest.mark.parametrize("first, second", [
    ("bilder/prikk.png", "bilder-prikk.png"),  # a folder flattened onto an existing name
    ("Prikk.png", "prikk.png"),  # names differing only in case
])
def test_media_name_clash(project, first, second):
    write_project(project, {
        "a.md": card_text("a", f"Q?\n% back\n![a]({first})"),
        "b.md": card_text("b", f"Q2?\n% back\n![b]({second})"),
    }, {first: PNG, second: PNG + b"other"}, config=None)
    lines = assert_rejected(project)
    assert any(line.startswith(f"cards/b.md:1: media name clash: '{second}'") for line in lines)


def test_every_problem_is_reported_in_one_run(project):
    for name, (text, _) in CASES.items():
        (project / "cards" / f"{name.replace(' ', '-')}.md").write_text(text, encoding="utf-8")
    lines = assert_rejected(project)
    assert lines[-1] == f"{len(CASES)} error(s); nothing was written."
    assert len({line.split(":")[0] for line in lines[:-1]}) == len(CASES)
