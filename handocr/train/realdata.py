"""Training crops from real handprint, made exactly as reading makes them.

Three layouts a user may have, each turned into ``(N, 28, 28)`` uint8 crops (upright, ink 255,
the EMNIST convention of :mod:`handocr.crops`) with labels in :data:`handocr.labels.LABELS`
order:

``boxes``
    Images plus ``boxes.tsv`` (``filename, x, y, width, height, label``: a box per character,
    e.g. the ORAND-CAR-A train split's 4,898 digit boxes). Each page is binarised by
    :func:`handocr.preprocess.ink_map` and every box cropped by
    :func:`handocr.crops.to_model_input`.
``folders``
    A folder per class (``A/``, ``7/``, ``a/``, ...) of images each holding one character; its
    ink's bounding box is the crop.
``weak``
    Field images plus ``truth.tsv`` (``filename<TAB>text``) whose text is known but not where
    each character is (e.g. the Kaggle names train split). Each image is read by handocr
    itself (:meth:`handocr.Recognizer.stream`, ``pieces=True``) and a line is aligned with the text
    (forced alignment): a run of words of one line is kept only when its glyph count equals the
    text's character count and the classifier agrees with the text on at least ``min_agreement``
    of the glyphs (the label is among its top-3 readings). Each glyph is then labelled with its
    character of the text, including the glyphs the classifier got wrong: that is what it
    learns from.

:func:`load_real` detects the layout of a folder. Images are split by a hash of their name into
training and held-out parts (:func:`held_out`), so a held-out image never trains.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from handocr.crops import INPUT_SHAPE
from handocr.errors import DataError, HandocrError
from handocr.train.data import to_uint8_images

if TYPE_CHECKING:
    from handocr.api import Recognizer
    from handocr.result import Box
    from handocr.train.config import TrainConfig
    from handocr.train.data import ArraySet

__all__ = [
    "LAYOUTS",
    "RealCrops",
    "align_weak_labels",
    "contact_sheet",
    "detect_layout",
    "held_out",
    "load_real",
    "mix_real_crops",
    "read_box_crops",
    "read_class_folders",
]

log = logging.getLogger(__name__)

LAYOUTS = ("boxes", "folders", "weak")
"""Folder layouts of real training data (module docstring)."""

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".pgm", ".pbm")


@dataclass(frozen=True, slots=True)
class RealCrops:
    """Labelled crops from one folder, split into training and held-out images.

    Attributes
    ----------
    name : str
        The folder's name.
    layout : str
        One of :data:`LAYOUTS`.
    images, labels : ndarray
        ``(N, 28, 28)`` uint8 crops (ink 255) and ``(N,)`` int64 labels, training part.
    held_images, held_labels : ndarray
        The same for the held-out images (:func:`held_out`).
    report : dict
        Counts: ``images`` (read), ``kept`` (images that gave crops), ``crops``, and for
        ``weak`` the alignment's yield and reasons for dropping.
    """

    name: str
    layout: str
    images: NDArray[np.uint8]
    labels: NDArray[np.int64]
    held_images: NDArray[np.uint8]
    held_labels: NDArray[np.int64]
    report: dict[str, Any] = field(default_factory=dict)


def held_out(name: str, share: float) -> bool:
    """Whether the image called ``name`` belongs to the held-out part (stable across runs).

    The decision hashes the file name (SHA-256), so it does not depend on the order or the
    number of files, and the same images are held out in every run.

    Examples
    --------
    >>> held_out("a.png", 0.0), held_out("a.png", 1.0)
    (False, True)
    """
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def detect_layout(folder: Path) -> str:
    """Return the layout of a folder of real data (:data:`LAYOUTS`).

    Raises
    ------
    DataError
        The folder does not exist or matches no layout.
    """
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder")
    if (folder / "boxes.tsv").is_file():
        return "boxes"
    if (folder / "truth.tsv").is_file():
        return "weak"
    if any(p.is_dir() and not p.name.startswith(".") for p in folder.iterdir()):
        return "folders"
    raise DataError(f"{folder}: no boxes.tsv, truth.tsv or class sub-folders")


def _find_image(folder: Path, name: str) -> Path:
    for candidate in (folder / name, folder / "images" / name):
        if candidate.is_file():
            return candidate
    raise DataError(f"{folder}: image {name} not found (also looked in images/)")


def _label(text: str, where: str) -> int:
    from handocr.labels import index_of

    try:
        return index_of(text)
    except KeyError:
        raise DataError(f"{where}: label {text!r} is not one of the 47 EMNIST classes") from None


def _empty() -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    return np.zeros((0, *INPUT_SHAPE[1:]), np.uint8), np.zeros(0, np.int64)


class _Split:
    """Crops gathered per image into the training or the held-out part."""

    def __init__(self, share: float) -> None:
        self.share = share
        self.parts: dict[bool, tuple[list[NDArray[np.uint8]], list[NDArray[np.int64]]]] = {
            False: ([], []),
            True: ([], []),
        }

    def add(self, name: str, crops: NDArray[np.uint8], labels: Sequence[int]) -> None:
        xs, ys = self.parts[held_out(name, self.share)]
        xs.append(crops)
        ys.append(np.asarray(labels, np.int64))

    def _part(self, held: bool) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
        xs, ys = self.parts[held]
        return (np.concatenate(xs), np.concatenate(ys)) if xs else _empty()

    def result(self, name: str, layout: str, report: dict[str, Any]) -> RealCrops:
        (x, y), (hx, hy) = self._part(False), self._part(True)
        report["crops"], report["held_crops"] = len(y), len(hy)
        return RealCrops(name, layout, x, y, hx, hy, report=report)


def read_boxes_tsv(folder: Path) -> dict[str, list[tuple[Box, int]]]:
    """Read ``folder/boxes.tsv``: per image name, its character boxes and class indices.

    Raises
    ------
    DataError
        The file cannot be read, a row is malformed or a label is outside the 47 classes.
    """
    from handocr.result import Box

    by_image: dict[str, list[tuple[Box, int]]] = {}
    path = folder / "boxes.tsv"
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh, delimiter="\t"))
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err})") from err
    for k, row in enumerate(rows[1:], start=2):
        try:
            name, x, y, w, h, text = row
            box = Box(int(x), int(y), int(x) + int(w), int(y) + int(h))
        except ValueError as err:
            raise DataError(f"{path}:{k}: expected file, x, y, width, height, label") from err
        by_image.setdefault(name, []).append((box, _label(text, f"{path}:{k}")))
    return by_image


def read_box_crops(folder: Path, *, holdout: float = 0.1) -> RealCrops:
    """Crops from images with a box per character (``boxes.tsv``; module docstring).

    Parameters
    ----------
    folder : Path
        Holds ``boxes.tsv`` and the images (in the folder or in ``images/``).
    holdout : float, default 0.1
        Share of images held out (:func:`held_out`).

    Returns
    -------
    RealCrops

    Raises
    ------
    DataError
        A malformed ``boxes.tsv`` row, a missing image or a label outside the 47 classes.
    """
    from handocr.crops import to_model_input
    from handocr.io import load_pages
    from handocr.preprocess import ink_map

    by_image = read_boxes_tsv(folder)
    split = _Split(holdout)
    for name, entries in by_image.items():
        (page,) = load_pages(_find_image(folder, name))
        ink = ink_map(page)
        crops = to_model_input(ink, [b for b, _ in entries])
        split.add(name, to_uint8_images(crops), [lab for _, lab in entries])
    report = {"images": len(by_image), "kept": len(by_image)}
    return split.result(folder.name, "boxes", report)


def read_class_folders(folder: Path, *, holdout: float = 0.1) -> RealCrops:
    """Crops from a folder per class, each image one character (module docstring).

    A sub-folder's name is its character (``A``, ``7``, ``a``; merged lower-case letters count
    as their capitals). An image without ink is skipped.

    Raises
    ------
    DataError
        A sub-folder named other than one of the 47 classes, or an unreadable image.
    """
    from handocr.crops import to_model_input
    from handocr.io import load_pages
    from handocr.preprocess import ink_map
    from handocr.result import Box

    split = _Split(holdout)
    n_images = kept = 0
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        label = _label(sub.name, str(sub))
        for img in sorted(p for p in sub.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
            n_images += 1
            try:
                (page,) = load_pages(img)
            except HandocrError as err:
                raise DataError(f"{img}: {err}") from err
            ink = ink_map(page)
            ys, xs = np.nonzero(ink)
            if len(ys) == 0:
                continue
            box = Box(int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
            crop = to_uint8_images(to_model_input(ink, [box]))
            split.add(f"{sub.name}/{img.name}", crop, [label])
            kept += 1
    return split.result(folder.name, "folders", {"images": n_images, "kept": kept})


def _target(text: str) -> list[int] | None:
    """Return the class of each character of a text (whitespace and ``-'.,`` left out)."""
    from handocr.labels import index_of

    out = []
    for ch in text.replace("\\n", " "):
        if ch.isspace() or ch in "-'.,":
            continue
        try:
            out.append(index_of(ch))
        except KeyError:
            return None  # e.g. an accented letter: no class for it
    return out


def align_weak_labels(
    recognizer: Recognizer,
    folder: Path,
    *,
    holdout: float = 0.1,
    min_agreement: float = 0.5,
    top_k: int = 3,
    progress: Callable[[int, int], None] | None = None,
) -> RealCrops:
    """Crops from field images with a transcription only, by forced alignment (module docstring).

    Parameters
    ----------
    recognizer : Recognizer
        Reads each image (segmentation as at inference, and the classifier that checks the
        alignment).
    folder : Path
        Holds ``truth.tsv`` and the images.
    holdout : float, default 0.1
    min_agreement : float, default 0.5
        Least share of the aligned glyphs whose label is among the classifier's ``top_k``.
    top_k : int, default 3
    progress : callable, optional
        ``progress(done, total)`` per image.

    Returns
    -------
    RealCrops
        ``report`` holds ``images``, ``kept`` (the yield), and the images dropped because the
        text has characters outside the classes (``no_target``), could not be read
        (``unreadable``), no run of words had the text's glyph count (``count_mismatch``), or
        the classifier disagreed (``disagree``).

    Raises
    ------
    DataError
        ``truth.tsv`` is missing or malformed.
    """
    from handocr.crops import pieces_to_model_input
    from handocr.evaluate import read_truth

    truth = read_truth(folder / "truth.tsv")
    split = _Split(holdout)
    report: dict[str, Any] = {
        "images": len(truth),
        "kept": 0,
        "no_target": 0,
        "unreadable": 0,
        "count_mismatch": 0,
        "disagree": 0,
    }
    items: list[tuple[str, list[int], Path]] = []  # (name, target, path) of the images read
    for name, text in truth:
        target = _target(text)
        if not target:
            report["no_target"] += 1
            continue
        try:
            items.append((name, target, _find_image(folder, name)))
        except DataError:
            report["unreadable"] += 1

    done = len(truth) - len(items)
    records = recognizer.stream([str(path) for _, _, path in items], errors="report", pieces=True)
    for record in records:  # the page stream: shared batches, one page in memory per image
        if record.number > 1:  # a multi-page image: its first page is the labelled one
            continue
        name, target, _ = items[record.input]
        done += 1
        if progress is not None:
            progress(done, len(truth))
        if record.page is None or record.pieces is None:
            report["unreadable"] += 1
            continue
        agree, crops = _align(record.page, list(record.pieces), target, top_k)
        if crops is None or agree < min_agreement:
            report["count_mismatch" if crops is None else "disagree"] += 1
        else:
            split.add(name, to_uint8_images(pieces_to_model_input(crops)), target)
            report["kept"] += 1
    report["yield"] = round(report["kept"] / max(report["images"], 1), 4)
    return split.result(folder.name, "weak", report)


def _align(
    page: Any, pieces: Sequence[Any], target: Sequence[int], top_k: int
) -> tuple[float, list[Any] | None]:
    """Return the best run of words of ``page`` for ``target``: (agreeing share, pieces).

    A run is one or more consecutive words of one line (a whole line included) with as many
    glyphs as ``target`` has characters, so a name beside a printed caption on the same line
    ("NOM : DUPONT") still aligns; ``(0.0, None)`` when no run qualifies.
    """
    best: tuple[float, list[Any] | None] = (0.0, None)
    pos = 0
    for line in page.lines:
        chars = line.all_chars()
        bounds = np.cumsum([0] + [len(w.chars) for w in line.words]).tolist()
        end_at = set(bounds)
        for a in bounds[:-1]:  # a run starts at a word and must end at one
            b = a + len(target)
            if b in end_at:
                agree = _agreement(chars[a:b], target, top_k)
                if best[1] is None or agree > best[0]:
                    best = (agree, list(pieces[pos + a : pos + b]))
        pos += len(chars)
    return best


def _agreement(chars: Sequence[Any], target: Sequence[int], top_k: int) -> float:
    """Share of ``chars`` whose class in ``target`` is among their ``top_k`` readings."""
    from handocr.labels import index_of

    hits = [
        lab in {index_of(t) for t in [c.text, *(x for x, _ in c.alternatives)][:top_k]}
        for c, lab in zip(chars, target, strict=True)
    ]
    return float(np.mean(hits))


def load_real(
    folder: Path,
    *,
    recognizer: Recognizer | None = None,
    holdout: float = 0.1,
    min_agreement: float = 0.5,
) -> RealCrops:
    """Read a folder of real training data in whichever layout it has (:func:`detect_layout`).

    Parameters
    ----------
    folder : Path
    recognizer : Recognizer, optional
        For the ``weak`` layout; default one with the shipped models.
    holdout : float, default 0.1
        Share of images held out (:func:`held_out`).
    min_agreement : float, default 0.5
        See :func:`align_weak_labels`.

    Returns
    -------
    RealCrops

    Raises
    ------
    DataError
        No layout matches, or the data is malformed.
    """
    layout = detect_layout(folder)
    if layout == "boxes":
        crops = read_box_crops(folder, holdout=holdout)
    elif layout == "folders":
        crops = read_class_folders(folder, holdout=holdout)
    else:
        if recognizer is None:
            from handocr.api import Recognizer

            recognizer = Recognizer(line_models=())  # the character members' own glyphs
        crops = align_weak_labels(recognizer, folder, holdout=holdout, min_agreement=min_agreement)
    log.info("%s (%s): %s", folder, layout, crops.report)
    return crops


def mix_real_crops(
    cfg: TrainConfig,
    images: NDArray[np.uint8],
    labels: NDArray[np.int64],
    tr_idx: NDArray[np.intp],
) -> tuple[NDArray[np.uint8], NDArray[np.int64], NDArray[np.intp], ArraySet | None, dict[str, Any]]:
    """Append the crops of ``cfg.real`` (and ``cfg.synth_pages``) to the training arrays.

    Parameters
    ----------
    cfg : TrainConfig
        ``real``, ``real_holdout``, ``min_agreement``, ``synth_pages``, ``real_share``, ``seed``.
    images : ndarray of uint8, shape (N, 28, 28)
    labels : ndarray of int64, shape (N,)
    tr_idx : ndarray of intp
        The training indices into ``images`` (the rest is validation).

    Returns
    -------
    images, labels : ndarray
        The arrays with the crops appended.
    tr_idx : ndarray of intp
        EMNIST's training indices plus the crops', repeated or subsampled so that they make
        ``cfg.real_share`` of every epoch.
    held : (images, labels) or None
        The held-out crops.
    report : dict
        The resolved mix, for the weights' metadata (empty without real crops).

    Raises
    ------
    DataError
        A folder cannot be read, or no crop was found.
    """
    if not cfg.real and not cfg.synth_pages:
        return images, labels, tr_idx, None, {}
    parts = [
        load_real(Path(folder), holdout=cfg.real_holdout, min_agreement=cfg.min_agreement)
        for folder in cfg.real
    ]
    if cfg.synth_pages:
        from handocr.api import Recognizer
        from handocr.train.synthdata import pipeline_crops

        sx, sy, rep = pipeline_crops(
            Recognizer(line_models=()),
            images[tr_idx],
            labels[tr_idx],
            pages=cfg.synth_pages,
            seed=cfg.seed,
        )
        none = np.zeros((0, *sx.shape[1:]), np.uint8), np.zeros(0, np.int64)
        parts.append(RealCrops("synthetic", "pipeline", sx, sy, *none, report=rep))
    real_x = np.concatenate([p.images for p in parts])
    real_y = np.concatenate([p.labels for p in parts])
    if len(real_y) == 0:
        raise DataError(f"no crops in {', '.join(cfg.real) or 'the synthetic pages'}")
    n_samples = round(cfg.real_share / (1 - cfg.real_share) * len(tr_idx))
    rng = np.random.default_rng(cfg.seed)
    real_idx = len(labels) + np.resize(rng.permutation(len(real_y)), n_samples)
    held = (
        np.concatenate([p.held_images for p in parts]),
        np.concatenate([p.held_labels for p in parts]),
    )
    report = {
        "sources": {p.name: {"layout": p.layout, **p.report} for p in parts},
        "crops": len(real_y),
        "samples_per_epoch": int(n_samples),
        "emnist_samples_per_epoch": len(tr_idx),
        "repeats": round(n_samples / len(real_y), 3),
        "share": cfg.real_share,
    }
    log.info("real crops: %s", report)
    return (
        np.concatenate([images, real_x]),
        np.concatenate([labels, real_y]),
        np.concatenate([tr_idx, real_idx]),
        held if len(held[1]) else None,
        report,
    )


def contact_sheet(
    images: NDArray[np.uint8],
    labels: NDArray[np.int64],
    path: Path,
    *,
    n: int = 200,
    columns: int = 20,
    seed: int = 0,
) -> list[int]:
    """Write a PNG grid of ``n`` random crops, each with its label, for checking labels by eye.

    Returns
    -------
    list of int
        The indices shown, row by row.
    """
    import cv2

    from handocr.labels import LABELS

    rng = np.random.default_rng(seed)
    pick = sorted(rng.choice(len(labels), size=min(n, len(labels)), replace=False).tolist())
    cell = 56
    rows = -(-len(pick) // columns)
    sheet = np.full((rows * (cell + 18), columns * cell), 255, np.uint8)
    for k, i in enumerate(pick):
        r, c = divmod(k, columns)
        y, x = r * (cell + 18), c * cell
        sheet[y : y + cell, x : x + cell] = 255 - cv2.resize(images[i], (cell, cell))
        cv2.putText(
            sheet, LABELS[int(labels[i])], (x + 20, y + cell + 14), cv2.FONT_HERSHEY_SIMPLEX,
            0.5, 0, 1,
        )  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), sheet)
    return pick
