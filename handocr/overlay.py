"""Draw a page's recognition result over its image, for checking by eye."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from handocr.result import Page, page_blocks

__all__ = ["confidence_colour", "draw_overlay", "overlay_path", "write_overlay"]

log = logging.getLogger(__name__)


def confidence_colour(confidence: float) -> tuple[int, int, int]:
    """Return a BGR colour from red (confidence 0) through yellow to green (confidence 1)."""
    c = min(max(confidence, 0.0), 1.0)
    return (0, int(255 * min(1.0, 2 * c)), int(255 * min(1.0, 2 * (1 - c))))


def draw_overlay(image: NDArray[np.uint8], page: Page) -> NDArray[np.uint8]:
    """Draw block (purple), line (blue, with its baseline), word (grey) and character boxes.

    Character boxes and the read characters are coloured by confidence
    (:func:`confidence_colour`); a block's box is drawn a little outside its lines'.

    Parameters
    ----------
    image : ndarray of uint8, shape (H, W)
        The gray page that ``page`` was read from.
    page : Page

    Returns
    -------
    ndarray of uint8, shape (H, W, 3)
        BGR picture (as OpenCV writes it).
    """
    import cv2

    out = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    out = (out.astype(np.float32) * 0.6 + 102).astype(np.uint8)  # fade the page
    thick = max(1, round(max(image.shape) / 1500))
    pad = 4 * thick
    for block in page_blocks(page):
        b = block.box
        x0, y0 = max(0, b.x0 - pad), max(0, b.y0 - pad)
        x1, y1 = min(page.width, b.x1 + pad), min(page.height, b.y1 + pad)
        cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), (160, 0, 160), thick)
    for line in page.lines:
        b = line.box
        cv2.rectangle(out, (b.x0, b.y0), (b.x1 - 1, b.y1 - 1), (255, 120, 0), thick)
        if line.baseline is not None:
            (xa, ya), (xb, yb) = line.baseline
            cv2.line(out, (xa, ya), (xb, yb), (255, 120, 0), thick)
        for word in line.words:
            b = word.box
            cv2.rectangle(out, (b.x0, b.y0), (b.x1 - 1, b.y1 - 1), (150, 150, 150), thick)
            for ch in word.chars:
                b = ch.box
                colour = confidence_colour(ch.confidence)
                cv2.rectangle(out, (b.x0, b.y0), (b.x1 - 1, b.y1 - 1), colour, thick)
                scale = max(0.4, b.height / 45)
                cv2.putText(
                    out,
                    ch.text,
                    (b.x0, max(12, b.y0 - 3)),
                    cv2.FONT_HERSHEY_SIMPLEX,
                    scale,
                    colour,
                    thick,
                    cv2.LINE_AA,
                )
    return np.asarray(out, np.uint8)


def overlay_path(folder: Path, page: Page) -> Path:
    """Return where :func:`write_overlay` puts a page: ``<stem>[-p<k>].png`` in ``folder``.

    Examples
    --------
    >>> overlay_path(Path("out"), Page(2, 10, 10, (), "scan.pdf#3")).as_posix()
    'out/scan-p3.png'
    """
    base, _, number = (page.source or f"page{page.index + 1}").partition("#")
    return folder / (Path(base).stem + (f"-p{number}" if number else "") + ".png")


def write_overlay(folder: Path, image: NDArray[np.uint8], page: Page) -> Path:
    """Draw :func:`draw_overlay` and write it as a PNG into ``folder`` (created if needed).

    Returns
    -------
    Path
        The file written (:func:`overlay_path`).

    Raises
    ------
    OutputError
        The folder or the file cannot be written.
    """
    import cv2

    from handocr.errors import OutputError

    target = overlay_path(folder, page)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        ok = cv2.imwrite(str(target), draw_overlay(image, page))
    except (OSError, cv2.error) as err:
        raise OutputError(f"{target}: cannot write ({err})") from err
    if not ok:
        raise OutputError(f"{target}: cannot write")
    log.info("wrote %s", target)
    return target
