"""Rendering Markdown fields: Python-Markdown output, with Anki's own syntax
passed through untouched and raw HTML made safe."""

from deckbuild.render import render_markdown


def test_inline_markdown_loses_its_paragraph():
    assert render_markdown("Hva er *verdikjeden*?") == "Hva er <em>verdikjeden</em>?"


def test_block_markdown():
    assert render_markdown("- a\n- b") == "<ul>\n<li>a</li>\n<li>b</li>\n</ul>"
    assert "<table>" in render_markdown("a | b\n--|--\n1 | 2")
    assert render_markdown("```\nx = 1\n```") == "<pre><code>x = 1\n</code></pre>"
    assert render_markdown("[lenke](https://example.org)") == '<a href="https://example.org">lenke</a>'


def test_cloze_markers_survive_emphasis_characters():
    assert render_markdown("{{c1::snake_case_word}} and {{c2::a*b::hint_x}}") == (
        "{{c1::snake_case_word}} and {{c2::a*b::hint_x}}")


def test_markdown_inside_a_cloze_is_rendered():
    assert render_markdown("{{c1::**fet**}}") == "{{c1::<strong>fet</strong>}}"


def test_mathjax_and_sound_pass_through():
    assert render_markdown(r"\(a_1 * b_2 < c\) og \[x^*\]") == r"\(a_1 * b_2 &lt; c\) og \[x^*\]"
    assert render_markdown("[sound:lyd_en_to.mp3]") == "[sound:lyd_en_to.mp3]"


def test_raw_html_is_sanitized():
    rendered = render_markdown('<script>alert(1)</script>Hei <b onclick="x()">du</b> '
                               '[x](javascript:alert(1)) <img src="a.png" onerror="x()">')
    assert "<script" not in rendered and "onclick" not in rendered
    assert "javascript:" not in rendered and "onerror" not in rendered
    assert "<b>du</b>" in rendered


def test_trusted_html_is_kept():
    assert render_markdown('<span onclick="x()">a</span>', trusted=True) == '<span onclick="x()">a</span>'
