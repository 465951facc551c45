"""The pipeline's stages over a batch of gray pages, written once for every caller.

:func:`front_half` (clean and segment one page; :func:`front_layout` adds each line's reading
block and baseline) is what reading, the verifier's fitting and training on real scans share;
:func:`read_images` runs every stage over a batch of pages, classifying the character
candidates of all of them in shared batches, and fuses the line members' readings
(:func:`fuse_pages`). :class:`handocr.api.Recognizer` holds the models and
calls these; nothing here loads a model.

==========  ===============================================  ====================================
stage       function                                         output
==========  ===============================================  ====================================
clean       :func:`handocr.preprocess.level_page`            ink map, deskewed when needed
segment     :func:`handocr.segment.segment_layout`           candidates, blocks, baselines
classify    :meth:`handocr.api.Recognizer.classify`          ``(N, 1 + M, 47)`` voted + members
search      :func:`handocr.segment.search.search_lattices`   cuts and joins by a best-path search
decode      :func:`handocr.decode.decode_page`               :class:`handocr.result.Page`
fuse        :func:`handocr.fusion.fuse_line`                 line members' readings fused (not
                                                             on lines the word-kind network
                                                             calls printed)
kind        :func:`handocr.pipeline.sort_kinds`              each word printed or handwritten
combs       :func:`handocr.comb_fields.read_comb_fields`     comb fields read one char per cell
keep        :func:`handocr.kind.keep_kind`                   the words of the kind asked for
calibrate   :func:`handocr.confidence.calibrate_page`        word/line P(exactly right)
==========  ===============================================  ====================================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from handocr.result import Box, Char, Page

if TYPE_CHECKING:
    from handocr.api import Recognizer
    from handocr.lexicon import Lexicon
    from handocr.options import ReadOptions
    from handocr.preprocess import LevelledPage
    from handocr.readings import FusedNotes
    from handocr.segment.components import Piece
    from handocr.segment.layout import PageLayout
    from handocr.segment.search import LineSearch

__all__ = ["Segmented", "front_half", "front_layout", "fuse_pages", "read_images"]


class Segmented(NamedTuple):
    """One page cleaned and segmented: the front half of the pipeline.

    Attributes
    ----------
    levelled : LevelledPage
        The binarised (and levelled) page (:func:`handocr.preprocess.level_page`).
    lines : list of list of Piece
        Character candidates per text line, in reading order, in the levelled page's pixels.
    starts : list of list of bool
        Per candidate, whether a word starts at it.
    """

    levelled: LevelledPage
    lines: list[list[Piece]]
    starts: list[list[bool]]


def front_half(image: NDArray[np.uint8], options: ReadOptions) -> Segmented:
    """Clean and segment one gray page as reading does (binarise, level, segment).

    Parameters
    ----------
    image : ndarray of uint8, shape (H, W)
        Gray page, 0 = black (either polarity is accepted).
    options : ReadOptions
        Its ``binarize``, ``deskew``, ``remove_lines``, ``hysteresis`` and ``segment``.

    Returns
    -------
    Segmented
    """
    lev, layout = front_layout(image, options)
    return Segmented(lev, layout.lines, layout.starts)


def front_layout(image: NDArray[np.uint8], options: ReadOptions) -> tuple[LevelledPage, PageLayout]:
    """:func:`front_half` with each line's reading block and baseline, as reading uses it.

    Returns
    -------
    (LevelledPage, PageLayout)
        The levelled page and its segmentation (:func:`handocr.segment.segment_layout`), in
        the levelled page's pixels.
    """
    from handocr.preprocess import level_page
    from handocr.segment import segment_layout

    lev = level_page(image, options.clean)
    return lev, segment_layout(lev.ink, options.segment)


_Read = tuple[Page, "LevelledPage", list["LineSearch"], list[list["Piece"]]]


def read_images(
    rec: Recognizer,
    images: Sequence[NDArray[np.uint8]],
    numbers: Sequence[int],
    sources: Sequence[str | None],
) -> list[tuple[Page, list[Piece]]]:
    """Read gray pages with ``rec``'s models and options: each page and its pieces.

    Binarisation and segmentation run page by page; the character candidates of all pages go
    through the ensemble together, which saves the per-call cost of many small pages. The
    result equals reading each page on its own.

    Parameters
    ----------
    rec : Recognizer
        The models (loaded on first use) and options.
    images : sequence of ndarray of uint8, shape (H, W)
        Gray pages, 0 = black.
    numbers : sequence of int
        Each page's own 1-based number within its input.
    sources : sequence of str or None
        Where each page came from, recorded in the results.

    Returns
    -------
    list of (Page, list of Piece)
        Per image, the page (``index`` 0) and the pieces read, in reading order: one per
        character (``page.lines -> words -> chars``) without line members; with them, the
        pieces of the chosen segmentation, which a fused reading may leave out or add to.
        Under ``kind="handwritten"`` or ``"printed"`` each page keeps only its words of that
        kind (:func:`_keep_kind`, the one place the option applies).

    Raises
    ------
    WeightsError, UnknownModelError, ModelOutputError
        The models could not be loaded or returned unusable output.
    """
    from handocr.decode import decode_page
    from handocr.segment.search import layout_searches, search_lattices, searched_lines

    o = rec.options
    segmented = [front_layout(image, o) for image in images]
    sizes = [sum(len(row) for row in s.lines) for _, s in segmented]
    flat = [p for _, s in segmented for row in s.lines for p in row]
    stack = rec.classify(flat) if flat else np.zeros((0, 1, 0), np.float32)
    stacks = np.split(stack, np.cumsum(sizes)[:-1])
    fuse = bool(rec.line_members)
    read: list[_Read] = []
    for (lev, (lines, starts, blocks, baselines)), probs, number, source in zip(
        segmented, stacks, numbers, sources, strict=True
    ):
        verifier = rec.verifier if o.search.enabled else None
        found: list[LineSearch | None] = []
        if lines and verifier is not None:
            found = search_lattices(
                lines,
                starts,
                probs,
                rec.classify,
                verifier=verifier,
                charset=o.charset,
                cfg=o.segment,
            )
            lines, starts, probs = searched_lines(found, probs)  # the same lines, in order
        elif lines and fuse:
            found = layout_searches(lines, starts, probs, o.segment)
        page = decode_page(
            [[p.box for p in row] for row in lines],
            starts,
            probs,
            rec.char_keys(),
            index=0,
            width=lev.width,
            height=lev.height,
            source=source,
            cfg=o.decode,
            to_page=lev.to_input if lev.inverse is not None else None,
            blocks=blocks,
            baselines=baselines,
        )
        page = replace(page, number=number)
        read.append((page, lev, [x for x in found if x is not None], lines))
    if fuse:
        out = fuse_pages(rec, read, skip=_printed_lines(rec, read, images))
    else:
        out = [(page, [p for row in lines for p in row]) for page, _, _, lines in read]
    out = sort_kinds(rec, out, images)
    return _finish(rec, out, [lev for lev, _ in segmented], per_char=not fuse)


def _finish(
    rec: Recognizer,
    out: list[tuple[Page, list[Piece]]],
    levelled: Sequence[LevelledPage],
    *,
    per_char: bool,
) -> list[tuple[Page, list[Piece]]]:
    """Read the comb fields, keep the words of the kind asked, calibrate, mark the doubtful."""
    o = rec.options
    if o.clean.combs:
        from handocr.comb_fields import read_comb_fields

        out = [
            read_comb_fields(rec, page, pieces, lev)
            for (page, pieces), lev in zip(out, levelled, strict=True)
        ]
    if o.kind != "all":
        out = [_keep_kind(page, pieces, o.kind, per_char=per_char) for page, pieces in out]
    from handocr.confidence import calibrate_page, mark_rejected

    model = rec.exact_model
    if model is not None:
        out = [(calibrate_page(page, model), pieces) for page, pieces in out]
    level = o.decode.reject_below
    if level is None:
        return out
    return [(mark_rejected(page, level), pieces) for page, pieces in out]


def sort_kinds(
    rec: Recognizer,
    read: list[tuple[Page, list[Piece]]],
    images: Sequence[NDArray[np.uint8]],
) -> list[tuple[Page, list[Piece]]]:
    """Tell printed words from handwritten ones and read the printed ones as printed text.

    Each word's kind comes from the shipped classifier (:func:`handocr.kind.assign_kinds`:
    evidence from its characters' regularity, its ink, and the members' confidence and
    agreement; words already marked printed, on lines not fused, stay printed); the words it
    calls printed (P(printed) >= :data:`handocr.printed.REREAD_P`) are then read again by the
    printed-text reader, the first line member (PP-OCRv5: :func:`handocr.printed.read_printed`).
    Without a classifier in the weights folder every word stays handwritten; without line
    members the printed words keep the character members' reading (their pieces then still
    match the characters one to one).

    Parameters
    ----------
    rec : Recognizer
        Its kind classifier and line members.
    read : list of (Page, list of Piece)
        Each page as read, and its pieces.
    images : sequence of ndarray of uint8, shape (H, W)
        The pages' gray input images (boxes are in their pixels).

    Returns
    -------
    list of (Page, list of Piece)
    """
    from handocr.kind import HANDWRITTEN, PRINTED, printed_proba
    from handocr.printed import REREAD_P, read_printed

    clf = rec.kind_classifier
    if clf is None:
        return read
    member = rec.line_members[0] if rec.line_members else None
    out = []
    for (page, pieces), image in zip(read, images, strict=True):
        marked = [w.kind == PRINTED for line in page.lines for w in line.words]
        proba = printed_proba(page, image, clf, marked)  # marked: printed lines not fused
        kinds = [PRINTED if q >= clf.threshold else HANDWRITTEN for q in proba]
        if PRINTED in kinds:
            it = iter(kinds)
            lines = tuple(
                replace(line, words=tuple(replace(w, kind=next(it)) for w in line.words))
                for line in page.lines
            )
            page = replace(page, lines=lines)
            if member is not None:
                page = read_printed(page, image, member, [bool(q >= REREAD_P) for q in proba])
        out.append((page, pieces))
    return out


def _keep_kind(
    page: Page, pieces: list[Piece], kind: str, *, per_char: bool
) -> tuple[Page, list[Piece]]:
    """Keep the page's words of ``kind`` (:func:`handocr.kind.keep_kind`).

    With ``per_char`` (one piece per character, in reading order) the pieces of the words left
    out go too; a fused reading's pieces are not matched to its characters and stay whole.
    """
    from handocr.kind import keep_kind

    kept = keep_kind(page, kind)
    if not per_char or kept is page:
        return kept, pieces
    mask = [w.kind == kind for line in page.lines for w in line.words for _ in w.chars]
    return kept, [p for p, keep in zip(pieces, mask, strict=True) if keep]


def _printed_lines(
    rec: Recognizer, read: list[_Read], images: Sequence[NDArray[np.uint8]]
) -> list[list[bool]]:
    """Per page, per line: whether the word-kind network calls every word of it printed.

    Such a line is read by the printed-text reader (:func:`sort_kinds`), so fusing the line
    members with its handprint reading would be wasted: it is not fused and its words are
    printed. The network alone judges (:meth:`handocr.kind_net.KindNet.logits` >= 0 for each
    word: P >= 0.5), as it sees only each word's pixels; the full classifier also weighs the
    line members' agreement, which does not exist before fusion. Nothing is skipped while
    the fusion's features are collected for fitting (``rec.probe``): every line is fused.
    """
    clf = rec.kind_classifier
    if clf is None or clf.net is None or not rec.line_members or rec.probe is not None:
        return [[False] * len(page.lines) for page, _, _, _ in read]
    from handocr.kind_net import word_crops

    out = []
    for (page, _, _, _), image in zip(read, images, strict=True):
        logits = iter(clf.net.logits(word_crops(page, image)) if page.lines else [])
        out.append([min([next(logits) for _ in line.words], default=-1.0) >= 0.0
                    for line in page.lines])  # fmt: skip
    return out


def fuse_pages(
    rec: Recognizer, read: list[_Read], skip: Sequence[Sequence[bool]] | None = None
) -> list[tuple[Page, list[Piece]]]:
    """Fuse the line members with each page's character reading (:mod:`handocr.fusion`).

    The line crops of all pages go through each line member in one call (batched by width).
    A fused character without a lattice candidate has no piece: the pieces returned are those
    of the characters that have one.

    Parameters
    ----------
    rec : Recognizer
        Its line members, fusion weights and options.
    read : list of (Page, LevelledPage, list of LineSearch, lines)
        Each page's character reading, its levelled page and its lines' searches.
    skip : sequence of sequence of bool, optional
        Per page, per line: keep the character reading of this line as it is, its words marked
        printed (a printed line, :func:`_printed_lines`).

    Returns
    -------
    list of (Page, list of Piece)
    """
    from handocr.fusion import fuse_line, fused_page
    from handocr.linecrop import line_bands, line_crop

    o = rec.options
    readings = rec.line_readings()
    views = list(dict.fromkeys(v for _, _, v in readings))
    crops: dict[str, list[Any]] = {v: [] for v in views}
    x0s: dict[str, list[int]] = {v: [] for v in views}
    skip = skip if skip is not None else [[False] * len(f) for _, _, f, _ in read]
    for (_, lev, found, _), passed in zip(read, skip, strict=True):
        gray = lev.gray if lev.gray is not None else 255 - lev.ink
        boxes = [Box.enclosing([ls.lattice.pieces[c].box for c in ls.path]) for ls in found]
        for ls, box, band, no in zip(found, boxes, line_bands(boxes), passed, strict=True):
            if no:
                continue
            for v in views:
                crop, x0 = line_crop(
                    gray, lev.ink, box, ls.lattice.height, band, v, alone=len(found) == 1
                )
                crops[v].append(crop)
                x0s[v].append(x0)
    per_member, origin, keys = [], [], []
    for key, m, v in readings:  # a further view scores as a member of its own
        per_member.append(m.read(crops[v]))
        origin.append(x0s[v])
        keys.append(key)
    names = rec.char_keys()
    weights = rec.fusion_weights
    lexicon, lexicon_weights = rec.lexicon or (None, None)
    out = []
    n = 0
    for (page, lev, found, _), passed in zip(read, skip, strict=True):
        fused: list[tuple[list[Char], list[bool]]] = []
        pieces: list[Piece] = []
        notes: list[FusedNotes | None] = []
        for ls, line, no in zip(found, page.lines, passed, strict=True):
            pieces.extend(ls.lattice.pieces[c] for c in ls.path)
            if no:
                fused.append(
                    (
                        list(line.all_chars()),
                        [k == 0 for w in line.words for k in range(len(w.chars))],
                    )
                )
                notes.append(None)
                continue
            said: list[FusedNotes] = []
            chars, starts = fuse_line(
                ls,
                line.all_chars(),
                [r[n] for r in per_member],
                keys,
                weights=weights,
                members=names,
                crop_x0=[x[n] for x in origin],
                charset=o.charset,
                to_page=lev.to_input if lev.inverse is not None else None,
                probe=rec.probe,
                lexicon=lexicon,
                lexicon_weights=lexicon_weights,
                notes=said,
            )
            fused.append((chars, starts))
            notes.append(said[0] if said else None)
            n += 1
        new = _mark_printed(fused_page(page, fused), fused, passed)
        new = _mark_notes(new, [f for f, (c, _) in zip(notes, fused, strict=True) if c], lexicon)
        out.append((new, pieces))
    return out


def _mark_notes(page: Page, notes: Sequence[FusedNotes | None], lexicon: Lexicon | None) -> Page:
    """Give each fused line and word its exact probability (and free reading, with a lexicon).

    The notes are :class:`handocr.readings.FusedNotes`; with a lexicon, words also get their
    free reading and lexicon membership.

    ``notes`` holds one entry per line of ``page`` (None: a line not fused, a printed line).
    A word's notes are kept only where the fused line has as many words as the reading the
    notes describe.
    """
    lines = []
    for line, note in zip(page.lines, notes, strict=True):
        if note is None:
            lines.append(line)
            continue
        n = len(line.words)
        words = []
        for k, w in enumerate(line.words):
            changes: dict[str, Any] = {"exact": note.words[k] if len(note.words) == n else None}
            if lexicon is not None and note.free is not None and note.found is not None:
                changes["free"] = note.free[k] if len(note.free) == n else None
                changes["in_lexicon"] = (
                    note.found[k] if len(note.found) == n else w.text.upper() in lexicon
                )
            words.append(replace(w, **changes))
        lines.append(replace(line, words=tuple(words), exact=note.exact))
    return replace(page, lines=tuple(lines))


def _mark_printed(
    page: Page, lines: Sequence[tuple[list[Char], list[bool]]], printed: Sequence[bool]
) -> Page:
    """Mark the words of the lines flagged ``printed`` printed (lines left empty are gone)."""
    flags = [p for (chars, _), p in zip(lines, printed, strict=True) if chars]
    if not any(flags):
        return page
    new = tuple(
        replace(line, words=tuple(replace(w, kind="printed") for w in line.words)) if p else line
        for line, p in zip(page.lines, flags, strict=True)
    )
    return replace(page, lines=new)
