"""An incremental build is the same build: whatever changed since the last
one (a card, an image, deck.toml, the lock, the package itself), the result
equals a plain cold build of the same files, and a build with nothing to do
writes nothing."""

import os
import shutil
import subprocess
import sys

import pytest

from conftest import FIXTURE_CARDS, PNG, REPO, card_text, write_project
from deckbuild import build as build_module, lint, snapshot
from deckbuild.build import NoteMaker, build
from deckbuild.cache import CACHE_DIR, user_secret
from deckbuild.lint import check_project
from deckbuild.problems import ProjectError

NOW = 1_700_000_000
PACKAGE = "dist/test-deck.apkg"
LOCK = "build-deck.lock"


@pytest.fixture(autouse=True)
def own_cache_key(tmp_path, monkeypatch):
    """The snapshot is signed with the user's cache secret: use a fresh one."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))


@pytest.fixture
def trust_fresh_stats(monkeypatch):
    """Files written just now would not be trusted by their stat (see
    snapshot.py); these tests want the stat shortcut itself exercised."""
    monkeypatch.setattr(snapshot, "RACY_NS", 0)


@pytest.fixture
def project(tmp_path, trust_fresh_stats):
    root = write_project(tmp_path / "deck", FIXTURE_CARDS, {"bilder/prikk.png": PNG})
    build(root, now=NOW)
    return root


def built_as_plain(root, tmp_path, now):
    """Build `root` incrementally, and a copy of its inputs (lock included)
    cold, without cache or snapshot, at the same time; both results."""
    plain = tmp_path / f"plain-{now}"
    shutil.copytree(root, plain, ignore=shutil.ignore_patterns("dist", CACHE_DIR))
    build(plain, now=now, cache=False, workers=1)
    build(root, now=now)
    return [(r / PACKAGE).read_bytes() + (r / LOCK).read_bytes() for r in (root, plain)]


def stats(root):
    return [os.stat(root / name) for name in (PACKAGE, LOCK)]


def same_file(a, b):
    return (a.st_ino, a.st_mtime_ns, a.st_size) == (b.st_ino, b.st_mtime_ns, b.st_size)


def test_a_build_with_nothing_to_do_writes_nothing(project):
    before = stats(project)
    result = build(project, now=NOW + 10)
    assert all(same_file(a, b) for a, b in zip(before, stats(project)))
    assert result.note_count == 4 and result.cards_by_type == {"basic": 1, "cloze": 2, "reversed": 2,
                                                                "type-in": 1}
    assert [m.name for m in result.media] == ["bilder-prikk.png"]
    assert not result.written


def test_the_cli_says_when_the_package_was_left_as_it_was(project):
    build_ = [sys.executable, str(REPO / "build_deck.py"), "build", "--root", str(project)]
    run = subprocess.run(build_, capture_output=True, text=True, cwd=project)
    assert run.stdout.splitlines()[-1] == f"{PACKAGE} is up to date: nothing changed since the last build"
    (project / "cards/plain.md").write_text((project / "cards/plain.md").read_text().replace("øker", "gir"))
    run = subprocess.run(build_, capture_output=True, text=True, cwd=project)
    assert run.stdout.splitlines()[-1] == f"wrote {PACKAGE}"


def test_an_edit_the_stat_barely_shows_is_built(project, tmp_path):
    """Same size, same mtime: the inode change time still tells."""
    path = project / "cards" / "plain.md"
    before = os.stat(path)
    path.write_text(path.read_text().replace("øker", "gjør"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(path).st_size == before.st_size

    mine, plain = built_as_plain(project, tmp_path, NOW + 10)
    assert mine == plain
    assert f'"mod": {NOW + 10}' in next(line for line in (project / LOCK).read_text().splitlines()
                                        if '"basic-1"' in line)


@pytest.mark.parametrize("change", ["edit", "add", "delete", "rename", "touch", "image",
                                    "description", "package gone", "package damaged", "old lock"])
def test_every_change_builds_as_a_cold_build_would(project, tmp_path, change):
    cards = project / "cards"
    old_lock = (project / LOCK).read_text()
    if change == "edit":
        (cards / "Del 2/type.md").write_text(card_text("type-1", "Hvilken kjede?\n\n% back\nverdikjeden",
                                                      type="type-in"))
    elif change == "add":
        (cards / "Del 2/ny.md").write_text(card_text("ny-1", "Nytt?\n\n% back\nJa."))
    elif change == "delete":
        (cards / "Del 2/type.md").unlink()
    elif change == "rename":
        (cards / "Del 2/type.md").rename(cards / "Del 1/type.md")
    elif change == "touch":
        for path in cards.rglob("*.md"):
            path.write_bytes(path.read_bytes())
    elif change == "image":
        (project / "media/bilder/prikk.png").write_bytes(PNG + b"\0")
    elif change == "description":
        (project / "deck.toml").write_text('name = "Test deck"\nnamespace = "test-deck"\n'
                                           'description = "Ny beskrivelse"\n')
    elif change == "package gone":
        (project / PACKAGE).unlink()
    elif change == "package damaged":
        (project / PACKAGE).write_bytes(b"not a zip")
    elif change == "old lock":
        (cards / "plain.md").write_text((cards / "plain.md").read_text().replace("øker", "gir"))
        build(project, now=NOW + 5)
        (project / LOCK).write_text(old_lock)  # e.g. `git checkout` of the lock alone

    mine, plain = built_as_plain(project, tmp_path, NOW + 10)
    assert mine == plain


def test_a_changed_image_updates_the_notes_that_show_it(project):
    (project / "media/bilder/prikk.png").write_bytes(PNG + b"\0")
    result = build(project, now=NOW + 10)
    cloze = next(n for n in result.notes if n.id == "cloze-1")
    assert cloze.media[0].path.read_bytes() == PNG + b"\0"
    lock = (project / LOCK).read_text()
    assert f'"mod": {NOW + 10}' in next(line for line in lock.splitlines() if '"cloze-1"' in line)


def test_a_tampered_snapshot_is_never_used(project, tmp_path):
    path = project / CACHE_DIR / snapshot.NOTES  # where the notes are kept
    data = path.read_bytes()
    assert "øker".encode() in data
    path.write_bytes(data.replace("øker".encode(), "<b>x</b>".encode()))
    (project / PACKAGE).unlink()  # so the build has to write the package again

    mine, plain = built_as_plain(project, tmp_path, NOW + 10)
    assert mine == plain and b"<b>x</b>" not in mine


def test_a_snapshot_from_other_settings_is_not_used(project, tmp_path):
    (project / "cards/plain.md").write_text(card_text("basic-1", 'Hva?\n\n% back\n<b onclick="x()">fet</b>'))
    sanitized = build(project, now=NOW + 10)
    assert not any("onclick" in f for n in sanitized.notes for f in n.fields)

    (project / "deck.toml").write_text('name = "Test deck"\nnamespace = "test-deck"\ntrusted_html = true\n')
    trusted = build(project, now=NOW + 20)
    assert any('onclick="x()"' in f for n in trusted.notes for f in n.fields)


def test_unchanged_files_are_not_even_read(project, monkeypatch):
    """Only files whose stat changed are opened: a warm build of 10,000
    cards spends its time elsewhere."""
    (project / "cards/plain.md").write_text((project / "cards/plain.md").read_text() + "\n")
    opened = []
    real_open = os.open
    monkeypatch.setattr(os, "open", lambda path, *a, **k: opened.append(str(path)) or real_open(path, *a, **k))
    build(project, now=NOW + 10)
    assert [p for p in opened if p.endswith(".md")] == [str(project / "cards/plain.md")]


def fresh_check(root, tmp_path, monkeypatch):
    """What a check finds with no snapshot to reuse: another user's cache secret."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / f"other-user-{len(list(tmp_path.iterdir()))}"))
    report = check_project(root)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    return report


LINTED = {
    "a.md": card_text("a", "Hva er verdikjeden?\n\n% back\nAlt som øker fortjenesten."),
    "b.md": card_text("b", "Hva er verdikjeden egentlig?\n\n% back\nDet samme.", tags="[]"),
    "c.md": card_text("c", "Sosialfella\n\n% back\nPrat uten salg.", type="reversed"),
    "d.md": card_text("d", "Søppel er {{c1::alt}} som {{c3::ikke}} bidrar.", type="cloze",
                      extra_meta="ignore: {W110: \"med vilje\"}\n"),
}


def test_a_check_reuses_what_the_last_one_found_and_finds_the_same(tmp_path, trust_fresh_stats, monkeypatch):
    root = write_project(tmp_path / "deck", LINTED, config='name = "Test deck"\nnamespace = "test-deck"\n'
                                                            'language = "nb_NO"\n')
    first = check_project(root)
    assert {p.code for p in first.problems} >= {"W106", "W108"}
    assert check_project(root) == first == fresh_check(root, tmp_path, monkeypatch)

    (root / "cards/c.md").write_text(card_text("c", "Hva er verdikjeden?\n\n% back\nNoe annet.", tags="[x]"))
    again = check_project(root)
    assert again == fresh_check(root, tmp_path, monkeypatch)
    assert any(p.code == "W107" and p.path == "cards/c.md" for p in again.problems)


def test_a_check_with_nothing_changed_prints_its_last_report_unmade(tmp_path, trust_fresh_stats, monkeypatch):
    """A big deck's report is 100,000 lines: with nothing changed, it is
    printed as it was, in the format and from the place asked for, without
    making its problems or formatting them again. What it reads is trusted
    by its stat and mark, kept signed."""
    root = write_project(tmp_path / "deck", LINTED, config='name = "Test deck"\nnamespace = "test-deck"\n')
    formatted = []
    for name, format_report in lint.FORMATS.items():
        monkeypatch.setitem(lint.FORMATS, name, lambda report, prefix, f=format_report, n=name:
                            formatted.append(n) or f(report, prefix))
    first = check_project(root)
    assert formatted == ["text"] and first.printed.endswith("2 warning(s) in 4 cards.".encode())

    again = check_project(root)
    assert formatted == ["text"] and "problems" not in again.__dict__
    assert (again.printed, again.warnings, again.errors) == (first.printed, first.warnings, 0)
    assert again == first  # its problems, made when asked for, are the same

    as_json = check_project(root, output=("json", "deck/"))
    assert formatted == ["text", "json"]
    assert as_json.printed == lint.format_json(first, "deck/").encode()
    assert check_project(root, output=("json", "deck/")).printed == as_json.printed
    assert formatted == ["text", "json"]

    kept = root / CACHE_DIR / snapshot.CHECK_PRINTED
    forged = kept.with_name("forged")  # damaged, or not the user's (a copy, a checkout): same size and mark
    forged.write_bytes(kept.read_bytes().replace(b"W10", b"W99"))
    forged.replace(kept)
    assert check_project(root, output=("json", "deck/")).printed == as_json.printed
    assert formatted == ["text", "json", "json"]
    signed = root / CACHE_DIR / snapshot.CHECK_PRINTED_AS
    data = signed.read_bytes()
    signed.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # a stat forged: the signature fails
    assert check_project(root, output=("json", "deck/")).printed == as_json.printed
    assert formatted == ["text", "json", "json", "json"]
    record = snapshot._read_signed(signed, user_secret())
    snapshot._write_signed(signed, user_secret(), record[:4] + record[5:])  # the shape without a mark
    assert check_project(root, output=("json", "deck/")).printed == as_json.printed
    assert formatted == ["text", "json", "json", "json", "json"]


def test_a_report_another_check_printed_meanwhile_is_not_taken(tmp_path, trust_fresh_stats, monkeypatch):
    """Two checks at once (an editor's, in JSON, and the user's): each keeps
    its report as printed, then the stat of what it kept, which may by then
    be the other's. Its mark tells them apart."""
    root = write_project(tmp_path / "deck", LINTED, config='name = "Test deck"\nnamespace = "test-deck"\n')
    first = check_project(root)
    others = lint.format_text(first, "elsewhere/").encode()
    write_atomic = snapshot._write_atomic

    def the_other_check_in_between(path, fill):
        written = write_atomic(path, fill)
        if path.name == snapshot.CHECK_PRINTED:
            write_atomic(path, lambda out: out.writelines((os.urandom(snapshot.MARK_SIZE), others)))
        return written

    with monkeypatch.context() as racing:
        racing.setattr(snapshot, "_write_atomic", the_other_check_in_between)
        assert check_project(root, output=("json", "deck/")).printed == lint.format_json(first, "deck/").encode()
    assert (root / CACHE_DIR / snapshot.CHECK_PRINTED).read_bytes().endswith(others)
    assert check_project(root, output=("json", "deck/")).printed == lint.format_json(first, "deck/").encode()


def test_a_check_never_leaves_build_thinking_it_has_nothing_to_do(project, tmp_path):
    """check keeps a snapshot of its own and never touches the build's: the
    next build still sees the edit, and writes it."""
    build_snapshot = sorted(p.name for p in (project / CACHE_DIR).iterdir() if p.name.startswith("last-build"))
    assert build_snapshot == ["last-build", "last-build-notes"]
    before = {name: (project / CACHE_DIR / name).read_bytes() for name in build_snapshot}
    (project / "cards/plain.md").write_text((project / "cards/plain.md").read_text().replace("øker", "gir"))
    check_project(project)
    assert {name: (project / CACHE_DIR / name).read_bytes() for name in build_snapshot} == before
    mine, plain = built_as_plain(project, tmp_path, NOW + 10)
    assert mine == plain


def test_a_check_after_a_build_lints_every_card_but_makes_no_note_again(project, tmp_path, monkeypatch):
    """The build's notes are taken as they are; only the rules run on each card."""
    made, linted = [], []
    make, findings = NoteMaker.__call__, lint.card_findings
    monkeypatch.setattr(NoteMaker, "__call__", lambda self, card, *a: made.append(card.path) or make(self, card, *a))
    monkeypatch.setattr(lint, "card_findings", lambda card, *a, **k: linted.append(card.path) or findings(card, *a, **k))
    report = check_project(project)
    assert made == [] and sorted(linted) == sorted(f"cards/{name}" for name in FIXTURE_CARDS)
    before = stats(project)
    assert not build(project, now=NOW + 10).written
    assert all(map(same_file, before, stats(project)))
    assert report == fresh_check(project, tmp_path, monkeypatch)


def test_a_skipped_rule_is_reported_by_every_check(tmp_path, trust_fresh_stats, monkeypatch):
    """Also when the reason showed only in looking words up (a broken
    dictionary), and the next check looks nothing up."""
    broken = tmp_path / "dictionaries"
    broken.mkdir()
    (broken / "nb_NO.aff").write_text("SET NO-SUCH-ENCODING\n", encoding="utf-8")
    (broken / "nb_NO.dic").write_text("1\nord\n", encoding="utf-8")
    monkeypatch.setenv("DICPATH", str(broken))
    root = write_project(tmp_path / "deck", LINTED, config='name = "Test deck"\nnamespace = "test-deck"\n'
                                                            'language = "nb_NO"\n')
    first = check_project(root)
    assert "could not read the dictionary" in first.skipped["W112"]
    assert check_project(root).skipped == first.skipped


def test_a_check_with_nothing_new_still_sees_a_removed_image_or_a_changed_lock(project):
    assert not [p for p in check_project(project).problems if p.is_error]
    (project / "media/bilder/prikk.png").unlink()
    assert any(p.is_error and "media file not found" in p.message for p in check_project(project).problems)

    (project / "media/bilder/prikk.png").write_bytes(PNG)
    lock = (project / LOCK).read_text()  # as if a note type had other fields once
    (project / LOCK).write_text(lock.replace('"schema": {"fields": ["Front"', '"schema": {"fields": ["Forside"', 1))
    assert any(p.is_error and "changed its fields" in p.message for p in check_project(project).problems)


def test_checks_alone_reexamine_only_the_edited_card(tmp_path, trust_fresh_stats, monkeypatch):
    """No build in between: check keeps the notes it makes for the next check."""
    root = write_project(tmp_path / "deck", LINTED, config='name = "Test deck"\nnamespace = "test-deck"\n')
    check_project(root)
    (root / "cards/a.md").write_text(LINTED["a.md"].replace("fortjenesten", "gevinsten"))
    examined = []
    real = lint.card_findings
    monkeypatch.setattr(lint, "card_findings", lambda card, *a, **k: examined.append(card.path) or real(card, *a, **k))
    report = check_project(root)
    assert examined == ["cards/a.md"]
    assert report == fresh_check(root, tmp_path, monkeypatch)


def test_the_duplicate_rules_run_again_only_when_a_question_changed(tmp_path, trust_fresh_stats, monkeypatch):
    root = write_project(tmp_path / "deck", LINTED, config='name = "Test deck"\nnamespace = "test-deck"\n')
    check_project(root)
    runs, keyed = [], []
    real, keys = lint.duplicate_questions, lint._question_keys
    monkeypatch.setattr(lint, "duplicate_questions", lambda *a: runs.append(1) or real(*a))
    monkeypatch.setattr(lint, "_question_keys", lambda words: keyed.append(words) or keys(words))

    (root / "cards/a.md").write_text(LINTED["a.md"].replace("fortjenesten", "gevinsten"))  # an answer
    report = check_project(root)
    assert len(keyed) == 1  # the edited card's question, not the others' kept ones
    assert report == fresh_check(root, tmp_path, monkeypatch) and runs == [1]  # the fresh one

    (root / "cards/c.md").write_text(card_text("c", "Hva er verdikjeden?\n\n% back\nNoe.", tags="[x]"))
    again = check_project(root)
    assert len(runs) == 2
    assert again == fresh_check(root, tmp_path, monkeypatch)
    assert any(p.code == "W107" and p.path == "cards/c.md" for p in again.problems)


def test_the_duplicate_rules_run_again_when_a_card_that_asks_goes_or_moves(tmp_path, trust_fresh_stats,
                                                                          monkeypatch):
    """Other questions, though no card's text changed: the duplicates change.
    (A fresh check, with another user's secret, is only compared at the end:
    its snapshot would leave the next check nothing to reuse.)"""
    cards = {**LINTED, "e.md": card_text("e", "Hva er verdikjeden?\n\n% back\nNoe.", tags="[x]")}
    root = write_project(tmp_path / "deck", cards, config='name = "Test deck"\nnamespace = "test-deck"\n')
    assert any(p.code == "W107" and p.path == "cards/e.md" for p in check_project(root).problems)

    (root / "cards/a.md").rename(root / "cards/f.md")  # now asked after e.md
    moved = check_project(root)
    assert any(p.code == "W107" and p.path == "cards/f.md" for p in moved.problems)
    assert not any(p.code == "W107" and p.path == "cards/e.md" for p in moved.problems)

    (root / "cards/f.md").unlink()  # e.md asks alone
    gone = check_project(root)
    assert not any(p.code == "W107" for p in gone.problems)
    assert gone == fresh_check(root, tmp_path, monkeypatch)


def test_the_duplicate_rules_are_not_run_again_for_an_answer_whatever_the_hash_seed(tmp_path):
    """Each check runs in a new process, with its own string hashes: what
    it keeps of the questions, and compares with the next check's, must not
    depend on them."""
    root = write_project(tmp_path / "deck", LINTED, config='name = "Test deck"\nnamespace = "test-deck"\n')
    script = ("import sys; from pathlib import Path; from deckbuild import lint; runs = []; "
              "real = lint.duplicate_questions; "
              "lint.duplicate_questions = lambda *a: runs.append(1) or real(*a); "
              "lint.check_project(Path(sys.argv[1])); print(len(runs))")

    def duplicate_runs(seed: str) -> str:
        return subprocess.run([sys.executable, "-c", script, str(root)], capture_output=True, text=True,
                              cwd=REPO, check=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout.strip()

    assert duplicate_runs("1") == "1"
    (root / "cards/b.md").write_text(LINTED["b.md"].replace("samme", "samme igjen"))  # an answer
    assert duplicate_runs("2") == "0"


def test_a_build_with_nothing_to_do_reads_no_notes(project, monkeypatch):
    """It says what the last build said, from the snapshot's small file alone."""
    def no_notes(*args):
        raise AssertionError("the notes were read")
    monkeypatch.setattr(snapshot, "_read_notes", no_notes)
    result = build(project, now=NOW + 10)
    assert (result.note_count, result.cards_by_type) == (4, {"basic": 1, "cloze": 2, "reversed": 2, "type-in": 1})
    assert [m.name for m in result.media] == ["bilder-prikk.png"] and result.decks[0] == "Test deck"


def test_a_build_or_check_with_nothing_to_do_reads_no_lock(project, monkeypatch):
    """The deck names its namespace, so the lock (a big deck's is large) is
    read only when something changed since the same command last ran."""
    read_lock = build_module.read_lock
    def no_lock(*args):
        raise AssertionError("the lock was read")
    monkeypatch.setattr(build_module, "read_lock", no_lock)
    assert not build(project, now=NOW + 10).written

    monkeypatch.setattr(build_module, "read_lock", read_lock)
    first = check_project(project)
    monkeypatch.setattr(build_module, "read_lock", no_lock)
    assert check_project(project) == first


@pytest.mark.parametrize("where", ["deck.toml", LOCK])
def test_a_changed_namespace_is_refused_after_a_build_with_a_snapshot(project, where):
    """In deck.toml or in the lock: either way, every note would be duplicated."""
    path = project / where
    path.write_text(path.read_text().replace('"test-deck"', '"other-deck"', 1))
    with pytest.raises(ProjectError) as refused:
        build(project, now=NOW + 10)
    assert any("namespace changed" in p.message for p in refused.value.problems)
    assert any(p.is_error and "namespace changed" in p.message for p in check_project(project).problems)


def test_a_snapshot_cut_off_between_its_two_files_is_a_full_build(project, tmp_path):
    """Notes from one build beside the stats of the next (a build killed
    between the writes) never go together."""
    notes = project / CACHE_DIR / snapshot.NOTES
    old_notes = notes.read_bytes()
    (project / "cards/plain.md").write_text((project / "cards/plain.md").read_text().replace("øker", "gir"))
    build(project, now=NOW + 5)
    notes.write_bytes(old_notes)
    (project / PACKAGE).unlink()
    mine, plain = built_as_plain(project, tmp_path, NOW + 10)
    assert mine == plain
