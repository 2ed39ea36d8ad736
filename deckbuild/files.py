"""Find and read card files: the input edge of the pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .problems import Problem

CARD_SUFFIX = ".md"


@dataclass(frozen=True)
class CardFile:
    rel: str  # path relative to the project root, with '/', for messages
    folders: tuple[str, ...]  # folders under cards/: the subdeck path
    text: str


def find_card_paths(cards_dir: Path) -> list[Path]:
    """Every card file under cards/, in a stable order; dot-folders are skipped."""
    if not cards_dir.is_dir():
        return []
    found = []
    for path in cards_dir.rglob("*" + CARD_SUFFIX):
        parts = path.relative_to(cards_dir).parts
        if any(part.startswith(".") for part in parts):
            continue
        found.append(path)
    return sorted(found, key=lambda p: p.relative_to(cards_dir).as_posix())


def read_card_files(root: Path, cards_dir: Path) -> tuple[list[CardFile], list[Problem]]:
    files, problems = [], []
    for path in find_card_paths(cards_dir):
        rel = path.relative_to(root).as_posix()
        card_file, problem = decode_card_file(rel, path.relative_to(cards_dir).parts[:-1],
                                              path.read_bytes())
        if problem:
            problems.append(problem)
        else:
            files.append(card_file)
    return files, problems


def decode_card_file(rel: str, folders: tuple[str, ...], data: bytes) -> tuple[CardFile | None, Problem | None]:
    """UTF-8 (with or without BOM, LF or CRLF) is the one accepted encoding."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        hint = " (looks like UTF-16)" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        return None, Problem(rel, line, f"not valid UTF-8{hint}; save the file as UTF-8")
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        return None, Problem(rel, line, "contains a NUL byte; is this a text file?")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        return None, Problem(rel, 1, "empty file: a card file needs front matter and a body")
    return CardFile(rel=rel, folders=tuple(folders), text=text), None
