"""Find and read card files: the input edge of the pipeline.

A deck project may come from anyone, so reading is bounded and stays inside
the project: a card file that is a link to a file outside it is refused (its
text would land in the package), links to folders are not followed, folders
nest at most MAX_DEPTH deep, and only regular files up to MAX_CARD_BYTES are
read (a named pipe would block the build forever).
"""

from __future__ import annotations

import errno
import os
import re
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .problems import Problem

CARD_SUFFIX = ".md"
MAX_CARD_BYTES = 1 << 20  # a card file holds one note; its Markdown sections are capped in cards.py
MAX_DEPTH = 32  # folders below cards/: subdecks
BAD_NAME = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")  # control characters; bytes that aren't UTF-8


@dataclass(frozen=True)
class CardFile:
    rel: str  # path relative to the project root, with '/', for messages
    folders: tuple[str, ...]  # folders under cards/: the subdeck path
    text: str


def find_card_paths(cards_dir: Path) -> tuple[list[tuple[str, ...]], list[tuple[tuple[str, ...], str]]]:
    """Every card file under cards/, as its path parts below cards/, in a
    stable order; dot-folders and dot-files are skipped. Also what could not
    be walked: (parts, why). (os.scandir on strings: pathlib costs more than
    reading; a loop, not recursion, whatever the depth.)"""
    found, refused = [], []
    pending: list[tuple[str, ...]] = [()]
    while pending:
        parts = pending.pop()
        try:
            with os.scandir(os.path.join(cards_dir, *parts)) as scan:
                entries = list(scan)
        except OSError as err:
            if parts:
                refused.append((parts, f"can't read this folder: {err.strerror}"))
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            here = parts + (entry.name,)
            if entry.is_dir(follow_symlinks=False):
                if len(here) > MAX_DEPTH:
                    refused.append((here, f"folders nest more than {MAX_DEPTH} deep here; not read"))
                else:
                    pending.append(here)
            elif entry.is_symlink() and _is_dir(entry):
                refused.append((here, "is a link to a folder: links to folders are not followed; "
                                      "move the cards into cards/"))
            elif entry.name.endswith(CARD_SUFFIX):
                found.append(here)
    return sorted(found, key="/".join), refused


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


@dataclass(slots=True)  # as BuiltNote: one per card file, never changed once made
class CardPath:
    """A card file found, not yet read."""

    rel: str  # path relative to the project root, with '/'; interned: the lock and
    # the snapshot name it too, and a big deck's would otherwise hold it four times
    folders: tuple[str, ...]  # one tuple per folder, shared by its files


def find_card_files(root: Path, cards_dir: Path) -> tuple[list[CardPath], list[Problem]]:
    """Every card file under cards/ in a stable order, and what can't be walked."""
    prefix = cards_dir.relative_to(root).as_posix()
    if not _inside(cards_dir, os.path.realpath(root)):
        return [], [Problem(prefix, 0, "is a link to a folder outside the project: only files "
                                       "inside the deck project are built")]
    found, refused = find_card_paths(cards_dir)
    problems = [Problem(_printable(f"{prefix}/{'/'.join(parts)}"), 0, why) for parts, why in refused]
    folders: dict[tuple[str, ...], tuple[str, ...]] = {}
    return [CardPath(sys.intern(f"{prefix}/{'/'.join(parts)}"), folders.setdefault(parts[:-1], parts[:-1]))
            for parts in found], problems


def os_paths(root: Path, paths: list[CardPath]) -> Iterator[str]:
    """Where each card file is, for the OS. (Joined as strings: os.path.join
    costs as much as a read.)"""
    prefix = os.fspath(root) + os.sep
    return (prefix + path.rel for path in paths)


def read_card_files(root: Path, cards_dir: Path) -> tuple[list[CardFile], list[Problem]]:
    paths, problems = find_card_files(root, cards_dir)
    files, read_problems = read_cards(root, paths)
    return files, problems + read_problems


def read_cards(root: Path, paths: list[CardPath]) -> tuple[list[CardFile], list[Problem]]:
    files, problems = [], []
    real_root = os.path.realpath(root)
    for path, os_path in zip(paths, os_paths(root, paths)):
        data, why = _read(os_path, real_root)
        if why is None and BAD_NAME.search(path.rel):
            why = "a file or folder name with a control character or bytes that aren't UTF-8: rename it"
        if why is not None:
            problems.append(Problem(_printable(path.rel), 1, why))
            continue
        card_file, problem = decode_card_file(path.rel, path.folders, data)
        if problem:
            problems.append(problem)
        else:
            files.append(card_file)
    return files, problems


READ_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)  # opening a link then fails: one call tells a link


def _read(path: str, real_root: str) -> tuple[bytes, str | None]:
    """The bytes of a card file, or why it can't be read."""
    try:
        fd = _open(path, real_root)
        if fd is None:
            return b"", ("is a link to a file outside the project: only files inside the deck "
                         "project are built; copy the file in")
        try:
            # A bare descriptor, not a file object: its buffer costs more than
            # the read of a card file (and a build reads thousands).
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                return b"", "is not a regular file"
            # Read what fstat promises, not the cap: a 1 MB buffer per file
            # costs more than the read. A file that grew since: on to the cap.
            data = _read_up_to(fd, info.st_size + 1) if info.st_size <= MAX_CARD_BYTES else b""
            if len(data) > info.st_size:
                data += _read_up_to(fd, MAX_CARD_BYTES + 1 - len(data))
        finally:
            os.close(fd)
    except OSError as err:
        return b"", f"can't read it: {err.strerror}"
    if len(data) > MAX_CARD_BYTES or info.st_size > MAX_CARD_BYTES:
        return b"", (f"is {max(info.st_size, len(data)):,} bytes; a card file holds one note: "
                     f"at most {MAX_CARD_BYTES:,}")
    return data, None


def _open(path: str, real_root: str) -> int | None:
    """A descriptor to read the file by; None for a link to outside the project."""
    if NO_FOLLOW:
        try:
            return os.open(path, READ_FLAGS | NO_FOLLOW)
        except OSError as err:
            if err.errno != errno.ELOOP:  # not a link
                raise
    if os.path.islink(path) and not _inside(path, real_root):
        return None
    return os.open(path, READ_FLAGS)


def _read_up_to(fd: int, size: int) -> bytes:
    """`size` bytes, fewer where the file ends: a regular file reads short
    only at its end, so a short read ends it (one read for a card file)."""
    data = b""
    while len(data) < size:
        wanted = size - len(data)
        chunk = os.read(fd, wanted)
        data += chunk
        if len(chunk) < wanted:
            break
    return data


def _inside(path: str | Path, real_root: str) -> bool:
    real = os.path.realpath(path)
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def _printable(rel: str) -> str:
    """A path as it can be printed, whatever bytes its name holds."""
    shown = rel.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return BAD_NAME.sub("?", shown)


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
