"""build_deck: compile Markdown card files into Anki decks that update safely.

The pipeline, one module per stage, data passed forward:

    config   -> DeckConfig           (deck.toml)
    files    -> CardFile             (read cards/**/*.md)
    cards    -> Card                 (front matter + body sections)
    render   -> rendered HTML fields (Python-Markdown, cloze/math/sound kept)
    media    -> MediaFile            (referenced files, flat names)
    lock     -> stable mod times     (build-deck.lock)
    package  -> .apkg bytes          (genanki models, SQLite, zip)
    build    -> ties the stages together

`notetypes` is the one place that knows Anki's ids, fields and templates;
`cache` and `snapshot` remember what earlier builds made, so a build redoes
only what changed.
"""

__version__ = "0.1.0"
