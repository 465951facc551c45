"""Reading pages: image files, multi-page TIFF, PDF and arrays -> ``(H, W) uint8`` gray pages.

Decoding is left to Pillow (images, TIFF) and pypdfium2 (PDF); this module only checks and
converts. Colour becomes gray (ITU-R 601-2 luma, Pillow's ``"L"`` mode), EXIF rotation is applied,
and 0 is black.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Union

import numpy as np
from numpy.typing import NDArray

from handocr.errors import InputImageError

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["MAX_PIXELS", "LoadedPage", "PageSource", "iter_pages", "load_pages"]

log = logging.getLogger(__name__)

PageSource = Union[str, os.PathLike[str], NDArray[np.uint8]]  # noqa: UP007 - runtime alias on 3.10
"""A path to an image or PDF, or an ``(H, W)`` / ``(H, W, 3)`` uint8 array."""

MAX_PIXELS = 100_000_000
"""Largest page accepted, in pixels (10,000 x 10,000; A4 at 600 dpi is 35 million); a larger
image is refused from its header, before any pixel is decoded."""

PDF_DPI = 300
PDF_SUFFIXES = {".pdf"}


@dataclass(frozen=True, slots=True)
class LoadedPage:
    """A page ready for recognition.

    Attributes
    ----------
    image : ndarray of uint8, shape (H, W)
        Gray, 0 = black.
    source : str or None
        ``"name"`` or ``"name#k"`` (1-based page ``k`` of a multi-page file); None for arrays.
    """

    image: NDArray[np.uint8]
    source: str | None


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


def _iter_image_file(path: Path) -> Iterator[LoadedPage]:
    from PIL import Image, ImageSequence, UnidentifiedImageError

    try:
        with Image.open(path) as img:  # lazy: reads the header only
            n = getattr(img, "n_frames", 1)
            for k, frame in enumerate(ImageSequence.Iterator(img), start=1):
                source = f"{path.name}#{k}" if n > 1 else path.name
                w, h = frame.size
                if w * h > MAX_PIXELS:
                    raise InputImageError(
                        f"{source}: {w}x{h} pixels is over the limit of {MAX_PIXELS:,}"
                    )
                yield LoadedPage(_pil_to_gray(frame, source), source)
    except FileNotFoundError:
        raise InputImageError(f"{path}: no such file") from None
    except Image.DecompressionBombError as err:
        raise InputImageError(f"{path}: too large ({err})") from err
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        if isinstance(err, InputImageError):
            raise
        raise InputImageError(f"{path}: not a readable image ({err})") from err


def _iter_pdf(path: Path, dpi: int) -> Iterator[LoadedPage]:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as err:
        raise InputImageError(f"{path}: not a readable PDF ({err})") from err
    try:
        n = len(pdf)
        if n == 0:
            raise InputImageError(f"{path}: the PDF has no pages")
        for k in range(n):
            page = pdf[k]
            try:
                bitmap = page.render(scale=dpi / 72, grayscale=True)
                arr = np.array(bitmap.to_numpy(), copy=True)
            finally:
                page.close()
            if arr.ndim == 3:
                arr = arr[..., 0]
            yield LoadedPage(_check_array(arr.astype(np.uint8), path.name), f"{path.name}#{k + 1}")
    finally:
        pdf.close()


def iter_pages(
    source: PageSource | Sequence[PageSource], *, pdf_dpi: int = PDF_DPI
) -> Iterator[LoadedPage]:
    """Yield the pages of one or more sources in order, one at a time.

    Parameters
    ----------
    source : path, ndarray, or sequence of them
        Arrays are ``(H, W)`` gray or ``(H, W, 3)`` BGR, dtype uint8, 0 = black. A multi-page
        TIFF or a PDF yields several pages.
    pdf_dpi : int
        Rendering resolution for PDF pages, dots per inch.

    Yields
    ------
    LoadedPage

    Raises
    ------
    InputImageError
        A path is missing or unreadable, or an array has the wrong shape or dtype.
    """
    single = isinstance(source, (str, os.PathLike, np.ndarray))
    items: Sequence[PageSource] = [source] if single else list(source)  # type: ignore[list-item, arg-type]
    for i, item in enumerate(items):
        if isinstance(item, np.ndarray):
            yield LoadedPage(_check_array(item, f"array {i}"), None)
            continue
        if not isinstance(item, (str, os.PathLike)):
            raise InputImageError(f"input {i}: unsupported type {type(item).__name__}")
        path = Path(item)
        if path.is_dir():
            raise InputImageError(f"{path}: is a directory, not an image")
        if path.suffix.lower() in PDF_SUFFIXES:
            yield from _iter_pdf(path, pdf_dpi)
        else:
            yield from _iter_image_file(path)


def load_pages(
    source: PageSource | Sequence[PageSource], *, pdf_dpi: int = PDF_DPI
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
    return [p.image for p in iter_pages(source, pdf_dpi=pdf_dpi)]
