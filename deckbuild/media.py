"""Media referenced from cards: find references in rendered HTML, resolve
them under media/, and give each file a flat, safe name for the package.

Anki keeps media in one flat folder, and an .apkg holding a name with a
folder in it fails to import as a whole, so `img/a.png` is packed as
`img-a.png` and the reference rewritten to match.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

SRC = re.compile(r"""(<(?:img|audio|video|source)\b[^>]*?\bsrc\s*=\s*)(["'])(.*?)\2""", re.I | re.S)
SOUND = re.compile(r"\[sound:([^\]\n]+)\]")
REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//)", re.I)
SOURCELESS = re.compile(r"<(?:img|source)\b(?![^>]*\bsrc\s*=)[^>]*>", re.I)


@dataclass(frozen=True)
class MediaFile:
    name: str  # flat name inside the package and in Anki's media folder
    path: Path
    sha1: str


def media_refs(html: str) -> list[str]:
    """Media references in one field, as written (URL-quoted or not)."""
    return [m.group(3) for m in SRC.finditer(html)] + SOUND.findall(html)


def flat_name(ref: str) -> str:
    """'img/Verdi kjede.png' -> 'img-Verdi-kjede.png'."""
    parts = [p for p in unicodedata.normalize("NFC", unquote(ref)).split("/") if p]
    return re.sub(r"[^\w.-]+", "-", "-".join(parts))


def rewrite_refs(html: str, names: dict[str, str]) -> str:
    """Point every reference at its flat name (refs not in `names` stay)."""
    html = SRC.sub(lambda m: f"{m.group(1)}{m.group(2)}{names.get(m.group(3), m.group(3))}{m.group(2)}", html)
    return SOUND.sub(lambda m: f"[sound:{names.get(m.group(1), m.group(1))}]", html)


def may_refer(html: str) -> bool:
    """Whether a field can hold a reference or a sourceless image at all:
    every one starts with a tag or `[sound:` (a quick test that spares the
    regexes above most fields, which are plain text)."""
    return "<" in html or "[sound:" in html


def dropped_source(html: str) -> str | None:
    """Why an image in sanitized HTML has no source: the sanitizer drops
    file:, data: and drive-letter URLs, which must be refused, not lost."""
    if SOURCELESS.search(html):
        return ("an image without a source: only files under media/ can be shown (not file: or data: "
                "URLs, drive paths or web addresses)")
    return None


def check_ref(ref: str) -> str | None:
    """Why a reference can never be packed, or None."""
    if REMOTE.match(ref):
        return f"media '{ref}' is not a file under media/: decks must work offline, so download it into media/"
    decoded = unquote(ref)
    if decoded.startswith("/") or "\\" in decoded or re.match(r"^[A-Za-z]:", decoded):
        return f"media '{ref}' must be a path relative to media/"
    if any(part in ("..", ".") for part in decoded.split("/")):
        return f"media '{ref}' leaves media/: only files under media/ can be packed"
    name = flat_name(ref)
    if not name or name.startswith((".", "_")):
        return (f"media '{ref}' has a name Anki treats specially (leading '.' or '_'): "
                "rename the file")
    return None


def locate(ref: str, media_dir: Path) -> tuple[MediaFile | None, str | None]:
    """The file a card's (unescaped) reference names, under its flat name;
    or why it can't be packed."""
    reason = check_ref(ref)
    if reason:
        return None, reason
    return media_file(flat_name(ref), media_dir / unquote(ref), media_dir, ref)


def media_file(name: str, path: Path, media_dir: Path, ref: str | None = None) -> tuple[MediaFile | None, str | None]:
    """`path` packed as `name`, if it is a file inside media/ and media/ is
    inside the project (its parent): a link leading anywhere else is refused,
    so nothing from outside the deck project can land in the package."""
    shown = ref or name
    try:
        real = path.resolve()
        if not real.exists():
            return None, f"media file not found: media/{shown}"
        real_media = media_dir.resolve()
        if not (_within(real, real_media) and _within(real_media, media_dir.parent.resolve())):
            return None, (f"media '{shown}' is a link to a file outside media/: only files inside "
                          "the deck project's media/ are packed; copy the file in")
        if not real.is_file():
            return None, f"media '{shown}' is not a file"
        return MediaFile(name, real, file_sha1(real)), None
    except (OSError, ValueError, RuntimeError) as err:  # unreadable, NUL in name, link loop
        return None, f"media '{shown}' can't be read: {getattr(err, 'strerror', None) or err}"


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def file_sha1(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()
