"""A note field's HTML as the most readable card text that builds back to
exactly the same HTML.

`import` must not change a single byte of a note users already have, so
every candidate is rendered with the build's own renderer and compared:
Markdown (as markdownify writes it, then with more escaping), then the
HTML itself read as Markdown, then the HTML kept as HTML (the card lists
the field under `html:`). Whether a text also survives being a section of a
card file is the caller's test (`fits`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .render import render_html, render_markdown


@dataclass(frozen=True)
class FieldText:
    text: str
    html: bool  # keep as HTML (front matter `html:`), not Markdown
    exact: bool  # builds back to exactly the field's HTML


def field_text(field_html: str, trusted: bool, fits: Callable[[str], bool] = lambda text: True) -> FieldText:
    if not field_html:
        return FieldText("", False, True)
    tried = set()
    for candidate in _markdown_candidates(field_html):
        if candidate not in tried and fits(candidate) and render_markdown(candidate, trusted) == field_html:
            return FieldText(candidate, False, True)
        tried.add(candidate)
    if fits(field_html) and render_html(field_html, trusted) == field_html:
        return FieldText(field_html, True, True)
    return FieldText(field_html.strip(), True, False)


def _markdown_candidates(field_html: str):
    """Most readable first; each is only a guess until rendered back."""
    if "<" not in field_html and "&" not in field_html:
        yield field_html  # plain text: usually already its own Markdown
    from markdownify import markdownify

    for escape_misc in (False, True):
        yield markdownify(field_html, heading_style="ATX", bullets="-", strong_em_symbol="*",
                          escape_underscores=True, escape_asterisks=True, escape_misc=escape_misc).strip()
    yield field_html
