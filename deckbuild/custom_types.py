"""A deck project's own note types, one folder each under `notetypes/`:

    notetypes/vocab/notetype.toml     id, name, kind, fields, templates, required
    notetypes/vocab/Card 1.front.html one pair of HTML files per template
    notetypes/vocab/Card 1.back.html
    notetypes/vocab/style.css         optional

The folder name is the key a card's `type:` names. Loading turns the files
into `notetypes.NoteType` values, so a custom type follows the rules of the
built-in ones (the lock refuses field or template renames under the same id;
`mod` follows the content). `note_type_files` is the inverse, for `import`.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from .media import MediaFile, media_file
from .notetypes import BUILTIN, CLOZE, NORMAL, NoteType, Template
from .problems import Problem

FOLDER = "notetypes"
SETTINGS = "notetype.toml"
STYLE = "style.css"
FRONT, BACK = ".front.html", ".back.html"
KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
KINDS = {"normal": NORMAL, "cloze": CLOZE}
KEYS = ("id", "name", "kind", "fields", "templates", "required")
# Anki refuses these in field names; a file name can't hold the others.
BAD_FIELD = re.compile(r'^[#^/]|[:{}"]')
BAD_TEMPLATE = re.compile(r'[/\\:*?"<>|\x00-\x1f]|^\.|[. ]$')
# Files Anki keeps for templates: `_`-prefixed, referenced from templates or CSS.
TEMPLATE_MEDIA = re.compile(r"""["'(=]\s*(_[^"'()\s<>]+)""")


def load_note_types(root: Path, builtin: dict[str, NoteType] = BUILTIN) -> tuple[dict[str, NoteType], list[Problem]]:
    """Every `notetypes/<key>/` folder as a NoteType, or problems with path:line."""
    folder = root / FOLDER
    if not folder.is_dir():
        return {}, []
    types, problems = {}, []
    for path in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        note_type, type_problems = _load_one(root, path)
        problems += type_problems
        if note_type:
            types[note_type.key] = note_type
    problems += _clashes(list(types.values()), builtin, root)
    return types, problems


def _load_one(root: Path, path: Path) -> tuple[NoteType | None, list[Problem]]:
    rel = path.relative_to(root).as_posix()
    settings = f"{rel}/{SETTINGS}"
    if not KEY_PATTERN.match(path.name):
        return None, [Problem(rel, 0, "a note type folder's name is the `type:` cards give: use "
                                      "letters, digits, '.', '_' or '-'")]
    if not (path / SETTINGS).is_file():
        return None, [Problem(settings, 0, f"missing: a note type folder needs {SETTINGS} "
                                           "(id, name, kind, fields, templates)")]
    text = (path / SETTINGS).read_bytes().decode("utf-8", errors="replace")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        match = re.search(r"line (\d+)", str(err))
        return None, [Problem(settings, int(match.group(1)) if match else 1, f"invalid TOML: {err}")]

    problems = []

    def problem(key: str, message: str) -> None:
        problems.append(Problem(settings, _line_of_key(text, key), message))

    for key in data:
        if key not in KEYS:
            problem(key, f"unknown setting '{key}' (known: {', '.join(KEYS)})")
    type_id = data.get("id")
    if not isinstance(type_id, int) or isinstance(type_id, bool) or not 0 < type_id < 1 << 63:
        problem("id", "'id' must be a positive whole number, fixed forever "
                      "(Anki matches note types by id)")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        problem("name", "'name' must be the note type's name as Anki shows it")
    kind = KINDS.get(data.get("kind", "normal"))
    if kind is None:
        problem("kind", "'kind' must be \"normal\" or \"cloze\"")
    fields = _names(data.get("fields"), "fields", BAD_FIELD, problem)
    templates = _names(data.get("templates"), "templates", BAD_TEMPLATE, problem)
    if kind == CLOZE and templates and len(templates) != 1:
        problem("templates", "a cloze note type has exactly one template")
    required = data.get("required", fields[:1])
    if not isinstance(required, list) or any(r not in fields for r in required):
        problem("required", f"'required' must list some of the fields ({', '.join(fields)})")
    files, file_problems = _template_files(path, rel, templates)
    problems += file_problems
    if problems:
        return None, problems
    try:
        css = _read(path / STYLE) if (path / STYLE).is_file() else ""
    except UnicodeDecodeError:
        return None, [Problem(f"{rel}/{STYLE}", 0, "save it as UTF-8")]
    return NoteType(
        key=path.name, id=type_id, name=name.strip(), kind=kind, fields=tuple(fields),
        templates=tuple(Template(n, *files[n]) for n in templates), css=css,
        required=tuple(required), media=_template_media(root, files, css),
    ), []


def _names(value, key: str, bad: re.Pattern, problem) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        problem(key, f"'{key}' must be a non-empty list of names")
        return []
    for name in value:
        if bad.search(name) or name != name.strip():
            problem(key, f"'{name}' can't be one of the {key} (no surrounding spaces"
                         + (", leading #^/ or :{}\")" if key == "fields" else ", no / \\ : * ? \" < > |)"))
    lowered = [v.lower() for v in value]
    for name in sorted({v for v in value if lowered.count(v.lower()) > 1}):
        problem(key, f"'{name}' appears twice in {key} (Anki ignores case)")
    return value


def _template_files(path: Path, rel: str, templates: list[str]) -> tuple[dict[str, tuple[str, str]], list[Problem]]:
    files, problems = {}, []
    for name in templates:
        sides = [path / f"{name}{suffix}" for suffix in (FRONT, BACK)]
        missing = [s.name for s in sides if not s.is_file()]
        if missing:
            problems.append(Problem(f"{rel}/{missing[0]}", 0, f"missing template file for '{name}'"))
            continue
        try:
            files[name] = (_read(sides[0]), _read(sides[1]))
        except UnicodeDecodeError:
            problems.append(Problem(f"{rel}/{name}{FRONT}", 0, "save the templates as UTF-8"))
    for extra in sorted(path.glob("*.html")):
        stem = extra.name.removesuffix(FRONT).removesuffix(BACK)
        if stem not in templates:
            problems.append(Problem(f"{rel}/{extra.name}", 0, f"'{stem}' is not a template listed "
                                                              f"in {SETTINGS}: add it there or remove the file"))
    return files, problems


def _read(path: Path) -> str:
    """Exactly as written (no newline translation): the text is what Anki stores."""
    return path.read_bytes().decode("utf-8")


def _template_media(root: Path, files: dict[str, tuple[str, str]], css: str) -> tuple[MediaFile, ...]:
    """`_`-prefixed files under media/ that templates or CSS load (fonts,
    scripts): packed with the type, as Anki's exporter does."""
    text = css + "".join(front + back for front, back in files.values())
    found = {}
    for name in TEMPLATE_MEDIA.findall(text):
        item, _ = media_file(name, root / "media" / name, root / "media")
        if "/" not in name and item:
            found[name] = item
    return tuple(found[n] for n in sorted(found))


def _clashes(types: list[NoteType], builtin: dict[str, NoteType], root: Path) -> list[Problem]:
    """Ids and names are how Anki tells note types apart: each must be unique."""
    problems = []
    seen: dict[tuple[str, object], str] = {(kind, value): f"built-in type '{t.key}'"
                                           for t in builtin.values()
                                           for kind, value in (("id", t.id), ("name", t.name.casefold()))}
    for note_type in types:
        where = f"{FOLDER}/{note_type.key}/{SETTINGS}"
        if note_type.key in builtin:
            problems.append(Problem(f"{FOLDER}/{note_type.key}", 0, f"'{note_type.key}' is a built-in "
                                                                     "type: rename the folder"))
        for kind, value, shown in (("id", note_type.id, note_type.id), ("name", note_type.name.casefold(), note_type.name)):
            if (kind, value) in seen:
                text = (root / where).read_text(encoding="utf-8")
                problems.append(Problem(where, _line_of_key(text, kind),
                                        f"{kind} {shown!r} is already used by {seen[(kind, value)]}"))
            else:
                seen[(kind, value)] = f"notetypes/{note_type.key}"
    return problems


def _line_of_key(text: str, key: str) -> int:
    for number, line in enumerate(text.splitlines(), 1):
        if re.match(rf"\s*{re.escape(key)}\s*=", line):
            return number
    return 1


def note_type_files(note_type: NoteType) -> dict[str, str]:
    """The files of `notetypes/<key>/` for a note type (file name -> text)."""
    kind = "cloze" if note_type.kind == CLOZE else "normal"
    settings = (
        "# A note type of this deck. Anki matches it by id: never change the id,\n"
        "# field names or template names once the deck is shared, or Anki forks the\n"
        "# type and stops updating its notes. Templates and CSS may change freely.\n"
        f"id = {note_type.id}\n"
        f"name = {toml_string(note_type.name)}\n"
        f'kind = "{kind}"\n'
        f"fields = {_toml_list(note_type.fields)}\n"
        f"templates = {_toml_list(t.name for t in note_type.templates)}\n"
        f"required = {_toml_list(note_type.required)}\n"
    )
    files = {SETTINGS: settings, STYLE: note_type.css}
    for template in note_type.templates:
        files[template.name + FRONT] = template.front
        files[template.name + BACK] = template.back
    return files


def toml_string(text: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's, except DEL must be escaped too."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_list(items) -> str:
    return "[" + ", ".join(toml_string(i) for i in items) + "]"
