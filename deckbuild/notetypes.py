"""The one place that knows Anki's note types: ids, fields, templates, CSS.

Note types are a public API. Anki matches a note type by id on import, and a
change to its field names or template names forks it in every user's
collection ("Basic+"), after which their notes stop updating. So ids, field
names and template names below never change; tests/test_notetypes.py pins
them. Template *content* and CSS may change: the lock gives the note type a
new `mod` and Anki's importer updates it in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from .media import MediaFile

# Anki's model types (genanki.Model.FRONT_BACK and CLOZE). genanki itself is
# imported only to write a note type out: a build with nothing to do never does.
NORMAL, CLOZE = 0, 1


@dataclass(frozen=True)
class Template:
    name: str
    front: str
    back: str


@dataclass(frozen=True)
class NoteType:
    key: str  # what a card file's `type:` says
    id: int
    name: str
    kind: int  # NORMAL or CLOZE
    fields: tuple[str, ...]
    templates: tuple[Template, ...]
    css: str
    required: tuple[str, ...]  # fields a card must fill
    media: tuple[MediaFile, ...] = ()  # `_` files the templates load (custom types)

    @property
    def first_field(self) -> str:
        return self.fields[0]

    @cached_property  # asked for every card parsed
    def sections(self) -> dict[str, str]:
        """Body section marker (`% back`) -> field name. The first field is
        the text before any marker; `Source` comes from front matter."""
        return {f.lower(): f for f in self.fields[1:] if f != "Source"}

    @property
    def schema(self) -> dict:
        """What Anki compares to decide whether an import forks the type."""
        return {"fields": list(self.fields), "templates": [t.name for t in self.templates],
                "kind": self.kind}

    def to_anki_json(self, mod: int, deck_id: int) -> dict:
        import genanki

        model = genanki.Model(
            model_id=self.id,
            name=self.name,
            fields=[{"name": f} for f in self.fields],
            templates=[{"name": t.name, "qfmt": t.front, "afmt": t.back} for t in self.templates],
            css=self.css,
            model_type=self.kind,
            sort_field_index=0,
        )
        return model.to_json(mod, deck_id)


CSS = """\
.card {
  --text: #1f2328;
  --muted: #57606a;
  --accent: #0550ae;
  --rule: #d0d7de;
  --canvas: #ffffff;
  --code-bg: #f3f4f6;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
    "Noto Sans", sans-serif;
  font-size: 20px;
  line-height: 1.45;
  text-align: left;
  color: var(--text);
  background-color: var(--canvas);
  margin: 0;
  padding: 12px;
  overflow-wrap: break-word;
}
.card.nightMode, .nightMode .card, .card.night_mode, .night_mode .card {
  --text: #e6edf3;
  --muted: #a7b1bc;
  --accent: #79c0ff;
  --rule: #444c56;
  --canvas: #1c2128;
  --code-bg: #2d333b;
}
.prompt, .answer, .extra, .source { max-width: 40em; margin-left: auto; margin-right: auto; }
.prompt > :first-child, .answer > :first-child, .extra > :first-child { margin-top: 0; }
.answer { margin-top: 0.6em; }
.extra { margin-top: 1em; font-size: 0.9em; }
.source { margin-top: 1.4em; font-size: 0.75em; color: var(--muted); }
hr#answer { border: 0; border-top: 1px solid var(--rule); margin: 0.8em 0; }
img, svg, video { max-width: 100%; height: auto; }
table { border-collapse: collapse; display: block; overflow-x: auto; max-width: 100%; }
th, td { border: 1px solid var(--rule); padding: 0.2em 0.5em; }
pre { overflow-x: auto; white-space: pre-wrap; background: var(--code-bg); padding: 0.5em; }
code { background: var(--code-bg); border-radius: 3px; padding: 0 0.2em; }
a { color: var(--accent); }
.cloze { font-weight: bold; color: var(--accent); }
#typeans { width: 100%; box-sizing: border-box; font-size: 1em; }
"""

_EXTRA_AND_SOURCE = (
    '{{#Extra}}<div class="extra">{{Extra}}</div>{{/Extra}}\n'
    '{{#Source}}<div class="source">{{Source}}</div>{{/Source}}'
)


def _front_back(name: str, front: str, back: str) -> Template:
    return Template(
        name=name,
        front=f'<div class="prompt">{{{{{front}}}}}</div>',
        back=f'{{{{FrontSide}}}}\n<hr id="answer">\n<div class="answer">{{{{{back}}}}}</div>\n'
        + _EXTRA_AND_SOURCE,
    )


QA_FIELDS = ("Front", "Back", "Extra", "Source")


def _qa_type(key: str, id: int, name: str, *templates: Template) -> NoteType:
    """A question/answer type: Front and Back required, Extra optional."""
    return NoteType(key=key, id=id, name=name, kind=NORMAL, fields=QA_FIELDS,
                    templates=templates, css=CSS, required=("Front", "Back"))


BASIC = _qa_type("basic", 1213404095, "Basic (build-deck)",
                 _front_back("Card 1", "Front", "Back"))

REVERSED = _qa_type("reversed", 1544660511, "Basic and reversed (build-deck)",
                    _front_back("Card 1", "Front", "Back"),
                    _front_back("Card 2", "Back", "Front"))

TYPE_IN = _qa_type("type-in", 1635652019, "Type-in answer (build-deck)", Template(
    name="Card 1",
    front='<div class="prompt">{{Front}}</div>\n{{type:Back}}',
    back='<div class="prompt">{{Front}}</div>\n<hr id="answer">\n{{type:Back}}\n'
    + _EXTRA_AND_SOURCE,
))

CLOZE_TYPE = NoteType(
    key="cloze",
    id=1807523945,
    name="Cloze (build-deck)",
    kind=CLOZE,
    fields=("Text", "Extra", "Source"),
    templates=(Template(
        name="Cloze",
        front='<div class="prompt">{{cloze:Text}}</div>',
        back='<div class="prompt">{{cloze:Text}}</div>\n' + _EXTRA_AND_SOURCE,
    ),),
    css=CSS,
    required=("Text",),
)

BUILTIN: dict[str, NoteType] = {t.key: t for t in (BASIC, REVERSED, CLOZE_TYPE, TYPE_IN)}
DEFAULT_TYPE = "basic"


def card_ords(note_type: NoteType, cloze_numbers: set[int]) -> list[int]:
    """Which cards Anki makes for a note: one per template whose front field
    is filled, or one per cloze number."""
    if note_type.kind == CLOZE:
        return sorted(n - 1 for n in cloze_numbers)
    return list(range(len(note_type.templates)))
