"""Note types are a public API: Anki matches them by id, and a change to field
or template names forks them in every user's collection ("Basic+"), after
which their notes stop updating.

If this test fails, you changed something users depend on. Do not edit the
expected values: revert the change, or add a *new* note type with a new id
(and keep the old one so existing cards keep updating).
"""

from deckbuild.notetypes import BUILTIN, CLOZE, NORMAL

PINNED = {
    "basic": (1213404095, "Basic (build-deck)", NORMAL,
              ["Front", "Back", "Extra", "Source"], ["Card 1"]),
    "reversed": (1544660511, "Basic and reversed (build-deck)", NORMAL,
                 ["Front", "Back", "Extra", "Source"], ["Card 1", "Card 2"]),
    "cloze": (1807523945, "Cloze (build-deck)", CLOZE,
              ["Text", "Extra", "Source"], ["Cloze"]),
    "type-in": (1635652019, "Type-in answer (build-deck)", NORMAL,
                ["Front", "Back", "Extra", "Source"], ["Card 1"]),
}


def test_builtin_note_types_are_pinned():
    actual = {key: (t.id, t.name, t.kind, list(t.fields), [tpl.name for tpl in t.templates])
              for key, t in BUILTIN.items()}
    assert actual == PINNED, (
        "A built-in note type's id, name, kind, field names or template names changed. Anki "
        "matches note types by id, and one whose fields or templates changed forks ('Basic+') in "
        "every student's collection, after which its notes stop updating. Do not edit PINNED: "
        "revert the change, or add a new note type with a new id and keep this one.")


def test_templates_load_nothing_from_the_network():
    for note_type in BUILTIN.values():
        text = note_type.css + "".join(t.front + t.back for t in note_type.templates)
        assert "http:" not in text and "https:" not in text and "@import" not in text
        assert "<script" not in text


def test_css_follows_anki_night_mode_and_fits_phones():
    css = BUILTIN["basic"].css
    assert ".nightMode" in css and ".night_mode" in css
    assert "max-width: 100%" in css  # images scale down


def test_every_type_shows_source_and_extra_on_the_back():
    for note_type in BUILTIN.values():
        for template in note_type.templates:
            assert "{{Source}}" in template.back and "{{Extra}}" in template.back
            assert "{{Source}}" not in template.front
