#!/usr/bin/env python3
"""The floor for building a deck: the least work any build of it must do.

    python benchmarks/floor.py DECK OUT.apkg

Reads every card file under DECK/cards, turns each section into HTML with
the cheapest "renderer" there is (escaped, in a paragraph: cheaper than any
Markdown renderer), writes them into a SQLite notes table as Anki's
collection holds them (fields joined by \x1f) and deflates it into OUT.
The performance issue sets the one-card edit loop a target of twice this,
measured by run.py in the same run on the same machine. Standard
library only; nothing here is used by build_deck.
"""

from __future__ import annotations

import html
import os
import sqlite3
import sys
import tempfile
import zipfile
from pathlib import Path


def main() -> None:
    deck, out = Path(sys.argv[1]), Path(sys.argv[2])
    paths = sorted(os.path.join(folder, name) for folder, _, names in os.walk(deck / "cards")
                   for name in names if name.endswith(".md"))
    rows = []
    for number, path in enumerate(paths, 1):
        with open(path, encoding="utf-8") as card:
            sections = card.read().split("\n% ")
        rows.append((number, path, "\x1f".join(f"<p>{html.escape(s)}</p>" for s in sections)))
    with tempfile.TemporaryDirectory() as tmp:
        collection = Path(tmp) / "collection.anki2"
        db = sqlite3.connect(collection)
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, guid TEXT, flds TEXT)")
        db.executemany("INSERT INTO notes VALUES (?, ?, ?)", rows)
        db.commit()
        db.close()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as apkg:
            apkg.write(collection, "collection.anki2")


if __name__ == "__main__":
    main()
