"""`diff`: release notes for an update, from the working cards against the
last build or from two packages: new, changed, retired and removed notes,
and note type changes, with the ones that would fork called out."""

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO, card_text
from deckbuild.build import build
from deckbuild.diff import compare, format_diff, project_snapshot
from deckbuild.exported import read_package
from test_custom_types import VOCAB_CARD, VOCAB_FILES, write_type

V1 = 1_700_000_000


def diff_lines(root: Path) -> list[str]:
    config_apkg = root / "dist" / "test-deck.apkg"
    after, paths = project_snapshot(root)
    return format_diff(compare(read_package(config_apkg), after, paths))


def test_unchanged_cards_make_an_empty_diff(fixture_project: Path):
    build(fixture_project, now=V1)
    assert diff_lines(fixture_project) == ["0 new, 0 changed, 0 retired, 0 removed"]


def test_new_changed_retired_and_removed_notes_are_listed(fixture_project: Path):
    build(fixture_project, now=V1)
    cards = fixture_project / "cards"
    plain = cards / "plain.md"
    plain.write_text(plain.read_text().replace("Alt som **øker**", "Alt som **direkte øker**")
                     .replace("tags: [salg, verdi]", "tags: [salg]"))
    typed = cards / "Del 2" / "type.md"
    typed.write_text(typed.read_text().replace("tags: [test]", "tags: [test]\nretired: true"))
    (cards / "Del 1" / "reversed.md").unlink()
    (cards / "ny.md").write_text(card_text("new-1", "Nytt spørsmål?\n% back\nNytt svar."))

    assert diff_lines(fixture_project) == [
        "new (1):",
        "  + cards/ny.md «Nytt spørsmål?»",
        "changed (1):",
        "  ~ cards/plain.md «Hva er verdikjeden?»: Back, tags",
        "retired (1):",
        "  - cards/Del 2/type.md «Hvilken kjede skal alt bidra til?»: tags",
        "removed (1):",
        "  - «Sosialfella»",
        "  (Anki keeps removed notes in users' collections: mark cards `retired: true` instead)",
        "1 new, 1 changed, 1 retired, 1 removed",
    ]


def test_a_renamed_field_is_shown_as_a_fork_and_a_new_css_as_an_update(tmp_path: Path):
    root = tmp_path / "deck"
    (root / "cards").mkdir(parents=True)
    (root / "cards" / "ord.md").write_text(VOCAB_CARD)
    (root / "deck.toml").write_text('name = "Test deck"\nnamespace = "test-deck"\n')
    write_type(root, "vocab", VOCAB_FILES)
    (root / "media").mkdir()
    (root / "media" / "_deck.woff").write_bytes(b"font")
    v1 = shutil.copy(build(root, now=V1).path, tmp_path / "v1.apkg")

    css = root / "notetypes" / "vocab" / "style.css"
    css.write_text(css.read_text() + ".word { color: teal; }\n")
    v2 = shutil.copy(build(root, now=V1 + 60).path, tmp_path / "v2.apkg")
    assert format_diff(compare(read_package(v1), read_package(v2)))[-2:] == [
        "  ~ Vocabulary: updated (CSS)", "0 new, 0 changed, 0 retired, 0 removed"]

    settings = root / "notetypes" / "vocab" / "notetype.toml"
    settings.write_text(settings.read_text().replace('"Meaning"', '"Betydning"'))
    card = root / "cards" / "ord.md"
    card.write_text(card.read_text().replace("% meaning", "% betydning"))
    lines = diff_lines(root)  # the build would refuse; diff says why
    assert lines[-2:] == [
        "  ! Vocabulary (id 1700000000001) would fork in users' collections (fields Word, Meaning, "
        "Back Extra -> Word, Betydning, Back Extra): Anki would add 'Vocabulary+' and stop updating its notes",
        "0 new, 0 changed, 0 retired, 0 removed; 1 note type(s) would fork",
    ]


def run_diff(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "build_deck.py"), "diff", *args],
                          capture_output=True, text=True, cwd=cwd)


def test_cli_compares_cards_with_the_last_build_or_two_packages(fixture_project: Path, tmp_path: Path):
    first = run_diff(cwd=fixture_project)
    assert first.returncode == 0 and "no previous build (dist/test-deck.apkg)" in first.stderr
    assert first.stdout.splitlines()[-1] == "4 new, 0 changed, 0 retired, 0 removed"

    v1 = shutil.copy(build(fixture_project, now=V1).path, tmp_path / "v1.apkg")
    assert run_diff(cwd=fixture_project).stdout == "0 new, 0 changed, 0 retired, 0 removed\n"
    (fixture_project / "cards" / "ny.md").write_text(card_text("new-1", "Ny?\n% back\nJa."))
    v2 = shutil.copy(build(fixture_project, now=V1 + 60).path, tmp_path / "v2.apkg")
    both = run_diff(str(v1), str(v2), cwd=tmp_path)
    assert both.returncode == 0
    assert both.stdout.splitlines() == ["new (1):", "  + «Ny?»", "1 new, 0 changed, 0 retired, 0 removed"]

    assert run_diff(str(v1), cwd=tmp_path).returncode == 2
    (fixture_project / "cards" / "bad.md").write_text("---\nid: b\ntype: flip\n---\nQ\n")
    broken = run_diff(cwd=fixture_project)
    assert broken.returncode == 1 and "cards/bad.md:3: unknown type 'flip'" in broken.stderr
