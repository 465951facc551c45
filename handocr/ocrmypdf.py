"""OCRmyPDF plugin: handocr as OCRmyPDF's OCR engine (OCRmyPDF >= 17).

    pip install "handocr[ocrmypdf]"
    ocrmypdf --plugin handocr.ocrmypdf scan.pdf searchable.pdf

OCRmyPDF rasterises each page, calls this engine's :meth:`HandocrEngine.generate_ocr` (its
``OcrEngine`` API returning an ``OcrElement`` tree: page > paragraph > line > word > character,
boxes in the page image's pixels, confidences in [0, 1]), renders the invisible text layer
itself and writes a PDF/A. :meth:`HandocrEngine.generate_hocr` gives the same reading as hOCR for
OCRmyPDF's older hOCR path.

Tesseract is not needed: when the ``tesseract`` program is not installed, the plugin blocks
OCRmyPDF's built-in Tesseract plugin (whose option check would otherwise stop the run) and
registers that plugin's option model and arguments in its place (OCRmyPDF's validation reads
them whichever engine runs). When
Tesseract is installed both engines are available: ``--ocr-engine auto`` (the default) picks
handocr while this plugin is loaded, ``--ocr-engine tesseract`` picks Tesseract.

Each OCRmyPDF worker loads the shipped ensemble once (a process-wide
:class:`handocr.Recognizer`); pages are read with the default options at the resolution
OCRmyPDF rasterised them.
"""

from __future__ import annotations

import shutil
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ocrmypdf import hookimpl
from ocrmypdf.hocrtransform import Baseline, BoundingBox, OcrClass, OcrElement
from ocrmypdf.pluginspec import OcrEngine, OrientationConfidence

from handocr.version import __version__

if TYPE_CHECKING:
    import pluggy

    from handocr.api import Recognizer
    from handocr.result import Box, Line, Page

__all__ = [
    "HandocrEngine",
    "add_options",
    "get_ocr_engine",
    "initialize",
    "register_options",
    "to_ocr_element",
]

TESSERACT_PLUGIN = "ocrmypdf.builtin_plugins.tesseract_ocr"
"""The name OCRmyPDF registers its built-in Tesseract plugin under."""


@lru_cache(maxsize=1)
def _recognizer() -> Recognizer:
    from handocr.api import Recognizer

    return Recognizer()


def _bbox(box: Box) -> BoundingBox:
    return BoundingBox(left=box.x0, top=box.y0, right=box.x1, bottom=box.y1)


def _baseline(line: Line) -> Baseline | None:
    """Return the line's baseline as hOCR gives it, or None where unknown.

    ``y = slope * (x - x0) + y1 + intercept`` over the line's box (image pixels, y down), as
    :mod:`handocr.formats.hocr` writes it; without one OCRmyPDF places the text by its font's
    metrics.
    """
    if line.baseline is None:
        return None
    (xa, ya), (xb, yb) = line.baseline
    slope = (yb - ya) / (xb - xa) if xb != xa else 0.0
    return Baseline(slope=slope, intercept=ya + slope * (line.box.x0 - xa) - line.box.y1)


def _line_element(line: Line) -> OcrElement:
    """Return a line's ``ocr_line`` with its words and their characters."""
    el = OcrElement(
        ocr_class=OcrClass.LINE, bbox=_bbox(line.box), direction="ltr", baseline=_baseline(line)
    )
    for word in line.words:
        chars = [
            OcrElement(
                ocr_class=OcrClass.CHAR,
                bbox=_bbox(c.box),
                text=c.text,
                confidence=c.confidence,
            )
            for c in word.chars
        ]
        el.children.append(
            OcrElement(
                ocr_class=OcrClass.WORD,
                bbox=_bbox(word.box),
                text=word.text,
                confidence=word.confidence,
                children=chars,
            )
        )
    return el


def to_ocr_element(page: Page, *, dpi: float | None = None, page_number: int = 0) -> OcrElement:
    """Return a reading as OCRmyPDF's ``OcrElement`` tree.

    Parameters
    ----------
    page : Page
        One page read by handocr; boxes in the page image's pixels.
    dpi : float, optional
        Resolution of the page image, dots per inch.
    page_number : int
        Zero-based page number OCRmyPDF passed in.

    Returns
    -------
    OcrElement
        ``ocr_page`` > ``ocr_par`` (one per reading block, :func:`handocr.result.page_blocks`;
        none when the page has no text) > ``ocr_line`` (with its baseline where known) >
        ``ocrx_word`` (text, confidence in [0, 1]) > ``ocrx_cinfo`` (one per character).
    """
    from handocr.result import page_blocks

    root = OcrElement(
        ocr_class=OcrClass.PAGE,
        bbox=BoundingBox(left=0, top=0, right=page.width, bottom=page.height),
        dpi=dpi,
        page_number=page_number,
    )
    for block in page_blocks(page):
        par = OcrElement(
            ocr_class=OcrClass.PARAGRAPH,
            bbox=_bbox(block.box),
            direction="ltr",
            language="eng",
            children=[_line_element(line) for line in block.lines_of(page)],
        )
        root.children.append(par)
    return root


def _read(input_file: Path) -> tuple[Page, float | None]:
    """Read one page image that OCRmyPDF rasterised: the page and its resolution."""
    import numpy as np
    from PIL import Image

    with Image.open(input_file) as im:
        dpi = im.info.get("dpi")
        gray = np.asarray(im.convert("L"))
    rec = _recognizer()
    (record,) = rec.read_images([gray], sources=[input_file.name])
    page = record.unwrap()
    return page, float(dpi[0]) if dpi else None


class HandocrEngine(OcrEngine):
    """handocr behind OCRmyPDF's ``OcrEngine`` interface."""

    @staticmethod
    def version() -> str:
        """Return handocr's version."""
        return __version__

    @staticmethod
    def creator_tag(options: Any) -> str:
        """Return the creator tag OCRmyPDF writes into the PDF's metadata."""
        return f"handocr {__version__}"

    def __str__(self) -> str:
        """Return the engine's name and version."""
        return f"handocr {__version__}"

    @staticmethod
    def languages(options: Any) -> set[str]:
        """Return no language list: handocr reads the 47 EMNIST classes whatever ``-l`` says."""
        return set()

    @staticmethod
    def get_orientation(input_file: Path, options: Any) -> OrientationConfidence:
        """Return no rotation (handocr does not detect page orientation)."""
        return OrientationConfidence(angle=0, confidence=0.0)

    @staticmethod
    def get_deskew(input_file: Path, options: Any) -> float:
        """Return 0: handocr levels skewed pages itself while reading."""
        return 0.0

    @staticmethod
    def supports_generate_ocr() -> bool:
        """Return True: OCRmyPDF calls :meth:`generate_ocr`."""
        return True

    @staticmethod
    def generate_ocr(
        input_file: Path, options: Any, page_number: int = 0
    ) -> tuple[OcrElement, str]:
        """Read one page image: the ``OcrElement`` tree and the page's text."""
        page, dpi = _read(Path(input_file))
        return to_ocr_element(page, dpi=dpi, page_number=page_number), page.text

    @staticmethod
    def generate_hocr(input_file: Path, output_hocr: Path, output_text: Path, options: Any) -> None:
        """Read one page image into an hOCR file and a text file."""
        from handocr.formats.hocr import to_hocr
        from handocr.io import write_text_atomic
        from handocr.result import Document

        page, dpi = _read(Path(input_file))
        doc = Document((page,), _recognizer().loaded_models)
        write_text_atomic(Path(output_hocr), to_hocr(doc, dpi=int(dpi) if dpi else None))
        write_text_atomic(Path(output_text), page.text)

    @staticmethod
    def generate_pdf(input_file: Path, output_pdf: Path, output_text: Path, options: Any) -> None:
        """Not offered: OCRmyPDF renders the text layer from :meth:`generate_ocr`.

        Raises
        ------
        NotImplementedError
            Always (use OCRmyPDF's default ``--pdf-renderer``, not ``sandwich``).
        """
        raise NotImplementedError("handocr gives OCR results; use OCRmyPDF's fpdf2 renderer")


_blocked: list[bool] = []  # set by initialize: whether this process blocked Tesseract's plugin


@hookimpl
def initialize(plugin_manager: pluggy.PluginManager) -> None:
    """Block OCRmyPDF's Tesseract plugin when the ``tesseract`` program is not installed."""
    _blocked[:] = [shutil.which("tesseract") is None]
    if _blocked[0]:
        plugin_manager.set_blocked(TESSERACT_PLUGIN)


@hookimpl
def register_options() -> dict[str, Any] | None:
    """Register the Tesseract options' model in place of the blocked plugin.

    OCRmyPDF 17's option validation reads ``options.tesseract`` whichever engine runs, so
    the model its Tesseract plugin would register must exist.
    """
    if not (_blocked and _blocked[0]):
        return None
    from ocrmypdf.builtin_plugins.tesseract_ocr import TesseractOptions

    return {"tesseract": TesseractOptions}


@hookimpl
def add_options(parser: Any) -> None:
    """Add the Tesseract plugin's command-line options in place of the blocked plugin."""
    if _blocked and _blocked[0]:
        from ocrmypdf.builtin_plugins.tesseract_ocr import TesseractOptions

        TesseractOptions.add_arguments_to_parser(parser)


@hookimpl
def get_ocr_engine(options: Any) -> HandocrEngine | None:
    """Return handocr's engine unless another engine was asked for (``--ocr-engine``)."""
    choice = getattr(options, "ocr_engine", "auto") if options is not None else "auto"
    return HandocrEngine() if choice in ("auto", "handocr") else None
