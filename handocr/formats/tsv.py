"""Tesseract-style TSV output in Tesseract's 12 columns, for tools made for its ``tsv``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from handocr.result import Box, page_blocks

if TYPE_CHECKING:
    from handocr.result import Document

__all__ = ["TSV_COLUMNS", "to_tsv"]

TSV_COLUMNS = (
    "level",
    "page_num",
    "block_num",
    "par_num",
    "line_num",
    "word_num",
    "left",
    "top",
    "width",
    "height",
    "conf",
    "text",
)


def to_tsv(doc: Document) -> str:
    """Render ``doc`` as Tesseract-style TSV: a header, then page, line and word rows.

    Levels: 1 page, 4 line, 5 word. ``block_num`` is the line's reading block (1-based,
    :func:`handocr.result.page_blocks`; one paragraph per block, ``par_num`` 1) and
    ``line_num`` counts within it, as in Tesseract; blocks have no rows of their own.
    ``conf`` is the mean character confidence in percent (-1 for page and line rows, as in
    Tesseract); positions are page pixels.

    Returns
    -------
    str
        Tab-separated rows ending in a newline.
    """
    rows = ["\t".join(TSV_COLUMNS)]

    def row(level: int, at: tuple[int, int, int, int], box: Box, conf: float, text: str) -> str:
        page, block, line, word = at
        cells = (level, page, block, 1, line, word, box.x0, box.y0, box.width, box.height)
        return "\t".join(map(str, cells)) + f"\t{conf:.2f}\t{text}"

    for p in doc.pages:
        n = p.index + 1
        rows.append(row(1, (n, 1, 0, 0), Box(0, 0, p.width, p.height), -1, ""))
        for bi, block in enumerate(page_blocks(p), start=1):
            for li, line in enumerate(block.lines_of(p), start=1):
                rows.append(row(4, (n, bi, li, 0), line.box, -1, ""))
                for wi, word in enumerate(line.words, start=1):
                    conf = 100 * word.confidence
                    rows.append(row(5, (n, bi, li, wi), word.box, conf, word.text))
    return "\n".join(rows) + "\n"
