"""Front matter in the shape nearly every card has, read without YAML.

PyYAML's pure-Python parser costs half a millisecond per card, more than
rendering it. Lines of `key: value`, where a value is a word or words,
"quoted" or 'quoted' text without escapes, true/false/null, or a [list] of
words, mean the same in every YAML reader: `simple_mapping` reads them
directly. Anything else (numbers, dates, comments, escapes, nesting, blank
lines, a repeated key) gives None, and `read_front_matter` asks PyYAML,
through a stricter loader (`yaml_loader`), imported only then: a build with
no such card to compile never loads PyYAML. tests/test_fast_build.py checks
that both read every simple text the same.
"""

from __future__ import annotations

import re
from functools import lru_cache

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


def read_front_matter(text: str) -> tuple[object, tuple[int | None, str] | None]:
    """What a front matter text means; or None and, where it is not valid
    YAML, (its line in the text, counted from 0, if known; why)."""
    meta = simple_mapping(text)  # the common shape, without YAML's slow parser
    if meta is not None:
        return meta, None
    import yaml  # here: its import is a tenth of a warm build, which parses no card

    try:
        return yaml.load(text, Loader=yaml_loader()), None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        return None, (mark.line if mark is not None else None,
                      getattr(err, "problem", None) or str(err).splitlines()[0])
    except RecursionError:
        return None, (0, "nested too deeply")


@lru_cache(maxsize=None)
def yaml_loader() -> type:
    """yaml.SafeLoader made strict, made the first time it is needed."""
    import yaml

    class FrontMatterLoader(yaml.SafeLoader):
        """yaml.safe_load, less what front matter never needs and hostile files
        abuse: aliases (`*a`: a few lines of them expand to billions of items),
        numbers too long to print, values that aren't what their tag says
        (`!!int x`, 2024-13-45), text Python can't encode.
        Only true/false are booleans, so `tags: [no]` is the tag 'no' (Norwegian),
        not False."""

        yaml_implicit_resolvers = {
            first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
            for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
        }

        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in front matter",
                                                  self.peek_event().start_mark)
            return super().compose_node(parent, index)

        def construct_yaml_int(self, node):
            if len(node.value) > 30:
                raise yaml.constructor.ConstructorError(None, None, "number too long", node.start_mark)
            return super().construct_yaml_int(node)

        def construct_object(self, node, deep=False):
            try:
                return super().construct_object(node, deep)
            except (ValueError, TypeError, KeyError, AttributeError, OverflowError):  # `!!int x`, 2024-13-45
                kind = node.tag.rsplit(":", 1)[-1]
                raise yaml.constructor.ConstructorError(
                    None, None, f"{shown(node.value)} is not a valid {kind}", node.start_mark) from None

        def construct_yaml_str(self, node):
            text = super().construct_yaml_str(node)
            if re.search("[\x00\ud800-\udfff]", text):
                raise yaml.constructor.ConstructorError(None, None, "text with a NUL or a lone surrogate "
                                                        "(\\0, \\ud800 escapes)", node.start_mark)
            return text

    FrontMatterLoader.add_implicit_resolver("tag:yaml.org,2002:bool",
                                            re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                            list("tTfF"))
    for tag, method in (("int", FrontMatterLoader.construct_yaml_int),
                        ("str", FrontMatterLoader.construct_yaml_str)):
        FrontMatterLoader.add_constructor(f"tag:yaml.org,2002:{tag}", method)
    return FrontMatterLoader


def shown(value) -> str:
    """A front matter value in a message: short, and never a huge dump."""
    if isinstance(value, (dict, list, set)):
        return f"a {'mapping' if isinstance(value, dict) else 'list'}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
