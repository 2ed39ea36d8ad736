"""Safety against hostile decks and crashed laptops, proven end to end:
nothing from outside the project lands in a package, ids can't be changed or
reused behind students' backs, and a build killed at any moment leaves the
last good package and lock as they were."""

import itertools
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from conftest import PNG, REPO, card_text, write_project
from deckbuild.build import build
from deckbuild.lock import read_lock
from test_errors import assert_rejected, build_cli

SECRET = b"TOP-SECRET-4f1c9a: never in a package"


def card_with(body_line: str, id: str = "a") -> str:
    """A card whose answer (line 9 of the file) is `body_line`."""
    return card_text(id, f"Q?\n% back\n{body_line}")


@pytest.fixture
def outside(tmp_path) -> Path:
    """A folder beside the project holding a secret file and a valid card file."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.png").write_bytes(SECRET)
    (folder / "secret.md").write_text(card_text("secret", f"Q?\n% back\n{SECRET.decode()}"))
    return folder


@pytest.fixture
def project(tmp_path) -> Path:
    """A project that built once: its package and lock are what must survive."""
    root = write_project(tmp_path / "deck", {"good.md": card_text("good", "Q?\n% back\nA")},
                         {"prikk.png": PNG})
    assert build_cli(root).returncode == 0
    return root


def package_bytes(apkg: Path) -> bytes:
    with zipfile.ZipFile(apkg) as archive:
        return b"".join(archive.read(name) for name in archive.namelist())


# --- media ---------------------------------------------------------------

ESCAPES = {
    "parent folders": "../../etc/passwd",
    "parent, URL-quoted": "%2e%2e/%2e%2e/etc/passwd",
    "absolute path": "/etc/passwd",
    "Windows drive": "C:/Windows/win.ini",
    "backslashes": "..\\..\\secret.png",
    "https URL": "https://example.com/a.png",
    "protocol-relative URL": "//example.com/a.png",
    "file: URL": "file:///etc/passwd",
    "data: URL": "data:image/png;base64,iVBORw0KGgo=",
}


@pytest.mark.parametrize("ref", ESCAPES.values(), ids=ESCAPES.keys())
@pytest.mark.parametrize("syntax", ["![x]({})", '<img src="{}">', "[sound:{}]"])
def test_references_leaving_media_are_refused(project, ref, syntax):
    (project / "cards" / "a.md").write_text(card_with(syntax.format(ref)))
    [line, summary] = assert_rejected(project)
    assert line.startswith("cards/a.md:9: ") and "not found" not in line
    # refused by the media stage, or dropped by the sanitizer and reported
    assert line.startswith("cards/a.md:9: media '") or "an image without a source" in line


def test_a_link_in_media_to_a_file_outside_is_refused_as_such(project, outside):
    (project / "media" / "secret.png").symlink_to(outside / "secret.png")
    (project / "cards" / "a.md").write_text(card_with("![x](secret.png)"))
    assert_rejected(project, "cards/a.md:9: media 'secret.png' is a link to a file outside media/: "
                             "only files inside the deck project's media/ are packed; copy the file in")


def test_a_media_folder_linking_out_of_the_project_is_refused(tmp_path, outside):
    root = write_project(tmp_path / "deck", {"a.md": card_with("![x](secret.png)")})
    (root / "media").symlink_to(outside, target_is_directory=True)
    lines = assert_rejected(root)
    assert lines[0].startswith("cards/a.md:9: media 'secret.png' is a link to a file outside media/")


def test_links_that_stay_inside_media_are_packed(project):
    (project / "media" / "alias.png").symlink_to(project / "media" / "prikk.png")
    (project / "cards" / "a.md").write_text(card_with("![x](alias.png)"))
    result = build(project)
    assert [m.name for m in result.media] == ["alias.png"]
    with zipfile.ZipFile(result.path) as archive:
        assert archive.read("0") == PNG


def test_nothing_from_outside_the_project_lands_in_the_package(tmp_path, outside):
    """Trusted HTML may point anywhere, but only references under media/ are
    packed, and none of these is one: the package holds none of the secret."""
    sneaky = " ".join((
        f'<object data="{outside}/secret.png"></object>',
        '<link rel="stylesheet" href="../outside/secret.png">',
        '<div style="background: url(../outside/secret.png)">x</div>',
        '<img src="prikk.png" srcset="../outside/secret.png 2x" alt="s">',
        f'<a href="file://{outside}/secret.png">s</a>',
        '<video poster="../outside/secret.png"></video>',
    ))
    root = write_project(tmp_path / "deck", {"a.md": card_with(sneaky)}, {"prikk.png": PNG},
                         config='name = "Test deck"\nnamespace = "t"\ntrusted_html = true\n')
    result = build(root)
    assert [m.name for m in result.media] == ["prikk.png"]
    assert SECRET not in package_bytes(result.path)


# --- card files that are links, pipes or folder links ----------------------

def test_a_card_file_linking_outside_the_project_is_refused(project, outside):
    (project / "cards" / "secret.md").symlink_to(outside / "secret.md")
    assert_rejected(project, "cards/secret.md:1: is a link to a file outside the project: only files "
                             "inside the deck project are built; copy the file in")


def test_a_card_file_linking_inside_the_project_builds(project):
    (project / "shared").mkdir()
    (project / "shared" / "b.md").write_text(card_text("b", "Q2?\n% back\nB"))
    (project / "cards" / "b.md").symlink_to(project / "shared" / "b.md")
    assert sorted(n.id for n in build(project).notes) == ["b", "good"]


def test_a_folder_link_is_reported_not_followed(project, outside):
    (project / "cards" / "more").symlink_to(outside, target_is_directory=True)
    assert_rejected(project, "cards/more:0: is a link to a folder: links to folders are not "
                             "followed; move the cards into cards/")


def test_a_named_pipe_is_refused_without_blocking(project):
    os.mkfifo(project / "cards" / "pipe.md")  # opening it to read would wait for a writer
    run = subprocess.run([sys.executable, str(REPO / "build_deck.py"), "build", "--root", str(project)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert run.stderr.splitlines()[0] == "cards/pipe.md:1: is not a regular file"


# --- ids -------------------------------------------------------------------

def test_a_changed_id_is_refused_naming_both_ids(project):
    (project / "cards" / "good.md").write_text(card_text("better", "Q?\n% back\nA"))
    assert_rejected(project, "cards/good.md:2: id changed from 'good' to 'better': ids are forever "
                             "(Anki knows the note by it). Put back 'good', or mark the old card "
                             "retired and make a new file")


def test_a_removed_id_is_never_reused_for_another_card(project):
    (project / "cards" / "good.md").unlink()
    (project / "cards" / "other.md").write_text(card_text("other", "Q?\n% back\nA"))
    assert build_cli(project).returncode == 0  # 'good' is gone, and remembered
    assert "good" in read_lock(project / "build-deck.lock")[0].removed

    (project / "cards" / "new.md").write_text(card_text("good", "A new question?\n% back\nB"))
    assert_rejected(project, "cards/new.md:2: id 'good' belonged to a card removed earlier "
                             "(cards/good.md): students may still have that note, and this card would "
                             "silently replace it, reviews and all. Give this card a new id; if it is "
                             "the same card brought back, delete the line \"good\" under \"removed\" "
                             "in build-deck.lock")


def test_a_removed_card_brought_back_unchanged_gets_its_old_stamp(project):
    first = read_lock(project / "build-deck.lock")[0].notes["good"]
    text = (project / "cards" / "good.md").read_text()
    (project / "cards" / "good.md").unlink()
    (project / "cards" / "other.md").write_text(card_text("other", "Q?\n% back\nA"))
    assert build_cli(project).returncode == 0
    (project / "cards" / "restored.md").write_text(text)  # e.g. `git checkout` of the old file
    assert build_cli(project).returncode == 0
    lock = read_lock(project / "build-deck.lock")[0]
    assert "good" not in lock.removed
    assert (lock.notes["good"].mod, lock.notes["good"].added) == (first.mod, first.added)


def test_the_lock_keeps_one_readable_entry_per_line(project):
    (project / "cards" / "good.md").rename(project / "cards" / "renamed.md")  # not an id change
    (project / "cards" / "other.md").write_text(card_text("other", "Q?\n% back\nA"))
    assert build_cli(project).returncode == 0
    (project / "cards" / "other.md").unlink()
    assert build_cli(project).returncode == 0
    text = (project / "build-deck.lock").read_text()
    assert re.search(r'^    "good": \{"added": \d+, "hash": "\w+", "mod": \d+, '
                     r'"path": "cards/renamed.md"\}$', text, re.M)
    assert re.search(r'^  "removed": \{\n    "other": \{[^\n]*"path": "cards/other.md"\}\n  \}$', text, re.M)


def test_a_lock_written_before_paths_and_removed_ids_still_reads(project):
    lock_path = project / "build-deck.lock"
    old = re.sub(r', "path": "[^"]*"', "", lock_path.read_text())  # the original format
    lock_path.write_text(old)
    lock, problems = read_lock(lock_path)
    assert problems == [] and lock.notes["good"].path == "" and lock.removed == {}
    package = (project / "dist" / "test-deck.apkg").read_bytes()
    assert build_cli(project).returncode == 0
    assert (project / "dist" / "test-deck.apkg").read_bytes() == package  # same stamps
    assert read_lock(lock_path)[0].notes["good"].path == "cards/good.md"


@pytest.mark.parametrize("entry", [
    {"hash": "h", "mod": "yesterday"}, {"hash": "h", "mod": -1}, {"hash": 7, "mod": 1},
    {"hash": "h", "mod": 1, "extra": 1}, "not an entry",
])
def test_a_hand_damaged_lock_entry_is_reported_not_a_traceback(project, entry):
    lock_path = project / "build-deck.lock"
    data = json.loads(lock_path.read_text())
    data["notes"]["good"] = entry
    lock_path.write_text(json.dumps(data))
    run = build_cli(project)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.startswith("build-deck.lock:1: the lock file is damaged")


# --- crash safety ----------------------------------------------------------

KILLED_BUILD = """
import os, runpy, signal, sys
sys.path.insert(0, os.environ["REPO"])
import deckbuild.build, deckbuild.package
kill_at, calls = int(os.environ["KILL_AT"]), 0
write_atomic = deckbuild.package.write_atomic

def count(frame, event, arg):  # each builtin write_atomic calls: write, fsync, replace...
    global calls
    if event == "c_call" and frame.f_code is write_atomic.__code__:
        calls += 1
        if calls == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

def traced(*args):
    sys.setprofile(count)
    try:
        return write_atomic(*args)
    finally:
        sys.setprofile(None)

deckbuild.build.write_atomic = traced
sys.argv = ["build_deck.py", "build", "--quiet", "--root", os.environ["ROOT"]]
runpy.run_path(os.path.join(os.environ["REPO"], "build_deck.py"), run_name="__main__")
"""


def state(root: Path) -> tuple[bytes, bytes]:
    return (root / "dist" / "test-deck.apkg").read_bytes(), (root / "build-deck.lock").read_bytes()


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for folder in (root, root / "dist") for p in folder.iterdir()
                  if p.name.endswith(".tmp"))


def edit_every_card(root: Path, round_: int) -> None:
    for path in sorted((root / "cards").glob("*.md")):
        path.write_text(re.sub(r"Answer \d+", f"Answer {round_}", path.read_text()))


def assert_old_or_new(root: Path, old: tuple[bytes, bytes], new: tuple[bytes, bytes]) -> None:
    """Each file is whole, old or new; and the lock is never older than the
    package (a package ahead of its lock could hide a later revert)."""
    package, lock = state(root)
    assert package in (old[0], new[0]) and lock in (old[1], new[1])
    assert not (package == new[0] and lock == old[1] and new[1] != old[1])
    assert read_lock(root / "build-deck.lock")[1] == []


@pytest.fixture
def deck(tmp_path) -> Path:
    cards = {f"c{i}.md": card_text(f"c{i}", f"Question {i}?\n% back\nAnswer 0") for i in range(30)}
    root = write_project(tmp_path / "deck", cards)
    assert build_cli(root).returncode == 0
    return root


def killed_build(root: Path, kill_at: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "REPO": str(REPO), "ROOT": str(root), "KILL_AT": str(kill_at)}
    return subprocess.run([sys.executable, "-c", KILLED_BUILD], env=env, capture_output=True, text=True)


def test_a_build_killed_at_any_write_step_leaves_the_last_good_files(deck, tmp_path, monkeypatch):
    old = state(deck)
    edit_every_card(deck, 1)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(2_000_000_000))  # every build stamps alike
    reference = tmp_path / "reference"  # what the finished build writes
    shutil.copytree(deck, reference, symlinks=True)
    assert build_cli(reference).returncode == 0
    new = state(reference)

    for kill_at in itertools.count(1):
        run = killed_build(deck, kill_at)
        if run.returncode == 0:  # past the last step: nothing was killed
            break
        assert run.returncode == -signal.SIGKILL, run.stderr
        assert_old_or_new(deck, old, new)
    assert kill_at > 10  # every step of both writes (lock, then package) was a kill point
    assert state(deck) == new and leftovers(deck) == []  # the finishing build cleaned up


def test_a_build_killed_at_random_moments_leaves_whole_files(deck):
    randomly = random.Random(7)
    for round_ in range(1, 7):
        old = state(deck)
        edit_every_card(deck, round_)
        build_ = subprocess.Popen([sys.executable, str(REPO / "build_deck.py"), "build", "--quiet",
                                   "--root", str(deck)], stderr=subprocess.PIPE)
        time.sleep(randomly.uniform(0.05, 1.5))
        build_.kill()
        build_.communicate()
        package, lock = state(deck)
        assert package == old[0] or lock != old[1]  # never a new package with the old lock
        assert read_lock(deck / "build-deck.lock")[1] == []
        with zipfile.ZipFile(deck / "dist" / "test-deck.apkg") as archive:
            assert archive.testzip() is None
    assert build_cli(deck).returncode == 0 and leftovers(deck) == []
