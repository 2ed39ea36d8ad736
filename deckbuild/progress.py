"""A progress bar for builds and imports big enough to make someone wait.

Only on a terminal, only past a few hundred cards, and never with `--quiet`:
logs, CI and pipes get the same plain output as before. The pipeline just
calls a `(done, total)` callback; this is the one place that draws.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Iterator, TextIO

THRESHOLD = 300  # cards: below this a build is over before a bar would help


@contextmanager
def progress_bar(label: str, quiet: bool = False, stream: TextIO | None = None,
                 threshold: int = THRESHOLD) -> Iterator[Callable[[int, int], None] | None]:
    """A `(done, total)` callback drawing a bar on `stream` (default stderr),
    or None when no bar should show. The bar vanishes when done."""
    stream = stream or sys.stderr
    if quiet or not stream.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   console=Console(file=stream), transient=True)
    task = None

    def update(done: int, total: int) -> None:
        nonlocal task
        if total < threshold:
            return
        if task is None:
            bar.start()
            task = bar.add_task(label, total=total)
        bar.update(task, completed=done, total=total)

    try:
        yield update
    finally:
        if task is not None:
            bar.stop()
