#!/usr/bin/env python3
"""build_deck: compile Markdown card files into an Anki deck (.apkg).

A thin CLI over the `deckbuild` package: each command loads, calls the
library, and turns problems into `path:line: message` lines and an exit code.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="Compile Markdown card files into Anki decks that update safely on re-import.")

ROOT = typer.Option(Path("."), "--root", help="The deck project folder (holds cards/, media/, deck.toml).")


def fail(problems) -> None:
    for problem in problems:
        print(problem, file=sys.stderr)
    errors = sum(1 for p in problems if p.is_error)
    print(f"{errors} error(s); nothing was written.", file=sys.stderr)
    raise typer.Exit(1)


@app.command()
def build(root: Path = ROOT, quiet: bool = typer.Option(False, "--quiet", "-q")) -> None:
    """Build dist/<deck>.apkg from cards/ and media/."""
    from deckbuild.build import build as build_deck
    from deckbuild.problems import ProjectError
    from deckbuild.progress import progress_bar

    try:
        with progress_bar("Building", quiet) as progress:
            result = build_deck(root, progress=progress)
    except ProjectError as err:
        fail(err.problems)
    if quiet:
        return
    by_type = ", ".join(f"{n} {t}" for t, n in result.cards_by_type.items())
    print(f"{result.note_count} notes, {sum(result.cards_by_type.values())} cards ({by_type}), "
          f"{len(result.decks) - 1} subdecks, {len(result.media)} media files")
    for card_id in result.removed:
        print(f"note '{card_id}' was in the last build and is gone now: Anki keeps it in users' "
              "collections; mark the card 'retired: true' instead of deleting it", file=sys.stderr)
    print(f"wrote {_shown(result.path)}" if result.written
          else f"{_shown(result.path)} is up to date: nothing changed since the last build")


@app.command()
def new(
    path: Optional[Path] = typer.Argument(None, help="Where to write the card (default: cards/<id>.md)."),
    type: str = typer.Option("basic", "--type", "-t", help="basic, reversed, cloze or type-in."),
    root: Path = ROOT,
) -> None:
    """Write a new card file with a fresh unique id."""
    from deckbuild.build import load_project
    from deckbuild.notetypes import BUILTIN
    from deckbuild.scaffold import card_skeleton, fresh_id, new_card_path

    if type not in BUILTIN:
        print(f"unknown type '{type}' (known: {', '.join(BUILTIN)})", file=sys.stderr)
        raise typer.Exit(2)
    project, _ = load_project(root)
    card_id = fresh_id(path.stem if path else "", {c.id for c in project.cards})
    target = new_card_path(project.config.cards_dir, path, card_id)
    if target.exists():
        print(f"{_shown(target)} exists already", file=sys.stderr)
        raise typer.Exit(1)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(card_skeleton(card_id, type), encoding="utf-8")
    print(f"wrote {_shown(target)} (id: {card_id})")


@app.command()
def verify(
    apkg: Optional[Path] = typer.Argument(None, help="The package (default: this project's dist/<deck>.apkg)."),
    root: Path = ROOT,
) -> None:
    """Import a package into a fresh Anki collection with Anki's own importer and report."""
    try:
        from deckbuild.verify import verify_package
    except ImportError:
        print("verify needs the official Anki backend: pip install 'build-deck[anki]'", file=sys.stderr)
        raise typer.Exit(2)
    if apkg is None:
        from deckbuild.config import load_config

        apkg = load_config(root)[0].package_path
    if not apkg.is_file():
        print(f"{_shown(apkg)}: no such file (run `build_deck.py build` first)", file=sys.stderr)
        raise typer.Exit(1)
    try:
        report = verify_package(apkg)
    except Exception as err:  # Anki's importer refused the file
        print(f"{_shown(apkg)}: Anki could not import it: {err}", file=sys.stderr)
        raise typer.Exit(1)
    print(f"{report.notes} notes, {report.cards} cards, {len(report.decks)} decks, "
          f"{len(report.media)} media files, note types: {', '.join(report.notetypes)}")
    for problem in report.problems:
        print(f"{_shown(apkg)}: {problem}", file=sys.stderr)
    if report.problems:
        raise typer.Exit(1)
    print("Anki imports it cleanly: no empty cards, render errors or missing media.")


@app.command()
def check(
    root: Path = ROOT,
    strict: bool = typer.Option(False, "--strict", help="Exit 1 on warnings too, not only on errors."),
    format: str = typer.Option("text", "--format", help="text (path:line:col: CODE message) or json."),
) -> None:
    """Check every card, writing no package and no lock: build's errors, quality warnings, spelling."""
    from deckbuild.lint import FORMATS, check_project

    if format not in FORMATS:
        print(f"unknown format '{format}' (known: {', '.join(FORMATS)})", file=sys.stderr)
        raise typer.Exit(2)
    report = check_project(root, output=(format, "" if _shown(root) == "." else f"{_shown(root)}/"))
    for code, reason in report.skipped.items():
        print(f"{code} skipped: {reason}", file=sys.stderr)
    sys.stdout.flush()
    sys.stdout.buffer.write(report.printed)  # as kept: not decoded and encoded again
    sys.stdout.buffer.write(b"\n")
    raise typer.Exit(report.exit_code(strict))


@app.command()
def preview(
    root: Path = ROOT,
    open_page: bool = typer.Option(False, "--open", help="Open the page in the default browser."),
) -> None:
    """Write dist/preview/index.html: every card's front and back as Anki shows them, offline."""
    from deckbuild.preview import write_preview
    from deckbuild.problems import ProjectError

    try:
        page, result = write_preview(root)
    except ProjectError as err:
        fail(err.problems)
    print(f"{len(result.cards)} cards, {len(result.media)} media files: wrote {_shown(page)}")
    if open_page:
        import webbrowser

        webbrowser.open(page.resolve().as_uri())


@app.command()
def diff(
    old: Optional[Path] = typer.Argument(None, help="The package users have (default: the last build)."),
    new: Optional[Path] = typer.Argument(None, help="The package they would get (default: the cards now)."),
    root: Path = ROOT,
) -> None:
    """What an update brings: new, changed, retired and removed notes, and note type changes that would fork."""
    from deckbuild.config import load_config
    from deckbuild.diff import compare, format_diff, project_snapshot
    from deckbuild.exported import Exported, ExportError, read_package
    from deckbuild.problems import ProjectError

    if (old is None) != (new is None):
        print("give two packages (OLD NEW), or none to compare the cards with the last build", file=sys.stderr)
        raise typer.Exit(2)
    paths: dict[str, str] = {}
    try:
        if old is not None and new is not None:
            before, after = read_package(old), read_package(new)
        else:
            config = load_config(root)[0]
            last = config.package_path
            after, paths = project_snapshot(root)
            if not last.is_file():
                print(f"no previous build ({_shown(last)}): every note is new", file=sys.stderr)
            before = read_package(last) if last.is_file() else Exported(notes=[], note_types={})
    except ProjectError as err:
        fail(err.problems)
    except (ExportError, OSError) as err:
        print(f"can't read the package: {err}", file=sys.stderr)
        raise typer.Exit(1)
    print("\n".join(format_diff(compare(before, after, paths))))


@app.command()
def watch(root: Path = ROOT) -> None:
    """Rebuild whenever a card, media file, note type or deck.toml changes (Ctrl-C stops)."""
    from deckbuild.watch import watch_project

    def show(status) -> None:
        print(status.line, flush=True)
        for problem in status.problems:
            print(f"  {problem}", file=sys.stderr, flush=True)

    try:
        watch_project(root, show)
    except KeyboardInterrupt:
        pass


@app.command("import")
def import_(
    deck: Path = typer.Argument(..., help="An .apkg from Anki (any version) or genanki, or Anki's "
                                          "notes export (.txt/.csv)."),
    into: Optional[Path] = typer.Option(None, "--into", help="The new project folder (default: ./<deck name>)."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Turn an Anki deck into a deck project that builds back to the same notes."""
    from deckbuild.importer import import_deck
    from deckbuild.problems import ProjectError
    from deckbuild.progress import progress_bar

    if not deck.is_file():
        print(f"{_shown(deck)}: no such file", file=sys.stderr)
        raise typer.Exit(1)
    try:
        with progress_bar("Importing", quiet) as progress:
            result = import_deck(deck, into, progress)
    except ProjectError as err:
        fail(err.problems)
    for problem in result.warnings + result.problems:
        print(f"{_shown(result.root)}/{problem}", file=sys.stderr)
    if not quiet:
        print(f"{result.notes} notes, note types: {', '.join(result.note_types)}, "
              f"{result.media} media files: wrote {_shown(result.root)}/")
    if result.problems:
        print(f"{len(result.problems)} problem(s) to fix before `build`.", file=sys.stderr)
        raise typer.Exit(1)


def _shown(path: Path) -> str:
    """Paths relative to where the user stands, never machine paths in output."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def main() -> None:
    # A command makes tens of thousands of long-lived objects and next to no
    # cyclic garbage: at the default thresholds the collector re-walks them
    # hundreds of times (a fifth of a cold check's own time).
    gc.set_threshold(100_000, 50, 100)
    app()


if __name__ == "__main__":
    main()
