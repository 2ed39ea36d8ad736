"""Parsing card files: front matter, body sections, and the problems a
careless edit produces (each with its line)."""

from deckbuild.cards import parse_card
from deckbuild.files import CardFile, decode_card_file


def parse(text: str, folders=()):
    return parse_card(CardFile(rel="cards/x.md", folders=tuple(folders), text=text))


def messages(text: str) -> list[str]:
    card, problems = parse(text)
    assert card is None
    return [str(p) for p in problems]


def test_basic_card_fields_and_metadata():
    card, problems = parse("---\nid: a-1\ntags: [salg, service]\nsource: Bok\n---\n"
                           "Hva er X?\n\n% back\nY.\n\n% extra\nZ.\n", folders=["Del 1"])
    assert problems == []
    assert card.id == "a-1" and card.note_type.key == "basic"
    assert card.fields == {"Front": "Hva er X?", "Back": "Y.", "Extra": "Z.", "Source": "Bok"}
    assert card.tags == ("salg", "service")
    assert card.deck == ("Del 1",)
    assert card.field_lines["Back"] == 9


def test_markdown_horizontal_rule_is_not_a_separator():
    card, _ = parse("---\nid: a\n---\nQ?\n\n---\n\nstill front\n\n% back\nA\n")
    assert "still front" in card.fields["Front"]


def test_markers_inside_fenced_code_are_text():
    card, problems = parse("---\nid: a\n---\nQ?\n\n% back\n```\n% extra\n```\n")
    assert problems == []
    assert "% extra" in card.fields["Back"] and card.fields["Extra"] == ""


def test_deck_override_and_tags_as_string():
    card, _ = parse("---\nid: a\ndeck: Eksamen::Høst\ntags: a b\n---\nQ?\n% back\nA\n")
    assert card.deck == ("Eksamen", "Høst") and card.tags == ("a", "b")


def test_cloze_numbers():
    card, _ = parse("---\nid: a\ntype: cloze\n---\n{{c1::a}} {{c3::b::hint}} {{c1::c}}\n")
    assert card.cloze_numbers == {1, 3}


def test_missing_id():
    assert messages("---\ntags: [a]\n---\nQ?\n% back\nA\n") == [
        "cards/x.md:1: missing 'id' in front matter (run `build_deck.py new` to get one)"]


def test_numeric_id_must_be_quoted():
    assert "quote it" in messages("---\nid: 0012\n---\nQ?\n% back\nA\n")[0]


def test_unknown_type_names_the_known_ones():
    [message] = messages("---\nid: a\ntype: basik\n---\nQ?\n% back\nA\n")
    assert message.startswith("cards/x.md:3: unknown type 'basik'") and "reversed" in message


def test_bad_yaml_points_at_its_line():
    [message] = messages("---\nid: a\ntags: [a, b\n---\nQ?\n")
    assert message.startswith("cards/x.md:") and "invalid YAML" in message


def test_missing_answer_and_question():
    assert messages("---\nid: a\n---\nQ?\n") == ["cards/x.md:4: missing '% back' section"]
    assert messages("---\nid: a\n---\n\n% back\nA\n")[0].endswith("missing question")


def test_cloze_without_deletion_is_an_error():
    [message] = messages("---\nid: a\ntype: cloze\n---\nNo deletion here.\n")
    assert message == ("cards/x.md:5: cloze card without a cloze deletion: "
                       "mark one like {{c1::answer}}")


def test_cloze_marker_in_basic_card():
    assert "use type: cloze" in messages("---\nid: a\n---\n{{c1::x}}?\n% back\nA\n")[0]


def test_unknown_section_and_front_matter_key():
    problems = messages("---\nid: a\ncolour: red\n---\nQ?\n% back\nA\n% hint\nH\n")
    assert problems[0] == "cards/x.md:3: unknown front matter key 'colour' (known: id, type, tags, source, deck, guid, retired, ignore, html)"
    assert problems[1].startswith("cards/x.md:8: unknown section '% hint'")


def test_front_matter_must_open_and_close():
    assert "starts with front matter" in messages("id: a\nQ?\n")[0]
    assert "not closed" in messages("---\nid: a\nQ?\n")[0]


def test_decoding_accepts_bom_and_crlf_and_rejects_other_encodings():
    card_file, problem = decode_card_file("c.md", (), b"\xef\xbb\xbf---\r\nid: a\r\n---\r\nQ\r\n")
    assert problem is None and card_file.text == "---\nid: a\n---\nQ\n"
    _, problem = decode_card_file("c.md", (), "---\nid: a\n---\nbl\u00e5b\u00e6r\n".encode("latin-1"))
    assert str(problem) == "c.md:4: not valid UTF-8; save the file as UTF-8"
    _, problem = decode_card_file("c.md", (), "hei".encode("utf-16"))
    assert "UTF-16" in problem.message
    _, problem = decode_card_file("c.md", (), b"  \n")
    assert str(problem).startswith("c.md:1: empty file")
