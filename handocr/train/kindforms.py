"""Real forms for the word-kind fit: the Kaggle names train split, labelled weakly.

The train split ``../shared/data/train/kaggle_names`` holds name fields cut from real forms with
their printed captions (``NOM :``, ``PRENOM :``) beside the handwritten names, and fragments of
neighbouring form lines; its labels are the names only. :func:`label_caption_words` turns a
page read by handocr into per-word kinds from them, and :func:`read_caption_forms` gives each
form's labelled words as the features' classifier and the word-kind network take them
(:func:`handocr.train.kind.fit_kind`, :func:`handocr.train.kindnet.train_kind_net`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from handocr.kind import HANDWRITTEN, PRINTED, word_features, word_lines
from handocr.kind_net import word_crops
from handocr.result import Page

__all__ = [
    "CAPTIONS",
    "FormWords",
    "is_caption",
    "label_caption_words",
    "read_caption_forms",
    "with_forms",
]


CAPTIONS = ("NOM", "PRENOM", "PRENOMS", "DATE", "NAISSANCE", "CLASSE", "DATEDENAISSANCE")
"""The printed captions of the Kaggle names forms (``../shared/data/train/kaggle_names``)."""


def _letters(text: str) -> str:
    return "".join(c for c in text.upper() if c.isalpha())


def is_caption(text: str) -> bool:
    """Whether a word read reads as one of :data:`CAPTIONS` (at most one edit; whole only)."""
    from rapidfuzz.distance import Levenshtein

    t = _letters(text)
    return len(t) >= 2 and any(
        Levenshtein.distance(t, c) <= (1 if len(c) >= 4 else 0) for c in CAPTIONS
    )


def label_caption_words(page: Page, truth: str) -> list[str | None]:
    """Weak kind labels of a read Kaggle names form, per word in reading order.

    ``printed`` for a caption (:func:`is_caption`); ``handwritten`` for a word whose letters
    are a stretch of the name's (``truth``, the train split's label) and that does not stand
    left of a caption on its line; None (left out of a fit) for anything else: fragments of
    neighbouring lines, misreadings.
    """
    name = _letters(truth)
    out: list[str | None] = []
    for line in page.lines:
        caps = [w.box.x1 for w in line.words if is_caption(w.text)]
        right = max(caps, default=None)
        for w in line.words:
            t = _letters(w.text)
            if is_caption(w.text):
                out.append(PRINTED)
            elif t and t in name and (right is None or w.box.x0 >= right):
                out.append(HANDWRITTEN)
            else:
                out.append(None)
    return out


FormWords = tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64], NDArray[np.float32]]
"""Features, labels (1 printed, 0 handwritten), line numbers and network crops
(:func:`handocr.kind_net.word_crops`) of one form's labelled words."""


def read_caption_forms(
    folder: Path,
    recognizer: Any,
    *,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[FormWords]:
    """Read a train-split folder of captioned name forms and label its words weakly.

    Parameters
    ----------
    folder : Path
        ``truth.tsv`` (``file<TAB>name``) and the images beside it
        (``../shared/data/train/kaggle_names``: train split, allowed for fitting).
    recognizer : Recognizer
    limit : int, optional
        Read at most this many images (in ``truth.tsv`` order).
    progress : callable, optional

    Returns
    -------
    list of FormWords
        One entry per image with at least one labelled word (:func:`label_caption_words`).
    """
    import cv2

    rows = [
        line.split("\t")
        for line in (folder / "truth.tsv").read_text(encoding="utf-8").splitlines()
        if "\t" in line
    ][:limit]
    out: list[FormWords] = []
    batch = 16
    for start in range(0, len(rows), batch):
        chunk = rows[start : start + batch]
        grays = [cv2.imread(str(folder / f), cv2.IMREAD_GRAYSCALE) for f, _ in chunk]
        ok = [
            (np.asarray(g, np.uint8), t)
            for g, (_, t) in zip(grays, chunk, strict=True)
            if g is not None
        ]
        records = recognizer.read_images([g for g, _ in ok])
        for (gray, truth), rec in zip(ok, records, strict=True):
            if rec.page is None:
                continue
            labels = label_caption_words(rec.page, truth)
            keep = [j for j, k in enumerate(labels) if k is not None]
            if not keep:
                continue
            feats = word_features(rec.page, gray)[keep]
            lines = word_lines(rec.page)[keep]
            y = np.asarray([int(labels[j] == PRINTED) for j in keep], np.int64)
            out.append((feats, y, lines, word_crops(rec.page, gray)[keep]))
        if progress is not None:
            progress(min(start + batch, len(rows)), len(rows))
    return out


def with_forms(
    x: NDArray[np.float64],
    y: NDArray[np.int64],
    lines: NDArray[np.int64],
    test: NDArray[np.bool_],
    train: NDArray[np.bool_],
    forms: Sequence[FormWords],
    held_out: float,
) -> tuple[NDArray[Any], ...]:
    """Append the forms' words to the generated pages' rows for a fit.

    The last ``held_out`` share of the forms (by form) are only scored. Returns
    ``x, y, lines, test, train, form_test``, the last marking the rows of held-out forms; line
    numbers of the forms are made unique (from 10,000,000 on).
    """
    n_forms = len(forms)
    if not n_forms:
        return x, y, lines, test, train, np.zeros(len(y), bool)
    n_ft = max(round(n_forms * held_out), 1) if n_forms > 1 else 0
    fx = np.vstack([f[0] for f in forms])
    fy = np.concatenate([f[1] for f in forms])
    fl = np.concatenate([f[2] + (10_000_000 + i * 100_000) for i, f in enumerate(forms)])
    f_test = np.concatenate([np.full(len(f[1]), i >= n_forms - n_ft) for i, f in enumerate(forms)])
    n = len(y)
    return (
        np.vstack([x, fx]),
        np.concatenate([y, fy]),
        np.concatenate([lines, fl]),
        np.concatenate([test, np.zeros(len(fy), bool)]),
        np.concatenate([train, ~f_test]),
        np.concatenate([np.zeros(n, bool), f_test]),
    )
