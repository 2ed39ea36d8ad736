"""`watch`: rebuild whenever a card, media file, note type or deck.toml
changes, and say in one line how it went.

A failed build writes nothing (build raises before it touches dist/), so the
last good package stays in place for whoever is testing it in Anki. The
build's own output (dist/, the lock) is not watched: it would loop.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .problems import Problem, ProjectError

WATCHED_FOLDERS = ("cards", "media", "notetypes")
WATCHED_FILES = ("deck.toml",)
EDITOR_LITTER = (".swp", ".swx", ".tmp", "~")


@dataclass(frozen=True)
class Status:
    ok: bool
    line: str  # one line: when, and what was built or how many errors
    problems: list[Problem] = field(default_factory=list)


def rebuild(root: Path, clock: Callable[[], float] = time.time) -> Status:
    """Build once; never raises for problems in the project."""
    from .build import build

    started = clock()
    when = time.strftime("%H:%M:%S", time.localtime(started))
    try:
        result = build(root)
    except ProjectError as err:
        errors = [p for p in err.problems if p.is_error]
        return Status(False, f"{when} {len(errors)} error(s); the last good package is kept", err.problems)
    cards = sum(result.cards_by_type.values())
    return Status(True, f"{when} built {result.note_count} notes, {cards} cards, {len(result.media)} media "
                        f"files -> {result.path.relative_to(result.path.parent.parent).as_posix()} "
                        f"({clock() - started:.1f} s)")


def is_source(root: Path, path: str) -> bool:
    """A file the build reads, not one it writes or an editor's scratch file."""
    try:
        rel = Path(path).resolve().relative_to(root.resolve())
    except ValueError:
        return False
    if not rel.parts or any(part.startswith(".") for part in rel.parts) or rel.name.endswith(EDITOR_LITTER):
        return False
    return rel.parts[0] in WATCHED_FOLDERS or rel.as_posix() in WATCHED_FILES


def watch_project(root: Path, report: Callable[[Status], None], stop: threading.Event | None = None,
                  step: Callable[[Path], Status] = rebuild, debounce_ms: int = 300) -> None:
    """Build now, then after every burst of changes, until `stop` is set
    (or Ctrl-C). `report` gets one Status per build."""
    import watchfiles

    built = False
    # The first build waits for the watcher's first (empty) tick, so a change
    # made while it runs is already being watched and triggers the next one.
    for changes in watchfiles.watch(root, watch_filter=lambda change, path: is_source(root, path),
                                    stop_event=stop, debounce=debounce_ms, step=50,
                                    rust_timeout=200, yield_on_timeout=True):
        if changes or not built:
            report(step(root))
            built = True
