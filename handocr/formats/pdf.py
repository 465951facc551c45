"""Searchable PDF output: each page image with an invisible text layer over its words.

Written with fpdf2 (no hand-made PDF): per page, the gray page image as a lossless PNG filling
a page of ``width * 72 / dpi`` by ``height * 72 / dpi`` points, and every word of the reading
as invisible text (PDF text render mode 3, as OCR text layers are) whose baseline is the
bottom of the word's box, whose size is the box's height and whose horizontal scaling makes it
exactly as wide as the box, followed by a space as wide as the gap to the next word, so that
selecting, searching or extracting the text finds it where the handwriting is.
"""

from __future__ import annotations

from collections.abc import Iterable
from io import BytesIO
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from handocr.formats._xml import creation_time
from handocr.version import __version__

if TYPE_CHECKING:
    from handocr.result import Page

__all__ = ["PdfBuilder", "encode_page_image", "to_pdf"]

_FONT = "helvetica"  # a PDF core font: no embedding, Latin-1 covers the 47 classes


def encode_page_image(image: NDArray[np.uint8]) -> bytes:
    """Return a gray page as PNG bytes (lossless; what :class:`PdfBuilder` embeds).

    Parameters
    ----------
    image : ndarray of uint8, shape (H, W)

    Raises
    ------
    ValueError
        ``image`` is not a non-empty 2-D uint8 array.
    """
    import cv2

    if image.ndim != 2 or image.dtype != np.uint8 or image.size == 0:
        raise ValueError(f"need a gray uint8 page, not {image.dtype} of shape {image.shape}")
    ok, png = cv2.imencode(".png", image)
    if not ok:  # pragma: no cover - OpenCV fails only without memory
        raise ValueError("cannot encode the page image")
    return png.tobytes()


class PdfBuilder:
    """Collects pages and writes one searchable PDF.

    Parameters
    ----------
    dpi : int, default 300
        Resolution of the page images, dots per inch (> 0): sets the page size in points.
    title : str, optional
        Document title recorded in the PDF's metadata.

    Raises
    ------
    ValueError
        ``dpi`` not positive.
    """

    def __init__(self, *, dpi: int = 300, title: str | None = None) -> None:
        from fpdf import FPDF

        if dpi <= 0:
            raise ValueError(f"dpi must be > 0, not {dpi}")
        self.dpi = dpi
        self.pages = 0
        self._pdf = FPDF(unit="pt")
        self._pdf.set_auto_page_break(False)
        self._pdf.set_creator(f"handocr {__version__}")
        self._pdf.set_creation_date(creation_time())
        if title:
            self._pdf.set_title(title)

    def add(self, page: Page, image: NDArray[np.uint8] | bytes) -> None:
        """Add one page: its image (array or :func:`encode_page_image` bytes) and its words.

        Parameters
        ----------
        page : Page
            The reading; boxes in the image's pixels.
        image : ndarray of uint8, shape (page.height, page.width), or bytes
            The page image as read, or its PNG.
        """
        from fpdf.enums import TextMode

        png = image if isinstance(image, bytes) else encode_page_image(image)
        k = 72.0 / self.dpi  # points per pixel
        pdf = self._pdf
        w_pt, h_pt = page.width * k, page.height * k
        pdf.add_page(format=(w_pt, h_pt))
        pdf.image(BytesIO(png), x=0, y=0, w=w_pt, h=h_pt)
        with pdf.local_context(text_mode=TextMode.INVISIBLE):
            for line in page.lines:
                words = line.words
                for n, word in enumerate(words):
                    box = word.box
                    size = max(box.height * k, 1.0)
                    self._text(word.text, box.x0 * k, box.y1 * k, box.width * k, size)
                    if n + 1 < len(words):  # a space over the gap: extraction finds the words
                        gap = max(words[n + 1].box.x0 - box.x1, 1)
                        self._text(" ", box.x1 * k, box.y1 * k, gap * k, size)
        pdf.set_stretching(100.0)
        self.pages += 1

    def _text(self, text: str, x: float, baseline: float, width: float, size: float) -> None:
        """Write ``text`` from ``x`` on ``baseline`` (points), scaled to ``width`` points."""
        pdf = self._pdf
        text = text.encode("latin-1", "replace").decode("latin-1")
        pdf.set_font(_FONT, size=size)
        pdf.set_stretching(100.0)  # get_string_width includes the current stretching
        natural = pdf.get_string_width(text)
        if natural > 0:
            pdf.set_stretching(100.0 * width / natural)
        pdf.text(x, baseline, text)

    def to_bytes(self) -> bytes:
        """Return the PDF (an empty document gets one blank page, as a PDF needs one)."""
        if self.pages == 0:
            self._pdf.add_page(format=(72.0, 72.0))
        return bytes(self._pdf.output())


def to_pdf(pages: Iterable[tuple[Page, NDArray[np.uint8] | bytes]], *, dpi: int = 300) -> bytes:
    """Return one searchable PDF of ``(page, image)`` pairs, in order (:class:`PdfBuilder`).

    Raises
    ------
    ValueError
        ``dpi`` not positive or an image that is not a gray uint8 page.
    """
    builder = PdfBuilder(dpi=dpi)
    for page, image in pages:
        builder.add(page, image)
    return builder.to_bytes()
