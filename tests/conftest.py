"""Shared fixtures: small deck projects written into tmp_path, and the
shipped deck's root."""

from __future__ import annotations

import shutil
from pathlib import Path
from textwrap import dedent

import pytest

REPO = Path(__file__).resolve().parent.parent


def card_text(id: str, body: str, type: str = "basic", tags: str = "[test]",
              source: str = "Test source", extra_meta: str = "") -> str:
    """A card file as an author writes it."""
    meta = f"id: {id}\ntype: {type}\ntags: {tags}\nsource: {source}\n{extra_meta}"
    return f"---\n{meta.rstrip()}\n---\n{dedent(body).strip()}\n"


def write_project(root: Path, cards: dict[str, str], media: dict[str, bytes] | None = None,
                  config: str | None = 'name = "Test deck"\nnamespace = "test-deck"\n') -> Path:
    """Write deck.toml, cards/<rel> and media/<rel> under root."""
    root.mkdir(parents=True, exist_ok=True)
    if config is not None:
        (root / "deck.toml").write_text(config, encoding="utf-8")
    for rel, text in cards.items():
        path = root / "cards" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for rel, data in (media or {}).items():
        path = root / "media" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


# A 1x1 PNG, so media tests need no image library.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360f8cfc0f01f0005fe02fea7d4a6a40000000049454e44ae426082"
)

FIXTURE_CARDS = {
    "plain.md": card_text("basic-1", """
        Hva er *verdikjeden*?

        % back
        Alt som **øker** fortjenesten.

        % extra
        - punkt en
        - punkt to
        """, tags="[salg, verdi]"),
    "Del 1/reversed.md": card_text("rev-1", """
        Sosialfella

        % back
        Å bruke tid sosialt uten at det gir salg.
        """, type="reversed"),
    "Del 1/Kapittel/cloze.md": card_text("cloze-1", r"""
        Søppel er alt som ikke bidrar til {{c1::verdikjeden::kjede}}, og {{c2::snake_case_ord}} \(a_1 * b_2\).

        % extra
        ![En prikk](bilder/prikk.png)
        """, type="cloze"),
    "Del 2/type.md": card_text("type-1", """
        Hvilken kjede skal alt bidra til?

        % back
        verdikjeden
        """, type="type-in"),
}


@pytest.fixture
def fixture_project(tmp_path: Path) -> Path:
    """A deck with every note type, subdecks, tags and an image in a media subfolder."""
    return write_project(tmp_path / "deck", FIXTURE_CARDS, {"bilder/prikk.png": PNG})


@pytest.fixture
def shipped_deck(tmp_path: Path) -> Path:
    """A copy of the repository's own deck project (cards, media, deck.toml, lock)."""
    root = tmp_path / "salg"
    for name in ("cards", "media"):
        shutil.copytree(REPO / name, root / name)
    for name in ("deck.toml", "build-deck.lock"):
        if (REPO / name).exists():
            shutil.copy(REPO / name, root / name)
    return root
