#!/usr/bin/env python3
"""Benchmark `build_deck.py build` (and `check`, once it exists) on synthetic decks.

    python benchmarks/run.py                          # 1,000 / 10,000 / 100,000 cards
    python benchmarks/run.py --sizes 1000 --runs 3    # a quick run

For each size and command, four scenarios, each timed as a whole process
under `/usr/bin/time -v` (wall time and peak RSS, median of --runs; the
commands take turns, run by run):

    cold    no lock, no cache, no dist/: a first build
    warm    nothing changed since the command last ran
    edit    one card's text changed since the command last ran
    after   cold, but the other command (check for build, build for
            check) has just run: an author's usual order either way

Two yardsticks build the same cards, taking turns with the commands: the
floor (floor.py: read the cards, escape them, SQLite, deflate; the least
work any build must do), and, if ankdown (the fastest peer: `pip install
ankdown`) is on PATH or named with --ankdown, the same cards in its format.
Both always build everything: they run in the cold scenario, and the floor
also beside the one-card edits, which its target compares it with.

Prints a Markdown table and writes the figures as JSON (--json). Not part of
the test suite: speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from synthetic import edit, write_ankdown, write_deck

REPO = Path(__file__).resolve().parent.parent
CLI = REPO / "build_deck.py"
FLOOR = Path(__file__).with_name("floor.py")
TIME = "/usr/bin/time"
SCENARIOS = ("cold", "warm", "edit", "after")
STATE = ("build-deck.lock", ".build-deck-cache", "dist")  # what a cold run starts without
# Every command runs from bytecode, as an installed one does (pip compiles
# on install), even where the environment says not to write it.
ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def measure(argv: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS in MB of one process."""
    start = time.perf_counter()
    # As bytes: decoding check's report (20 MB at 100,000 cards) is this script's work, not the command's.
    run = subprocess.run([TIME, "-v", *argv], cwd=cwd, env=ENV, capture_output=True)
    wall = time.perf_counter() - start
    stderr = run.stderr.decode(errors="replace")
    if run.returncode != 0:
        raise SystemExit(f"{' '.join(argv[1:])} failed:\n{run.stdout.decode(errors='replace')}{stderr}")
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr).group(1))
    return wall, rss_kb / 1024


def has_command(name: str) -> bool:
    return subprocess.run([sys.executable, str(CLI), name, "--help"],
                          capture_output=True).returncode == 0


def forget(root: Path) -> None:
    for name in STATE:
        path = root / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def bench_commands(commands: list[str], root: Path, cards: list[Path], runs: int,
                   yardsticks: dict[str, tuple[list[str], tuple[str, ...]]]) -> dict[str, dict]:
    """Each scenario's runs, the commands taking turns within each run (and
    the yardsticks, name -> (command, its scenarios)): this machine's speed
    drifts over minutes, and a comparison must not drift with it."""
    samples: dict[str, dict[str, list]] = {command: {} for command in commands}
    for scenario in SCENARIOS:
        for run in range(runs):
            for command in commands:
                other = next((c for c in commands if c != command), None)
                if scenario == "after" and other is None:
                    continue
                prepare(scenario, command, other, root, cards[len(cards) // 2], run)
                samples[command].setdefault(scenario, []).append(measure(argv_of(command, root), root))
            for name, (argv, scenarios) in yardsticks.items():
                if scenario in scenarios:
                    samples.setdefault(name, {}).setdefault(scenario, []).append(measure(argv, root))
    return {command: {scenario: summary(found) for scenario, found in scenarios.items()}
            for command, scenarios in samples.items()}


def argv_of(command: str, root: Path) -> list[str]:
    return [sys.executable, str(CLI), command, "--root", str(root)] + (["--quiet"] if command == "build" else [])


def prepare(scenario: str, command: str, other: str | None, root: Path, card: Path, run: int) -> None:
    """Leave `root` as the scenario starts: warm and edit after a run of the
    same command (untimed, from the same folder as the timed one: check
    keeps its report as printed there), since the other command may have run last."""
    if scenario in ("cold", "after"):
        forget(root)
    if scenario == "after":
        subprocess.run(argv_of(other, root), cwd=root, env=ENV, capture_output=True)
    elif scenario in ("warm", "edit"):
        subprocess.run(argv_of(command, root), cwd=root, env=ENV, capture_output=True)
    if scenario == "edit":
        edit(card, f"{command}-{run}")


def summary(samples: list[tuple[float, float]]) -> dict:
    walls, rss = zip(*samples)
    return {"wall_s": round(statistics.median(walls), 3), "peak_rss_mb": round(statistics.median(rss), 1),
            "samples_s": [round(w, 3) for w in walls]}


def ankdown_argv(ankdown: str, root: Path, size: int) -> list[str]:
    """The same cards in ankdown's format, and the command that builds them."""
    cards = write_ankdown(root / "ankdown", size)
    return [ankdown, "-r", str(cards), "-p", str(root / "ankdown.apkg")]


def compile_tool() -> None:
    """Write the bytecode the commands run from (see ENV)."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "deckbuild"), str(CLI)], env=ENV,
                   check=True)


def startup(runs: int) -> float:
    walls = [measure([sys.executable, str(CLI), "--help"], REPO)[0] for _ in range(runs)]
    return round(statistics.median(walls), 3)


def table(report: dict) -> str:
    lines = ["| cards | command | cold | warm | one card edited | after the other |",
             "|---|---|---|---|---|---|"]
    for size in report["sizes"]:
        for command, scenarios in size["commands"].items():
            cells = [f"{s['wall_s']:.2f} s, {s['peak_rss_mb']:.0f} MB" if s else "–"
                     for s in (scenarios.get(name) for name in SCENARIOS)]
            lines.append(f"| {size['cards']:,} | {command} | " + " | ".join(cells) + " |")
    lines.append("")
    lines += ratios(report)
    lines.append(f"`build_deck.py --help`: {report['startup_s']:.2f} s. "
                 f"Median of {report['runs']} runs, {report['machine']['cpus']} CPUs, "
                 f"Python {report['machine']['python']}.")
    for note in report["notes"]:
        lines.append(f"{note}")
    return "\n".join(lines)


def ratios(report: dict) -> list[str]:
    """The comparisons the performance targets are stated in, per size."""
    lines = []
    for size in report["sizes"]:
        wall = {(command, scenario): figures["wall_s"] for command, scenarios in size["commands"].items()
                for scenario, figures in scenarios.items() if figures}
        found = []
        if ("build", "edit") in wall and ("floor", "edit") in wall:  # the floor beside the edits
            found.append(f"build, one card edited / floor: {wall['build', 'edit'] / wall['floor', 'edit']:.2f}")
        if ("build", "cold") in wall and ("ankdown (peer)", "cold") in wall:
            found.append(f"cold build / ankdown: {wall['build', 'cold'] / wall['ankdown (peer)', 'cold']:.2f}")
        found += [f"check / build, {scenario}: {wall['check', scenario] / wall['build', scenario]:.2f}"
                  for scenario in SCENARIOS if ("check", scenario) in wall and ("build", scenario) in wall]
        if found:
            lines.append(f"{size['cards']:,} cards: " + "; ".join(found) + ".")
    return lines + [""] if lines else lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000",
                        help="card counts, comma-separated (default: 1000,10000,100000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per scenario; the median counts")
    parser.add_argument("--json", type=Path, default=Path(__file__).with_name("results.json"),
                        help="where to write the figures (default: benchmarks/results.json)")
    parser.add_argument("--workdir", type=Path, help="where to write the decks (default: a temp dir)")
    parser.add_argument("--ankdown", default=shutil.which("ankdown"),
                        help="the ankdown command, for a yardstick (default: ankdown on PATH, if any)")
    args = parser.parse_args()
    if not Path(TIME).exists():
        raise SystemExit(f"{TIME} is missing: apt-get install -y time")

    commands = ["build"]
    notes = []
    if has_command("check"):
        commands.append("check")
    else:
        notes.append("`check` skipped: this build_deck has no check command.")
    if not args.ankdown:
        notes.append("No ankdown yardstick: ankdown is not installed (pip install ankdown).")
    compile_tool()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="build-deck-bench-"))
    report = {"runs": args.runs, "startup_s": startup(args.runs), "notes": notes, "sizes": [],
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version()}}
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            root = work / f"deck-{size}"
            shutil.rmtree(root, ignore_errors=True)
            cards = write_deck(root, size)
            yardsticks = {"floor": ([sys.executable, str(FLOOR), str(root), str(root / "floor.apkg")],
                                    ("cold", "edit"))}
            if args.ankdown:
                yardsticks["ankdown (peer)"] = (ankdown_argv(args.ankdown, root, size), ("cold",))
            results = bench_commands(commands, root, cards, args.runs, yardsticks)
            report["sizes"].append({"cards": size, "commands": results})
            print(f"{size:,} cards done", file=sys.stderr)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    print(table(report))
    args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
