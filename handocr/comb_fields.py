"""Read comb fields one character per cell, in place of their free reading (issue #23).

After a page is read as free handprint (:func:`handocr.pipeline.read_images`), each comb field
found on it (:func:`handocr.segment.comb.find_combs`) is read again with the cells as the
segmentation: one candidate per non-empty cell (:func:`handocr.segment.comb.cell_pieces`),
classified by the character ensemble in one batch for the page, each cell's vote mixed by soft
voting with the comb-cell network's reading of the whole cell, walls and rules included
(:mod:`handocr.comb_net`, when the weights folder holds it), and decoded with the page's
options (charset, context). The characters the free reading found inside the field's frame are
replaced by one handwritten word holding the cells' characters, in the line that held most of
them (a new line in reading order when none did).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from handocr.result import Box, Char, Line, Page, Word, group_blocks, page_blocks

if TYPE_CHECKING:
    from handocr.api import Recognizer
    from handocr.preprocess import LevelledPage
    from handocr.segment.comb import CombField
    from handocr.segment.components import Piece

__all__ = ["read_comb_fields", "place_word"]


def _field_pieces(lev: LevelledPage, combs: Sequence[CombField]) -> list[list[tuple[int, Piece]]]:
    """Each comb's non-empty cells: cell index and piece, box in the levelled page's pixels."""
    import cv2

    from handocr.segment.comb import cell_pieces
    from handocr.segment.components import Piece

    out = []
    for comb in combs:
        row = []
        for j, p in enumerate(cell_pieces(comb)):
            if p is None:
                continue
            box = comb.to_page(p.box)
            mask = np.asarray(p.mask, np.uint8)
            if mask.shape != (box.height, box.width):
                size = (box.width, box.height)
                mask = np.asarray(cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST), np.uint8)
            row.append((j, Piece(box, mask)))
        out.append(row)
    return out


def read_comb_fields(
    rec: Recognizer, page: Page, pieces: list[Piece], lev: LevelledPage
) -> tuple[Page, list[Piece]]:
    """Read a page's comb fields cell by cell and put them in place of their free reading.

    Parameters
    ----------
    rec : Recognizer
        Its character ensemble (:meth:`~handocr.api.Recognizer.classify`) and options
        (``charset``, decoding context).
    page : Page
        The page as read (boxes in the input page's pixels).
    pieces : list of Piece
        Its pieces; one per character when they match the characters one to one (then the
        replaced characters' pieces are replaced too), else the comb cells' are added.
    lev : LevelledPage
        The page as segmented: the combs are looked for in its ink map before ruled-line
        removal (:attr:`~handocr.preprocess.LevelledPage.raw`, else its gray page binarised
        again), and read from its gray levels.

    Returns
    -------
    (Page, list of Piece)
        ``page`` itself when it has no comb field.
    """
    from handocr.decode import decode_page
    from handocr.preprocess import HYSTERESIS, ink_map
    from handocr.segment.comb import OVERHANG, find_combs

    o = rec.options
    if lev.gray is None:
        return page, pieces
    raw = lev.raw
    if raw is None:
        level = HYSTERESIS if o.clean.hysteresis else None
        raw = ink_map(lev.gray, remove_lines=False, hysteresis=level, method=o.clean.binarize)
    combs = find_combs(raw, gray=lev.gray)
    if not combs:
        return page, pieces
    cells = _field_pieces(lev, combs)
    rows = [[p for _, p in row] for row in cells]
    flat = [p for row in rows for p in row]
    probs = rec.classify(flat) if flat else None
    net = rec.comb_net
    if probs is not None and net is not None and net.weight > 0:
        from handocr.comb_net import cell_window

        wins = np.stack([cell_window(c, j) for c, row in zip(combs, cells, strict=True)
                         for j, _ in row])  # fmt: skip
        probs[:, 0] = (1.0 - net.weight) * probs[:, 0] + net.weight * net.probs(wins)
    k = 0
    per_char = len(pieces) == len(_chars(page))
    owner = {id(c): p for c, p in zip(_chars(page), pieces, strict=True)} if per_char else {}
    extra: list[Piece] = []
    for comb, row in zip(combs, rows, strict=True):
        frame = comb.to_page(comb.box)
        over = round(OVERHANG * comb.cell_height)
        side = round(comb.box.width / len(comb.cells) / 2)  # as far as cell_pieces looks
        region = lev.to_input(
            Box(frame.x0 - side, frame.y0 - over, frame.x1 + side, frame.y1 + over)
        )
        word = None
        if row:
            assert probs is not None
            decoded = decode_page(
                [[p.box for p in row]],
                [[True] + [False] * (len(row) - 1)],
                probs[k : k + len(row)],
                rec.char_keys(),
                index=page.index,
                width=page.width,
                height=page.height,
                cfg=o.decode,
                to_page=lev.to_input if lev.inverse is not None else None,
            )
            chars = decoded.lines[0].all_chars() if decoded.lines else ()
            if chars:
                word = Word(chars, Box.enclosing([c.box for c in chars]), "handwritten")
                owner.update(
                    {id(c): p for c, p in zip(chars, row, strict=False)}
                )  # a decoded char per piece
            k += len(row)
        page = place_word(page, region, word)
        extra += row
    if per_char:
        return page, [owner[id(c)] for c in _chars(page)]
    return page, [*pieces, *extra]


def _chars(page: Page) -> list[Char]:
    return [c for line in page.lines for c in line.all_chars()]


def _inside(box: Box, region: Box) -> bool:
    """Whether at least half of ``box`` lies in ``region``."""
    w = min(box.x1, region.x1) - max(box.x0, region.x0)
    h = min(box.y1, region.y1) - max(box.y0, region.y0)
    return w > 0 and h > 0 and 2 * w * h >= box.width * box.height


def place_word(page: Page, region: Box, word: Word | None) -> Page:
    """Replace the characters of ``page`` lying (half or more) in ``region`` by ``word``.

    The word goes into the line that lost the most characters to it, among that line's words
    by their left edge (the line's box grows to hold it); when no line lost any, or that line
    lost all of them, it stands as a line of its own there, or before the first line below it.
    Words and lines left without characters are dropped; blocks follow their lines.

    Parameters
    ----------
    page : Page
    region : Box
        Input page pixels.
    word : Word or None
        None: only remove (an empty field).

    Returns
    -------
    Page
    """
    blocks = page_blocks(page)
    ids = [b for b, block in enumerate(blocks) for _ in range(block.count)]
    lines: list[Line] = []
    kept_ids: list[int] = []
    lost: list[int] = []
    host_at, host_lost = None, 0
    for li, line in enumerate(page.lines):
        words = []
        n_lost = 0
        for w in line.words:
            chars = tuple(c for c in w.chars if not _inside(c.box, region))
            n_lost += len(w.chars) - len(chars)
            if chars:
                if len(chars) == len(w.chars):
                    words.append(w)
                else:  # what is left of a word is not what its exact probability was of
                    box = Box.enclosing([c.box for c in chars])
                    words.append(dataclasses.replace(w, chars=chars, box=box, exact=None,
                                                     free=None, in_lexicon=None))  # fmt: skip
        if n_lost > host_lost:
            host_at, host_lost = len(lines), n_lost
            if not words:
                host_at = -len(lines) - 1  # the host is gone: its slot
        if words:
            if n_lost == 0:
                lines.append(line)
            else:
                box = Box.enclosing([w.box for w in words])
                lines.append(dataclasses.replace(line, words=tuple(words), box=box, exact=None))
            kept_ids.append(ids[li] if ids else 0)
        lost.append(n_lost)
    if word is not None:
        if host_at is not None and host_at >= 0:
            host = lines[host_at]
            words = sorted([*host.words, word], key=lambda w: w.box.x0)
            lines[host_at] = dataclasses.replace(
                host, words=tuple(words), box=Box.enclosing([host.box, word.box]), exact=None
            )
        else:
            at = -host_at - 1 if host_at is not None else _slot(lines, word.box)
            block = kept_ids[at - 1] if at > 0 else (kept_ids[0] if kept_ids else 0)
            lines.insert(at, Line((word,), word.box))
            kept_ids.insert(at, block)
    out_blocks = group_blocks(lines, kept_ids) if page.blocks else ()
    return dataclasses.replace(page, lines=tuple(lines), blocks=out_blocks)


def _slot(lines: Sequence[Line], box: Box) -> int:
    """Index of the first line whose centre lies below ``box``'s centre (else the end)."""
    cy = (box.y0 + box.y1) / 2
    for i, line in enumerate(lines):
        if (line.box.y0 + line.box.y1) / 2 > cy:
            return i
    return len(lines)
