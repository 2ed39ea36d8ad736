"""Problems are values: every stage collects them with their location, and
only the CLI edge turns them into output and an exit code."""

from __future__ import annotations

from dataclasses import dataclass


# Slots and not frozen, as the other per-card values: a check of a big deck
# can report tens of thousands, and a frozen dataclass costs ten times as
# much to make. Nothing changes one once made.
@dataclass(order=True, slots=True)
class Problem:
    path: str
    line: int
    message: str
    col: int = 0
    code: str = ""
    severity: str = "error"  # "error" or "warning"

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}:{self.col}" if self.col else f"{self.path}:{self.line}"
        code = f" {self.code}" if self.code else ""
        return f"{where}:{code} {self.message}"

    def values(self) -> tuple:
        """Plain values (`Problem(*values)` makes it again): to cross from a
        worker process, or to be kept."""
        return self.path, self.line, self.message, self.col, self.code, self.severity

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


class ProjectError(Exception):
    """Raised with every problem at once, so the CLI can report them together."""

    def __init__(self, problems: list[Problem]):
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = sorted(problems)
