"""`new`: write a card file with a fresh id, so nobody invents ids by hand."""

from __future__ import annotations

import secrets
from pathlib import Path

from .config import slugify

ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # no 0/o, 1/l lookalikes

SKELETONS = {
    "basic": "Question?\n\n% back\nAnswer.\n\n% extra\n",
    "reversed": "Term\n\n% back\nDefinition.\n\n% extra\n",
    "cloze": "A sentence with a {{c1::hidden part}}.\n\n% extra\n",
    "type-in": "Question whose answer is typed?\n\n% back\nanswer\n",
}


def fresh_id(stem: str, taken: set[str]) -> str:
    prefix = slugify(stem)[:40] + "-" if stem else ""
    while True:
        card_id = prefix + "".join(secrets.choice(ALPHABET) for _ in range(6))
        if card_id not in taken:
            return card_id


def card_skeleton(card_id: str, note_type: str, source: str = "") -> str:
    return (f"---\nid: {card_id}\ntype: {note_type}\ntags: []\nsource: {source!r}\n---\n"
            + SKELETONS[note_type])


def new_card_path(cards_dir: Path, path: Path | None, card_id: str) -> Path:
    if path is None:
        return cards_dir / f"{card_id}.md"
    return path if path.suffix == ".md" else path.with_suffix(".md")
