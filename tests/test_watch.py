"""`watch`: a rebuild after every change to the sources, one status line each,
errors shown, and the last good package kept. Runs the watcher in a thread
(and the CLI in a process) with bounded waits, so a broken watcher fails
the test instead of hanging it."""

import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conftest import REPO, card_text
from deckbuild.watch import is_source, rebuild, watch_project

WAIT = 20  # seconds: generous for a slow machine; a healthy run takes well under one


@pytest.fixture
def watching(fixture_project: Path):
    """A watcher thread on the fixture deck; yields the queue of statuses."""
    statuses: queue.Queue = queue.Queue()
    stop = threading.Event()
    thread = threading.Thread(target=watch_project, args=(fixture_project, statuses.put, stop),
                              kwargs={"debounce_ms": 100}, daemon=True)
    thread.start()
    yield statuses
    stop.set()
    thread.join(timeout=WAIT)
    assert not thread.is_alive(), "the watcher did not stop"


def next_status(statuses: queue.Queue):
    return statuses.get(timeout=WAIT)


def edit(path: Path, old: str, new: str) -> None:
    path.write_text(path.read_text().replace(old, new))


def test_rebuilds_on_change_and_keeps_the_last_good_package(fixture_project: Path, watching):
    first = next_status(watching)
    assert first.ok and " built 4 notes, 6 cards, 1 media files -> dist/test-deck.apkg " in first.line
    package = fixture_project / "dist" / "test-deck.apkg"
    good = package.read_bytes()

    card = fixture_project / "cards" / "plain.md"
    edit(card, "punkt to", "punkt tre")
    second = next_status(watching)
    assert second.ok and package.read_bytes() != good
    good = package.read_bytes()

    edit(card, "type: basic", "type: flip")
    broken = next_status(watching)
    assert not broken.ok and broken.line.endswith("1 error(s); the last good package is kept")
    assert [str(p) for p in broken.problems] == [
        "cards/plain.md:3: unknown type 'flip' (known: basic, reversed, cloze, type-in)"]
    assert package.read_bytes() == good

    edit(card, "type: flip", "type: basic")
    assert next_status(watching).ok


def test_media_and_deck_settings_trigger_a_build_too(fixture_project: Path, watching):
    assert next_status(watching).ok
    (fixture_project / "media" / "bilder" / "prikk.png").write_bytes(b"new picture")
    assert next_status(watching).ok
    edit(fixture_project / "deck.toml", 'name = "Test deck"', 'name = "Test deck"\ncolour = "red"')
    assert "1 error(s)" in next_status(watching).line


def test_only_sources_count(fixture_project: Path):
    root = fixture_project
    assert is_source(root, str(root / "cards" / "Del 1" / "reversed.md"))
    assert is_source(root, str(root / "notetypes" / "vocab" / "style.css"))
    assert is_source(root, str(root / "deck.toml"))
    assert not is_source(root, str(root / "dist" / "test-deck.apkg"))  # its own output
    assert not is_source(root, str(root / "build-deck.lock"))
    assert not is_source(root, str(root / "cards" / ".plain.md.swp"))
    assert not is_source(root, str(root / "cards" / "plain.md~"))
    assert not is_source(root, str(root.parent / "elsewhere.md"))


def test_one_build_reports_errors_without_raising(fixture_project: Path):
    (fixture_project / "cards" / "bad.md").write_text(card_text("bad", "Q?"))
    status = rebuild(fixture_project)
    assert not status.ok and [p.message for p in status.problems] == ["missing '% back' section"]
    assert not (fixture_project / "dist").exists()


def test_cli_prints_one_line_per_build_and_stops_on_ctrl_c(fixture_project: Path):
    # Ctrl-C as in a terminal: a test run started in the background (`cmd &`
    # in a script) ignores SIGINT, and its children would inherit that.
    process = subprocess.Popen([sys.executable, "-u", str(REPO / "build_deck.py"), "watch"],
                               cwd=fixture_project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    try:
        assert " built 4 notes" in lines.get(timeout=WAIT)
        edit(fixture_project / "cards" / "plain.md", "punkt to", "punkt tre")
        assert " built 4 notes" in lines.get(timeout=WAIT)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=WAIT)
        finally:
            process.kill()
    assert process.returncode == 0 and "Traceback" not in process.stderr.read()
