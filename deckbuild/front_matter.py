"""Front matter in the shape nearly every card has, read without YAML.

PyYAML's pure-Python parser costs half a millisecond per card, more than
rendering it. Lines of `key: value`, where a value is a word or words,
"quoted" or 'quoted' text without escapes, true/false/null, or a [list] of
words, mean the same in every YAML reader: `simple_mapping` reads them
directly. Anything else (numbers, dates, comments, escapes, nesting, blank
lines, a repeated key) gives None, and cards.py asks the YAML loader.
tests/test_fast_build.py checks that both read every such text the same.
"""

from __future__ import annotations

import re

# Characters a YAML reader takes as they are in quoted text: no control
# characters, no line breaks of any kind, no BOM or non-characters.
_TEXT = "[^{quote}\\\\\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff]*"
_WORD = r"[^\W\d_][\w.-]*"  # a flow-list item: starts with a letter, no spaces
# A plain (unquoted) value: starts with a letter, so YAML never reads it as a
# number or date; no ": " or " #" (mapping, comment), no trailing space.
_PLAIN = r"[^\W\d_](?:[\w\ .,/()«»'’!?-]|:(?=[^\s:]|:[^\s]))*(?<!\ )"
LINE = re.compile(
    rf"""([a-z][a-z0-9_]*):\ +(?:
        "(?P<double>{_TEXT.format(quote='"')})"
      | '(?P<single>{_TEXT.format(quote="'")})'
      | \[\ *(?P<list>(?:{_WORD}(?:\ *,\ *{_WORD})*)?)\ *\]
      | (?P<plain>{_PLAIN})
    )""",
    re.X,
)
SPECIAL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False,
           "FALSE": False, "null": None, "Null": None, "NULL": None}


def simple_mapping(text: str) -> dict | None:
    """The mapping a simple front matter text means, or None if it isn't simple."""
    meta: dict = {}
    for line in text.split("\n"):
        match = LINE.fullmatch(line)
        if match is None or match.group(1) in meta or match.group(1) in SPECIAL:
            return None
        double, single, items, plain = match.group("double", "single", "list", "plain")
        if double is not None or single is not None:
            value = double if double is not None else single
        elif items is not None:
            value = [_word(item.strip()) for item in items.split(",")] if items else []
        else:
            value = _word(plain)
        meta[match.group(1)] = value
    return meta


def _word(value: str):
    return SPECIAL[value] if value in SPECIAL else value
