"""Find and read card files: the input edge of the pipeline."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .problems import Problem

CARD_SUFFIX = ".md"


@dataclass(frozen=True)
class CardFile:
    rel: str  # path relative to the project root, with '/', for messages
    folders: tuple[str, ...]  # folders under cards/: the subdeck path
    text: str


def find_card_paths(cards_dir: Path) -> list[tuple[str, ...]]:
    """Every card file under cards/, as its path parts below cards/, in a
    stable order; dot-folders and dot-files are skipped, links to folders
    not followed. (os.walk on strings: pathlib costs more than reading.)"""
    found = []
    for folder, dirs, names in os.walk(cards_dir):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        parts = tuple(Path(folder).relative_to(cards_dir).parts)
        found += [parts + (name,) for name in names
                  if name.endswith(CARD_SUFFIX) and not name.startswith(".")]
    return sorted(found, key="/".join)


def read_card_files(root: Path, cards_dir: Path) -> tuple[list[CardFile], list[Problem]]:
    files, problems = [], []
    prefix = cards_dir.relative_to(root).as_posix()
    for parts in find_card_paths(cards_dir):
        with open(os.path.join(cards_dir, *parts), "rb") as handle:
            data = handle.read()
        card_file, problem = decode_card_file(f"{prefix}/{'/'.join(parts)}", parts[:-1], data)
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
