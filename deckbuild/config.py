"""Deck settings from `deck.toml` in the project root, with defaults so a
folder holding only `cards/` builds too."""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .problems import Problem

CONFIG_NAME = "deck.toml"

KNOWN_KEYS = {
    "name": str,
    "description": str,
    "namespace": str,
    "language": str,
    "trusted_html": bool,
    "ignore": list,
    "words": list,
}


@dataclass(frozen=True)
class DeckConfig:
    root: Path
    name: str
    description: str = ""
    # Salt for every note GUID and deck id. Changing it re-identifies every
    # note, so the lock file remembers it (see lock.py).
    namespace: str = ""
    language: str = ""
    trusted_html: bool = False
    ignore: tuple[str, ...] = ()  # lint rule codes switched off deck-wide
    words: tuple[str, ...] = ()  # accepted words for the spelling rule

    @property
    def cards_dir(self) -> Path:
        return self.root / "cards"

    @property
    def media_dir(self) -> Path:
        return self.root / "media"

    @property
    def dist_dir(self) -> Path:
        return self.root / "dist"

    @property
    def package_path(self) -> Path:
        """Where `build` writes the deck, and where `verify` and `diff` look."""
        return self.dist_dir / f"{self.slug}.apkg"

    @property
    def lock_path(self) -> Path:
        return self.root / "build-deck.lock"

    @property
    def slug(self) -> str:
        return slugify(self.name)


def slugify(text: str) -> str:
    """ASCII file-name-safe form: 'Salg og service' -> 'salg-og-service'."""
    text = text.replace("æ", "ae").replace("ø", "o").replace("å", "a")
    text = text.replace("Æ", "Ae").replace("Ø", "O").replace("Å", "A")
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:80].strip("-")  # a file name
    return slug or "deck"


def load_config(root: Path) -> tuple[DeckConfig, list[Problem]]:
    root = root.resolve()
    default_name = root.name or "Deck"
    path = root / CONFIG_NAME
    if not path.is_file():
        return DeckConfig(root=root, name=default_name), []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        return DeckConfig(root=root, name=default_name), [
            Problem(CONFIG_NAME, 1, "not valid UTF-8")
        ]
    except tomllib.TOMLDecodeError as err:
        line = getattr(err, "lineno", None) or _line_from_message(str(err))
        return DeckConfig(root=root, name=default_name), [
            Problem(CONFIG_NAME, line, f"invalid TOML: {err}")
        ]
    problems = []
    values: dict = {}
    for key, value in data.items():
        expected = KNOWN_KEYS.get(key)
        if expected is None:
            problems.append(Problem(CONFIG_NAME, _line_of_key(path, key),
                                    f"unknown setting '{key}' (known: {', '.join(KNOWN_KEYS)})"))
        elif not isinstance(value, expected) or (
            expected is list and not all(isinstance(v, str) for v in value)
        ):
            problems.append(Problem(CONFIG_NAME, _line_of_key(path, key),
                                    f"'{key}' must be {_type_name(expected)}"))
        else:
            values[key] = tuple(value) if expected is list else value
    name = values.get("name", default_name).strip()
    if not name or "::" in name:
        problems.append(Problem(CONFIG_NAME, _line_of_key(path, "name"),
                                "'name' must be a non-empty deck name without '::'"))
        name = default_name
    values["name"] = name
    return DeckConfig(root=root, **values), problems


def _type_name(t: type) -> str:
    return {str: "a string", bool: "true or false", list: "a list of strings"}[t]


def _line_of_key(path: Path, key: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if re.match(rf"\s*{re.escape(key)}\s*=", line):
            return number
    return 1


def _line_from_message(message: str) -> int:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else 1
