"""Reader for EMNIST files in the standard IDX format, returning upright images.

File names follow the official EMNIST release (Cohen et al. 2017, arXiv:1702.05373)::

    emnist-<split>-<train|test>-images-idx3-ubyte[.gz]
    emnist-<split>-<train|test>-labels-idx1-ubyte[.gz]
    emnist-<split>-mapping.txt

The IDX format (LeCun et al., MNIST) is a big-endian header: two zero bytes, a type byte
(``0x08`` = unsigned byte), the number of dimensions, one ``uint32`` per dimension, then the data.
EMNIST stores every image **transposed**; :func:`load_emnist` transposes once, so everything
downstream of this module sees upright glyphs.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from handocr.crops import INPUT_SHAPE
from handocr.errors import DataError

if TYPE_CHECKING:
    from handocr.train.config import TrainConfig

__all__ = [
    "ArraySet",
    "EmnistSplit",
    "load_emnist",
    "read_idx",
    "read_mapping",
    "resolve_data_dir",
    "split_train_val",
    "to_uint8_images",
]

log = logging.getLogger(__name__)

IDX_UBYTE = 0x08
MAGIC_IMAGES = 2051  # 0x00000803: ubyte, 3 dims
MAGIC_LABELS = 2049  # 0x00000801: ubyte, 1 dim
KNOWN_SPLITS = ("balanced", "bymerge", "byclass", "digits", "letters", "mnist", "pool47")
DATA_ENV = "HANDOCR_DATA"


@dataclass(frozen=True, slots=True)
class EmnistSplit:
    """One part (train or test) of an EMNIST split, upright.

    Attributes
    ----------
    images : ndarray of uint8, shape (N, 28, 28)
        Upright glyphs, white ink (255) on black (0).
    labels : ndarray of int64, shape (N,)
        Class indices into ``mapping``.
    mapping : tuple of str
        Class index -> character, from ``emnist-<split>-mapping.txt``.
    sha256 : str
        SHA-256 of the images file followed by the labels file (hex), for provenance.
    """

    images: NDArray[np.uint8]
    labels: NDArray[np.int64]
    mapping: tuple[str, ...]
    sha256: str


def resolve_data_dir(data: str | os.PathLike[str] | None) -> Path:
    """Return the EMNIST folder from ``data`` or the ``HANDOCR_DATA`` environment variable.

    Raises
    ------
    DataError
        Neither is given, or the folder does not exist.
    """
    if data is None:
        env = os.environ.get(DATA_ENV)
        if not env:
            raise DataError(f"no EMNIST folder given: pass --data DIR or set {DATA_ENV}")
        data = env
    path = Path(data)
    if not path.is_dir():
        raise DataError(f"EMNIST folder not found: {path}")
    return path


def _open(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except (OSError, EOFError) as err:
        raise DataError(f"{path}: cannot read ({err})") from err


def read_idx(path: Path, *, magic: int) -> NDArray[np.uint8]:
    """Read one IDX file of unsigned bytes (gzipped when the name ends in ``.gz``).

    Parameters
    ----------
    path : Path
        The file.
    magic : int
        Expected magic number: 2051 for images (3 dims), 2049 for labels (1 dim).

    Returns
    -------
    ndarray of uint8
        Shape given by the header, e.g. ``(N, 28, 28)`` or ``(N,)``; stored order, not transposed.

    Raises
    ------
    DataError
        Unreadable file, wrong magic number, or a data size that disagrees with the header.
    """
    raw = _open(path)
    if len(raw) < 4:
        raise DataError(f"{path}: too short for an IDX header ({len(raw)} bytes)")
    got = int.from_bytes(raw[:4], "big")
    if got != magic:
        raise DataError(f"{path}: wrong IDX magic number {got} (expected {magic})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(dims))
    if len(raw) - header != expected:
        raise DataError(
            f"{path}: header says {dims} = {expected} bytes but the file holds {len(raw) - header}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def read_mapping(path: Path) -> tuple[str, ...]:
    """Read ``emnist-<split>-mapping.txt``: lines of ``label ascii_code [ascii_code ...]``.

    The ``letters`` split writes ``label upper lower`` (a class that merges both cases, labels
    1..26); the first code names the class. Labels need not start at 0: missing ones map to
    ``""`` (no class).

    Returns
    -------
    tuple of str
        Character of each class index ``0..max label``.

    Raises
    ------
    DataError
        Missing file, a malformed line, or a label given twice.
    """
    try:
        lines = [ln.split() for ln in path.read_text(encoding="ascii").splitlines() if ln.strip()]
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: cannot read the label mapping ({err})") from err
    chars: dict[int, str] = {}
    for k, fields in enumerate(lines, start=1):
        try:
            if len(fields) < 2:
                raise ValueError("expected 'label ascii_code'")
            label, code = int(fields[0]), int(fields[1])
        except ValueError as err:
            raise DataError(f"{path}:{k}: malformed mapping line ({err})") from err
        if label in chars or label < 0:
            raise DataError(f"{path}:{k}: label {label} given twice or negative")
        chars[label] = chr(code)
    return tuple(chars.get(k, "") for k in range(max(chars, default=-1) + 1))


def _find(folder: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem):
        if (folder / name).is_file():
            return folder / name
    raise DataError(f"{folder / stem}[.gz] not found")


def load_emnist(data: str | os.PathLike[str] | None, split: str, part: str) -> EmnistSplit:
    """Load one part of an EMNIST split, transposed to upright.

    Parameters
    ----------
    data : path or None
        Folder with the IDX files; ``None`` reads ``HANDOCR_DATA``.
    split : str
        ``balanced``, ``bymerge``, ``byclass``, ``digits``, ``letters``, ``mnist`` or ``pool47``.
    part : {"train", "test"}

    Returns
    -------
    EmnistSplit
        ``images`` ``(N, 28, 28) uint8`` upright, white on black; ``labels`` ``(N,) int64``.

    Raises
    ------
    DataError
        Unknown split or part, a missing or malformed file (named in the message), or image and
        label counts that disagree.
    """
    if split not in KNOWN_SPLITS:
        raise DataError(f"unknown EMNIST split {split!r}; known: {', '.join(KNOWN_SPLITS)}")
    if part not in ("train", "test"):
        raise DataError(f"unknown part {part!r}; expected 'train' or 'test'")
    folder = resolve_data_dir(data)
    img_path = _find(folder, f"emnist-{split}-{part}-images-idx3-ubyte")
    lab_path = _find(folder, f"emnist-{split}-{part}-labels-idx1-ubyte")
    mapping = read_mapping(folder / f"emnist-{split}-mapping.txt")
    images = read_idx(img_path, magic=MAGIC_IMAGES)
    labels = read_idx(lab_path, magic=MAGIC_LABELS)
    if images.ndim != 3 or images.shape[1:] != INPUT_SHAPE[1:]:
        raise DataError(f"{img_path}: expected N x 28 x 28 images, got {images.shape}")
    if len(images) != len(labels):
        raise DataError(
            f"{img_path} holds {len(images)} images but {lab_path} holds {len(labels)} labels"
        )
    if labels.size and int(labels.max()) >= len(mapping):
        raise DataError(f"{lab_path}: label {int(labels.max())} has no entry in the mapping")
    digest = hashlib.sha256()
    for p in (img_path, lab_path):
        digest.update(p.read_bytes())
    log.info("read %d %s/%s images from %s", len(images), split, part, folder)
    upright = np.ascontiguousarray(images.transpose(0, 2, 1))  # EMNIST stores glyphs transposed
    return EmnistSplit(upright, labels.astype(np.int64), mapping, digest.hexdigest())


def to_label_space(split: EmnistSplit) -> NDArray[np.int64]:
    """Map a split's labels onto handocr's 47 classes (:data:`handocr.labels.LABELS`).

    Raises
    ------
    DataError
        The split has a character outside the 47 classes, e.g. ``byclass`` lower-case ``c``
        is folded to ``C``; anything else unknown is an error.
    """
    from handocr.labels import index_of

    try:
        table = np.array([index_of(ch) if ch else -1 for ch in split.mapping], dtype=np.int64)
    except KeyError as err:
        raise DataError(f"EMNIST mapping has a character outside the 47 classes: {err}") from err
    out = table[split.labels]
    if (out < 0).any():
        raise DataError("EMNIST labels without a class in the mapping")
    return out


def select_classes(data: ArraySet, classes: str | None) -> ArraySet:
    """Keep the images whose class is in ``classes`` (a charset: ``digits``, ``upper``, ...).

    Parameters
    ----------
    data : ArraySet
    classes : str or None
        As ``--charset`` (:meth:`handocr.labels.Charset.parse`); None keeps everything.

    Raises
    ------
    OptionError
        A bad charset.
    DataError
        No image of those classes.
    """
    if classes is None:
        return data
    from handocr.labels import Charset

    fold = np.array(Charset.parse(classes).fold)
    allowed = np.flatnonzero(fold == np.arange(len(fold)))
    images, labels = data
    keep = np.isin(labels, allowed)
    if not keep.any():
        raise DataError(f"no image of the classes {classes!r}")
    return images[keep], labels[keep]


ArraySet = tuple[NDArray[np.uint8], NDArray[np.int64]]
"""Images ``(N, 28, 28)`` uint8 upright and labels ``(N,)`` int64 in :data:`handocr.labels.LABELS`
order."""


def _stratified_split(
    labels: NDArray[np.int64], fraction: float, seed: int
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    try:
        tr, va = train_test_split(idx, test_size=fraction, random_state=seed, stratify=labels)
    except ValueError as err:  # too few images per class for a stratified split
        raise DataError(
            f"cannot split {len(labels)} images into train and validation by class ({err}); "
            "use more data or a larger validation fraction"
        ) from None
    return np.sort(tr), np.sort(va)


def split_train_val(
    train_set: ArraySet, cfg: TrainConfig
) -> tuple[NDArray[np.uint8], NDArray[np.int64], NDArray[np.intp], NDArray[np.intp]]:
    """Apply ``cfg.max_train`` and carve the stratified validation split, reproducibly.

    Returns
    -------
    (images, labels, train_idx, val_idx)
        The (possibly subsampled) arrays and sorted index arrays into them.

    Raises
    ------
    DataError
        Too few images for a split stratified by class.
    """
    images, labels = train_set
    if cfg.max_train and cfg.max_train < len(labels):
        keep, _ = _stratified_split(labels, 1 - cfg.max_train / len(labels), cfg.seed)
        images, labels = images[keep], labels[keep]
    tr_idx, va_idx = _stratified_split(labels, cfg.val_fraction, cfg.seed)
    return images, labels, tr_idx, va_idx


def to_uint8_images(x: NDArray[np.float32]) -> NDArray[np.uint8]:
    """Model input crops back to training images, the inverse of ``images / 255``.

    Parameters
    ----------
    x : ndarray of float32, shape (N, 1, 28, 28)
        Crops from :mod:`handocr.crops`, values in [0, 1], ink 1.0.

    Returns
    -------
    ndarray of uint8, shape (N, 28, 28)
        Ink 255, rounded to the nearest level.
    """
    out: NDArray[np.uint8] = np.rint(np.clip(x[:, 0], 0, 1) * 255).astype(np.uint8)
    return out
