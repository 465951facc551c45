"""Reading pages: image files, multi-page TIFF, PDF, bytes, PIL images and arrays -> gray pages.

Decoding is left to Pillow (images, TIFF) and pypdfium2 (PDF); this module only checks and
converts. Colour becomes gray (ITU-R 601-2 luma, Pillow's ``"L"`` mode), EXIF rotation is applied,
and 0 is black. :func:`expand_inputs` turns command-line arguments (files, directories, ``-``)
into an ordered list of inputs; page selections (``--pages 1-3,7``) are parsed by
:func:`handocr.options.parse_pages`.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Union

import numpy as np
from numpy.typing import NDArray

from handocr.errors import ImageTooLargeError, InputImageError, UnreadableImageError

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "IMAGE_SUFFIXES",
    "MAX_PIXELS",
    "LoadedPage",
    "PageSource",
    "as_sources",
    "atomic_path",
    "expand_inputs",
    "file_mode",
    "max_pixels",
    "iter_pages",
    "load_pages",
    "source_label",
    "write_bytes_atomic",
    "write_text_atomic",
]

log = logging.getLogger(__name__)

PageSource = Union[str, os.PathLike[str], NDArray[np.uint8], bytes, "Image.Image"]
"""A path to an image or PDF, the bytes of one, a PIL image, or an ``(H, W)`` / ``(H, W, 3)``
uint8 array."""

MAX_PIXELS = 100_000_000
"""Default largest page accepted, in pixels (10,000 x 10,000; A4 at 600 dpi is 35 million); a
larger image is refused from its header, before any pixel is decoded. The environment variable
``HANDOCR_MAX_PIXELS`` overrides it."""
MAX_PIXELS_ENV = "HANDOCR_MAX_PIXELS"


def max_pixels() -> int:
    """Return the pixel limit in force.

    ``$HANDOCR_MAX_PIXELS`` when it is set to a positive integer, else :data:`MAX_PIXELS`.
    """
    raw = os.environ.get(MAX_PIXELS_ENV, "")
    try:
        value = int(raw)
    except ValueError:
        return MAX_PIXELS
    return value if value > 0 else MAX_PIXELS


PDF_DPI = 300
PDF_SUFFIXES = {".pdf"}
IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp", ".pbm", ".pgm", ".ppm"}
)
"""File name endings that :func:`expand_inputs` picks up in a directory (with ``.pdf``)."""
STDIN = "-"


@dataclass(frozen=True, slots=True)
class LoadedPage:
    """A page ready for recognition.

    Attributes
    ----------
    image : ndarray of uint8, shape (H, W)
        Gray, 0 = black.
    source : str or None
        ``"name"`` or ``"name#k"`` (1-based page ``k`` of a multi-page file); None for arrays.
    number : int
        The page's own 1-based number within its input (``k``; 1 for a single image), kept
        under a page selection: ``--pages 2,5`` gives pages 2 and 5.
    """

    image: NDArray[np.uint8]
    source: str | None
    number: int = 1


def _check_array(arr: np.ndarray, where: str) -> NDArray[np.uint8]:
    if not isinstance(arr, np.ndarray):
        raise InputImageError(f"{where}: expected a numpy array, got {type(arr).__name__}")
    if arr.dtype != np.uint8:
        raise InputImageError(f"{where}: expected dtype uint8, got {arr.dtype}")
    if arr.ndim == 3 and arr.shape[2] == 3:
        import cv2

        return np.asarray(cv2.cvtColor(arr, cv2.COLOR_BGR2GRAY))
    if arr.ndim == 3:
        raise InputImageError(
            f"{where}: {arr.shape[2]} channels; expected (H, W) gray or (H, W, 3) BGR"
        )
    if arr.ndim != 2:
        raise InputImageError(f"{where}: expected an (H, W) or (H, W, 3) array, got {arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise InputImageError(f"{where}: empty image {arr.shape}")
    return np.ascontiguousarray(arr)


def _pil_to_gray(img: Image.Image, where: str) -> NDArray[np.uint8]:
    from PIL import ImageOps

    img = ImageOps.exif_transpose(img) or img
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        hi = arr.max() or 1.0
        return (arr * (255.0 / hi)).round().astype(np.uint8)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        from PIL import Image as PILImage

        rgba = img.convert("RGBA")
        white = PILImage.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = PILImage.alpha_composite(white, rgba)
    gray = np.asarray(img.convert("L"), dtype=np.uint8)
    return _check_array(gray, where)


def _iter_pil(img: Image.Image, name: str, pages: frozenset[int] | None) -> Iterator[LoadedPage]:
    from PIL import ImageSequence

    n = getattr(img, "n_frames", 1)
    for k, frame in enumerate(ImageSequence.Iterator(img), start=1):
        if pages is not None and k not in pages:
            continue
        source = f"{name}#{k}" if n > 1 else name
        w, h = frame.size
        limit = max_pixels()
        if w * h > limit:
            raise ImageTooLargeError(f"{source}: {w}x{h} pixels is over the limit of {limit:,}")
        yield LoadedPage(_pil_to_gray(frame, source), source, k)


def _iter_image_file(
    path: Path | io.BytesIO, name: str, pages: frozenset[int] | None = None
) -> Iterator[LoadedPage]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:  # lazy: reads the header only
            yield from _iter_pil(img, name, pages)
    except FileNotFoundError:
        raise InputImageError(f"{path}: no such file") from None
    except Image.DecompressionBombError as err:
        raise ImageTooLargeError(f"{path}: too large ({err})") from err
    except PermissionError:
        raise InputImageError(f"{name}: permission denied") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        if isinstance(err, InputImageError):
            raise
        raise UnreadableImageError(f"{name}: not a readable image ({err})") from err


def _iter_pdf(
    path: Path | bytes, name: str, dpi: int, pages: frozenset[int] | None = None
) -> Iterator[LoadedPage]:
    import pypdfium2 as pdfium

    if isinstance(path, Path) and not path.is_file():
        raise InputImageError(f"{path}: no such file")
    try:
        pdf = pdfium.PdfDocument(path if isinstance(path, bytes) else str(path))
    except pdfium.PdfiumError as err:
        raise UnreadableImageError(f"{name}: not a readable PDF ({err})") from err
    try:
        n = len(pdf)
        if n == 0:
            raise InputImageError(f"{name}: the PDF has no pages")
        wanted = range(n) if pages is None else [k - 1 for k in sorted(pages) if k <= n]
        if pages is not None and max(pages) > n:
            log.warning("%s: has %d pages; pages over %d are skipped", name, n, n)
        limit = max_pixels()
        for k in wanted:
            page = pdf[k]
            try:
                # the pixel limit is checked on the page's size at this dpi, before rendering
                w_pt, h_pt = page.get_size()
                w, h = math.ceil(w_pt * dpi / 72), math.ceil(h_pt * dpi / 72)
                if w * h > limit:
                    raise ImageTooLargeError(
                        f"{name}#{k + 1}: {w}x{h} pixels at {dpi} dpi is over the limit of "
                        f"{limit:,} (a lower --dpi renders it smaller)"
                    )
                bitmap = page.render(scale=dpi / 72, grayscale=True)
                arr = np.array(bitmap.to_numpy(), copy=True)
            finally:
                page.close()
            if arr.ndim == 3:
                arr = arr[..., 0]
            yield LoadedPage(_check_array(arr.astype(np.uint8), name), f"{name}#{k + 1}", k + 1)
    finally:
        pdf.close()


def iter_pages(
    source: PageSource | Sequence[PageSource],
    *,
    pdf_dpi: int = PDF_DPI,
    pages: frozenset[int] | None = None,
    first: int = 0,
) -> Iterator[LoadedPage]:
    """Yield the pages of one or more sources in order, one at a time.

    Only one page image is held at a time, so a 100-page PDF is read in the memory of one page.

    Parameters
    ----------
    source : path, bytes, PIL image, ndarray, or a sequence of them
        Arrays are ``(H, W)`` gray or ``(H, W, 3)`` BGR, dtype uint8, 0 = black. Bytes are the
        content of an image or PDF file (``"%PDF"`` at the start selects PDF); the path ``"-"``
        reads such bytes from standard input. A multi-page TIFF or a PDF yields several pages.
    pdf_dpi : int
        Rendering resolution for PDF pages, dots per inch (> 0).
    pages : frozenset of int, optional
        1-based page numbers to keep within each multi-page input
        (:func:`handocr.options.parse_pages`); default all. Single-page images count as page 1.
    first : int
        Position of the first source among the caller's inputs, used in names
        (``"array 2"``, :func:`source_label`).

    Yields
    ------
    LoadedPage

    Raises
    ------
    InputImageError
        A path is missing or unreadable, or an array has the wrong shape or dtype.
    """
    from PIL import Image

    if pdf_dpi <= 0:
        raise ValueError(f"pdf_dpi must be > 0, got {pdf_dpi}")
    for i, item in enumerate(as_sources(source), start=first):
        if isinstance(item, np.ndarray):
            yield LoadedPage(_check_array(item, source_label(item, i)), None)
        elif isinstance(item, Image.Image):
            yield from _iter_pil(item, source_label(item, i), pages)
        elif isinstance(item, bytes) or (isinstance(item, str) and item == STDIN):
            data = item if isinstance(item, bytes) else sys.stdin.buffer.read()
            name = "stdin" if isinstance(item, str) else source_label(item, i)
            if not data:
                raise InputImageError(f"{name}: empty input")
            if data.startswith(b"%PDF"):
                yield from _iter_pdf(data, name, pdf_dpi, pages)
            else:
                yield from _iter_image_file(io.BytesIO(data), name, pages)
        elif isinstance(item, (str, os.PathLike)):
            path = Path(item)
            if path.is_dir():
                raise InputImageError(f"{path}: is a directory, not an image")
            if path.suffix.lower() in PDF_SUFFIXES:
                yield from _iter_pdf(path, path.name, pdf_dpi, pages)
            else:
                yield from _iter_image_file(path, path.name, pages)
        else:
            raise InputImageError(f"input {i}: unsupported type {type(item).__name__}")


def expand_inputs(args: Sequence[str | os.PathLike[str]], *, recursive: bool = False) -> list[str]:
    """Turn command-line arguments into the ordered list of inputs to read.

    Files are kept in the order given, ``"-"`` (standard input) too; a directory is replaced by
    the images and PDFs it holds (:data:`IMAGE_SUFFIXES`, ``.pdf``; hidden files skipped) in
    name order, including sub-directories when ``recursive``.

    Returns
    -------
    list of str
        Paths (and ``"-"``). Missing files are kept: reading them reports the error.

    Raises
    ------
    InputImageError
        A directory holds no image or PDF (one error per such directory, raised at once).
    """
    out: list[str] = []
    for arg in args:
        path = Path(arg)
        if str(arg) == STDIN or not path.is_dir():
            out.append(str(arg))
            continue
        walk = path.rglob("*") if recursive else path.glob("*")
        found = sorted(
            p
            for p in walk
            if p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
            and p.suffix.lower() in IMAGE_SUFFIXES | PDF_SUFFIXES
        )
        if not found:
            hint = "" if recursive else " (use --recursive for sub-directories)"
            raise InputImageError(f"{path}: no images or PDFs in this directory{hint}")
        out.extend(str(p) for p in found)
    return out


def load_pages(
    source: PageSource | Sequence[PageSource],
    *,
    pdf_dpi: int = PDF_DPI,
    pages: frozenset[int] | None = None,
) -> list[NDArray[np.uint8]]:
    """Read every page of ``source`` into memory (see :func:`iter_pages` for the details).

    Returns
    -------
    list of ndarray of uint8, each (H, W)
        Gray pages, 0 = black.

    Raises
    ------
    InputImageError
        As :func:`iter_pages`.

    Examples
    --------
    >>> [p.shape for p in load_pages(np.zeros((4, 6, 3), np.uint8))]
    [(4, 6)]
    """
    return [p.image for p in iter_pages(source, pdf_dpi=pdf_dpi, pages=pages)]


def as_sources(source: PageSource | Sequence[PageSource]) -> list[PageSource]:
    """Return ``source`` as a list of inputs: one path, bytes, image or array, or a sequence.

    Examples
    --------
    >>> len(as_sources(np.zeros((2, 2), np.uint8))), len(as_sources(["a.png", "b.png"]))
    (1, 2)
    """
    from PIL import Image

    if isinstance(source, (str, os.PathLike, np.ndarray, bytes, Image.Image)):
        return [source]
    return list(source)


def source_label(source: PageSource, index: int) -> str:
    """Name an input in results and messages: its path, ``"-"``, ``"bytes 2"``, ``"array 2"``.

    Examples
    --------
    >>> source_label("scans/a.png", 0), source_label(np.zeros((2, 2), np.uint8), 3)
    ('scans/a.png', 'array 3')
    """
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    if isinstance(source, bytes):
        return f"bytes {index}"
    if isinstance(source, np.ndarray):
        return f"array {index}"
    return f"image {index}"


def _umask() -> int:
    """Return the process's file creation mask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """Return the mode of every file handocr writes: ``0o666`` less the umask.

    It is what :func:`open` gives a new file (``0o644`` under the usual umask ``022``), for
    results, weights, manifests and reports alike; :func:`atomic_path` applies it.
    """
    return 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; when the block ends, move it into place.

    The block writes the whole file to the yielded path (any writer: bytes, safetensors,
    ``torch.save``). The file then gets :func:`file_mode` (``tempfile.mkstemp`` creates it
    ``0o600``, and writers that create their own files may too) and is renamed over ``target``,
    so a reader never sees a half-written file. If the block raises, the temporary file is
    removed and ``target`` is left as it was.

    Raises
    ------
    OutputError
        The folder cannot be created, or the file cannot be written or moved (exit code 7).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d, atomic_path(Path(d) / "a.txt") as tmp:
    ...     _ = tmp.write_text("done")
    """
    import tempfile

    from handocr.errors import OutputError

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        os.close(fd)
    except OSError as err:
        raise OutputError(f"{target}: cannot write ({err.strerror or err})") from err
    tmp = Path(name)
    try:
        yield tmp
        tmp.chmod(file_mode())
        tmp.replace(target)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError) and not isinstance(err, OutputError):
            raise OutputError(f"{target}: cannot write ({err.strerror or err})") from err
        raise
    log.info("wrote %s", target)


def write_text_atomic(target: Path, text: str) -> None:
    """Write ``text`` (UTF-8) atomically, as :func:`write_bytes_atomic` does.

    Raises
    ------
    OutputError
        The folder cannot be created or the file cannot be written (exit code 7).
    """
    write_bytes_atomic(target, text.encode("utf-8"))


def write_bytes_atomic(target: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``target``, then rename it into place.

    A reader never sees a half-written result, and an interrupted write leaves no partial
    file behind. The file gets :func:`file_mode`, as every file handocr writes
    (:func:`atomic_path`).

    Raises
    ------
    OutputError
        The folder cannot be created or the file cannot be written (exit code 7).
    """
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
