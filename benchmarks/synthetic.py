"""A synthetic deck project of N cards in build_deck's format, for benchmarks.

Realistic Norwegian flashcards: half plain sentences, a third with inline
emphasis or links, the rest with lists, tables, code or images; every note
type; cards spread over subdecks of a few hundred; a few media files. The
same N always writes the same files.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

NOUNS = [
    "kunden", "verdikjeden", "fortjenesten", "relasjonen", "kollegaen", "butikken", "salget",
    "tilliten", "smilet", "lunsjpausen", "eierskapet", "samvittigheten", "handlingsplanen",
    "julerushet", "fagkunnskapen", "arbeidsmiljøet", "avstanden", "nærheten", "følelsen",
    "tryggheten", "samarbeidet", "leverandøren", "reklamasjonen", "kassen", "varen",
]
VERBS = [
    "bygger", "styrker", "svekker", "påvirker", "forklarer", "avgjør", "skaper", "øker",
    "reduserer", "beskriver", "viser", "endrer", "forsterker", "krever",
]
ADJECTIVES = [
    "god", "krevende", "usikker", "rasjonell", "vennlig", "profesjonell", "trygg", "rask",
    "tydelig", "varm", "skjør", "lønnsom", "bevisst", "ærlig",
]
QUESTIONS = [
    "Hva betyr {noun} for {noun2} i en travel hverdag?",
    "Hvorfor {verb} {noun} {noun2}?",
    "Hvordan kan du gjøre {noun} mer {adj}?",
    "Hva kjennetegner en {adj} selger i møte med {noun}?",
    "Når bør du prioritere {noun} framfor {noun2}?",
    "Gi et eksempel på hvordan {noun} {verb} {noun2}.",
]
ANSWERS = [
    "{Noun} {verb} {noun2} når du er {adj} og tar deg tid.",
    "Fordi {noun} alltid {verb} hvordan kunden opplever {noun2}.",
    "Ved å være {adj}, lytte godt og følge opp {noun} etter salget.",
    "Når {noun2} står i fare, og {noun} kan gjøre situasjonen {adj}.",
    "Det handler om at {noun} {verb} {noun2}, ikke om pris alene.",
]
EXTRAS = [
    "Tenk på en situasjon fra din egen praksis der {noun} {verb} {noun2}.",
    "Ellingsen kaller dette summen av de små valgene.",
    "Se også kapitlet om {noun2} og hva som gjør den {adj}.",
]
SOURCES = [
    "Kay Ellingsen: «Det er summen av de små valgene du gjør»",
    "«Hvordan skape gode kunderelasjoner?»",
    "Salg og service Vg2, kapittel {n}",
]
MEDIA = ["verdikjede.png", "smil.png", "kasse.png", "bilder/relasjon.png", "bilder/trygghet.png"]
# A 1x1 PNG: media cost is per reference, not per pixel.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360f8cfc0f01f0005fe02fea7d4a6a40000000049454e44ae426082"
)
CARDS_PER_FOLDER = 500
# (weight, note type): every type, basic the most common.
TYPES = [(50, "basic"), (15, "reversed"), (20, "cloze"), (15, "type-in")]


def write_deck(root: Path, n: int, seed: int = 1) -> list[Path]:
    """Write deck.toml, cards/ and media/ under root; return the card paths."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / "deck.toml").write_text('name = "Syntetisk"\nnamespace = "syntetisk"\n'
                                    'language = "nb_NO"\n', encoding="utf-8")
    for name in MEDIA:
        (root / "media" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "media" / name).write_bytes(PNG)
    paths = []
    for i in range(n):
        folder = root / "cards" / f"Del {i // (CARDS_PER_FOLDER * 10) + 1}" / \
            f"Kapittel {i // CARDS_PER_FOLDER % 10 + 1}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"kort-{i:06d}.md"
        path.write_text(card_text(rng, i), encoding="utf-8")
        paths.append(path)
    return paths


def write_ankdown(root: Path, n: int, seed: int = 1) -> Path:
    """The same N cards (same seed) in ankdown's format, the fastest peer,
    for a yardstick: a file per card, front `%` back (and extra) `%` tags,
    images beside the files that show them. Returns the folder."""
    rng = random.Random(seed)
    for i in range(n):
        meta, body = card_text(rng, i).split("---\n", 2)[1:]
        tags = re.search(r"tags: \[(.*)\]", meta).group(1)
        sections = re.split(r"^% (?:back|extra)\n", body, flags=re.M)
        folder = root / f"Del {i // (CARDS_PER_FOLDER * 10) + 1}" / f"Kapittel {i // CARDS_PER_FOLDER % 10 + 1}"
        if not folder.is_dir():
            for name in MEDIA:
                (folder / name).parent.mkdir(parents=True, exist_ok=True)
                (folder / name).write_bytes(PNG)
        back = "\n\n".join(section.strip() for section in sections[1:])
        (folder / f"kort-{i:06d}.md").write_text(f"{sections[0].strip()}\n\n%\n\n{back}\n\n%\n\n{tags}\n",
                                                 encoding="utf-8")
    return root


def card_text(rng: random.Random, i: int) -> str:
    note_type = rng.choices([t for _, t in TYPES], weights=[w for w, _ in TYPES])[0]
    style = rng.random()
    style = "plain" if style < 0.5 else "inline" if style < 0.83 else "block"
    tags = " ".join(rng.sample(["salg", "service", "relasjon", "eierskap", "soppel", "folelser"], 2))
    meta = (f"---\nid: kort-{i:06d}\ntype: {note_type}\ntags: [{tags.replace(' ', ', ')}]\n"
            f"source: \"{rng.choice(SOURCES).format(n=i % 12 + 1)}\"\n---\n")
    if note_type == "cloze":
        body = _cloze(rng, style)
    else:
        question, answer = _sentence(rng, QUESTIONS), _sentence(rng, ANSWERS)
        if note_type == "type-in":
            answer = rng.choice(NOUNS)
        elif style == "inline":
            answer = _inline(rng, answer)
        elif style == "block":
            answer = _block(rng)
        body = f"{question}\n\n% back\n{answer}\n"
    if rng.random() < 0.3:
        body += f"\n% extra\n{_sentence(rng, EXTRAS)}\n"
    return meta + body


def edit(path: Path, mark: str) -> None:
    """Change one card's answer, as an author fixing a typo would."""
    text = path.read_text(encoding="utf-8").rstrip("\n")
    path.write_text(f"{text} (rettet {mark})\n", encoding="utf-8")


def _words(rng: random.Random) -> dict[str, str]:
    noun, noun2 = rng.sample(NOUNS, 2)
    return {"noun": noun, "Noun": noun.capitalize(), "noun2": noun2,
            "verb": rng.choice(VERBS), "adj": rng.choice(ADJECTIVES)}


def _sentence(rng: random.Random, patterns: list[str]) -> str:
    return rng.choice(patterns).format(**_words(rng))


def _inline(rng: random.Random, sentence: str) -> str:
    words = sentence.split(" ")
    k = rng.randrange(len(words) - 1)
    kind = rng.choice(["**{}**", "*{}*", "_{}_", "[{}](https://ndla.no/salg)", "`{}`"])
    words[k] = kind.format(words[k])
    return " ".join(words)


def _block(rng: random.Random) -> str:
    kind = rng.choice(["list", "list", "numbered", "table", "code", "image", "image"])
    w = _words(rng)
    if kind == "list":
        return "\n".join(f"- {_sentence(rng, ANSWERS)}" for _ in range(3))
    if kind == "numbered":
        return "\n".join(f"{k}. {_sentence(rng, ANSWERS)}" for k in range(1, 4))
    if kind == "table":
        return (f"| Situasjon | Hva du gjør |\n|---|---|\n| {w['Noun']} er {w['adj']} | "
                f"Lytt og følg opp |\n| Kunden er usikker | Gi trygghet |")
    if kind == "code":
        return f"Skriv i kassen:\n\n```\nrabatt = pris * 0.1  # {w['noun']}\n```"
    return f"{_sentence(rng, ANSWERS)}\n\n![{w['Noun']}]({rng.choice(MEDIA)})"


def _cloze(rng: random.Random, style: str) -> str:
    w = _words(rng)
    text = f"{w['Noun']} {{{{c1::{w['verb']}}}}} {w['noun2']} når du er {{{{c2::{w['adj']}}}}}."
    if style == "inline":
        text = text.replace(w["noun2"], f"**{w['noun2']}**", 1)
    elif style == "block":
        text += f"\n\n- {_sentence(rng, ANSWERS)}\n- {_sentence(rng, ANSWERS)}"
    return text + "\n"
