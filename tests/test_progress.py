"""Progress: the pipeline reports `(done, total)`; a bar shows it only on a
terminal, only for decks of a few hundred cards or more, never with
`--quiet`. Logs and pipes get exactly the plain output they always got."""

import io
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from conftest import REPO, card_text, write_project
from deckbuild.build import build
from deckbuild.importer import import_deck
from deckbuild.progress import THRESHOLD, progress_bar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_build_reports_each_card(fixture_project: Path):
    calls = []
    build(fixture_project, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_an_import_reports_until_done(fixture_project: Path, tmp_path: Path):
    calls = []
    import_deck(build(fixture_project).path, tmp_path / "again",
                progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (8, 8) and [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_no_bar_off_a_terminal_or_when_quiet():
    with progress_bar("Building", stream=io.StringIO()) as progress:
        assert progress is None
    with progress_bar("Building", quiet=True, stream=Terminal()) as progress:
        assert progress is None


def test_a_bar_on_a_terminal_only_for_big_decks():
    small = Terminal()
    with progress_bar("Building", stream=small) as progress:
        for done in range(1, 11):
            progress(done, 10)
    assert small.getvalue() == ""
    big = Terminal()
    with progress_bar("Building", stream=big) as progress:
        for done in range(1, THRESHOLD + 1):
            progress(done, THRESHOLD)
    assert "Building" in big.getvalue() and f"{THRESHOLD}/{THRESHOLD}" in big.getvalue()


def run_on_terminal(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run the CLI with stderr on a pseudo-terminal; what the terminal got."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen([sys.executable, str(REPO / "build_deck.py"), *args], cwd=cwd,
                               stdout=subprocess.DEVNULL, stderr=terminal,
                               env={**os.environ, "TERM": "xterm", "COLUMNS": "100"})
    os.close(terminal)
    output, deadline = b"", time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 1)
        if ready:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
        elif process.poll() is not None:
            break
    os.close(controller)
    return process.wait(timeout=60), output.decode("utf-8", "replace")


def test_cli_draws_the_bar_on_a_terminal_and_nowhere_else(tmp_path: Path):
    cards = {f"c{i:03}.md": card_text(f"c-{i}", f"Spørsmål {i}?\n% back\nSvar {i}.") for i in range(THRESHOLD)}
    root = write_project(tmp_path / "big", cards)
    code, shown = run_on_terminal(["build"], root)
    assert code == 0 and "Building" in shown
    code, shown = run_on_terminal(["build", "--quiet"], root)
    assert code == 0 and shown == ""
    piped = subprocess.run([sys.executable, str(REPO / "build_deck.py"), "build"], cwd=root,
                           capture_output=True, text=True)
    assert piped.returncode == 0 and piped.stderr == ""
    assert piped.stdout.startswith(f"{THRESHOLD} notes, {THRESHOLD} cards")
