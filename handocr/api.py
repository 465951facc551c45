"""The public entry points: :func:`recognize` and :class:`Recognizer`."""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import pairwise
from typing import TYPE_CHECKING, TypeVar

import numpy as np
from numpy.typing import NDArray

from handocr.io import PageSource, iter_pages
from handocr.result import Box, Document, ModelInfo, Page

if TYPE_CHECKING:
    from handocr.ensemble import Ensemble
    from handocr.segment.split import Piece

__all__ = [
    "BATCH_PAGES",
    "BATCH_PIXELS",
    "MERGE_GAP",
    "MERGE_MARGIN",
    "MERGE_WIDTH",
    "SPLIT_MARGIN",
    "Recognizer",
    "batch_full",
    "batch_pages",
    "recognize",
]

T = TypeVar("T")

log = logging.getLogger(__name__)

SPLIT_MARGIN = 0.5
"""How much higher (natural log) the pieces' mean best log-probability must be than the whole
glyph's for a cut to be kept."""

MERGE_MARGIN = SPLIT_MARGIN
"""How much higher (natural log) the joined glyph's best log-probability must be than the mean
of its two parts' for two neighbouring glyphs to be read as one: the same margin as a cut
needs, so recognition overrules the geometry's choice only clearly, in either direction."""

MERGE_GAP = 0.15
"""Neighbouring glyphs at most this share of the line's median height apart (or overlapping)
are tried as one broken character."""

MERGE_WIDTH = 1.0
"""... provided the joined glyph is at most this many times as wide as it, or the line's median
glyph, is high (typeset digit pairs, 1.2-1.4 times as wide as high, stay apart)."""


class Recognizer:
    """Loads the classifier ensemble once and reads many pages with it.

    Parameters
    ----------
    models : sequence of str, optional
        Registered names with an optional weights tag, e.g. ``"cnn.emnist47-v1"``; default the
        shipped ``default_ensemble`` of ``weights/MANIFEST.json``.
    device : {"auto", "cpu", "cuda", "cuda:N"}, default "auto"
    batch_size : int, default 1024
        Character crops per forward pass; peak memory grows linearly with it.
    word_context : bool, default True
        Resolve digit/letter look-alikes and case from the line and word they stand in
        (:func:`handocr.decode.apply_line_context`, :func:`handocr.decode.apply_case_context`),
        with letters weighed by their frequency in text.
    letter_prior : float, optional
        Weight of that letter-frequency prior (:func:`handocr.decode.apply_letter_prior`;
        default :data:`handocr.decode.LETTER_PRIOR`, 1.0 = Bayes' rule for English text);
        0 for fields whose letters are not words (codes, serial numbers, alphabets).
    split_touching : bool, default True
        Recognition-based segmentation: try cutting glyphs much wider than high into touching
        characters, and joining close neighbours into one broken character, keeping a cut or
        a join when the classifier is clearly more confident in it (:data:`SPLIT_MARGIN`,
        :data:`MERGE_MARGIN`).
    charset : str, optional
        Restrict output to a character set for fields of known type: ``digits``, ``upper``,
        ``letters``, ``alnum`` or explicit characters (:func:`handocr.labels.charset_fold`).
    voting : {"weighted", "soft", "hard"}, default "weighted"
        How the members' probabilities combine (:func:`handocr.ensemble.combine_votes`);
        every character keeps each member's own vote (:attr:`handocr.result.Char.votes`).
    binarize : {"otsu", "sauvola"}, default "otsu"
        Global Otsu threshold with hysteresis, or Sauvola's local threshold for uneven
        lighting (:func:`handocr.preprocess.ink_map`).
    deskew : bool, default True
        Estimate the page's skew (:func:`handocr.preprocess.estimate_skew`) and, from
        :data:`handocr.preprocess.MIN_SKEW_DEG` up, level the page before segmentation; boxes
        are mapped back to the input page's pixels.
    backend : {"auto", "onnx", "torch"}, default "auto"
        ``onnx``: ONNX Runtime on the CPU, without importing torch (fast start-up);
        ``torch``: PyTorch on ``device``; ``auto``: ONNX Runtime on a CPU-only machine when the
        members have exported graphs (:mod:`handocr.runtime`), else torch.
    cascade : {"auto", "off", "fitted"} or float, default "auto"
        ``auto``/``fitted``: the cascade fitted with the voting weights (the cheapest member
        reads every character, the others only those it is unsure of; within 0.1 point of the
        full ensemble's validation accuracy), ``off``: every member reads every character; a
        number: that margin (:meth:`handocr.ensemble.Ensemble.from_names`). Characters the
        cascade did not escalate carry one member's vote in :attr:`handocr.result.Char.votes`.

    Raises
    ------
    ValueError
        ``charset`` names characters outside the 47 classes, or ``voting``, ``backend`` or
        ``cascade`` is unknown, or ``letter_prior`` is negative.

    Notes
    -----
    Models load on first use, so a blank page never loads them.
    """

    def __init__(
        self,
        *,
        models: Sequence[str] | None = None,
        device: str = "auto",
        batch_size: int = 1024,
        word_context: bool = True,
        charset: str | None = None,
        split_touching: bool = True,
        voting: str = "weighted",
        deskew: bool = True,
        binarize: str = "otsu",
        backend: str = "auto",
        cascade: str | float = "auto",
        letter_prior: float | None = None,
    ) -> None:
        from handocr.decode import LETTER_PRIOR
        from handocr.ensemble import VOTING, parse_cascade
        from handocr.preprocess import BINARIZE
        from handocr.runtime import BACKENDS

        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
        self.backend = backend
        self.cascade = parse_cascade(cascade)

        if binarize not in BINARIZE:
            raise ValueError(f"binarize must be one of {', '.join(BINARIZE)}, not {binarize!r}")
        self.binarize = binarize
        self.deskew = deskew
        if voting not in VOTING:
            raise ValueError(f"voting must be one of {', '.join(VOTING)}, not {voting!r}")
        self.voting = voting
        self.split_touching = split_touching
        if charset is not None:
            from handocr.labels import charset_fold

            charset_fold(charset)  # validate early
        self.charset = charset
        self.word_context = word_context
        self.letter_prior = LETTER_PRIOR if letter_prior is None else float(letter_prior)
        if not self.letter_prior >= 0:
            raise ValueError(f"letter_prior must be >= 0, not {letter_prior!r}")
        self.model_names = tuple(models) if models is not None else None
        self.device = device
        self.batch_size = batch_size
        self._ensemble: Ensemble | None = None

    @property
    def ensemble(self) -> Ensemble:
        """The loaded ensemble (loads it on first access).

        Raises
        ------
        WeightsError, UnknownModelError
            As :meth:`handocr.ensemble.Ensemble.from_names`.
        """
        if self._ensemble is None:
            from handocr.ensemble import Ensemble

            self._ensemble = Ensemble.from_names(
                self.model_names,
                voting=self.voting,
                device=self.device,
                batch_size=self.batch_size,
                backend=self.backend,
                cascade=self.cascade,
            )
        return self._ensemble

    @property
    def loaded_models(self) -> tuple[ModelInfo, ...]:
        """Name, tag and sha256 of the members, if loaded; ``()`` before any model ran."""
        return self._ensemble.models if self._ensemble is not None else ()

    def read_page(
        self, image: NDArray[np.uint8], *, index: int = 0, source: str | None = None
    ) -> Page:
        """Read one gray page.

        Parameters
        ----------
        image : ndarray of uint8, shape (H, W)
            Gray page, 0 = black (either polarity is accepted).
        index : int
            Position of the page in its document.
        source : str, optional
            Where the page came from, recorded in the result.

        Returns
        -------
        Page
        """
        return self.read_pages([image], indices=[index], sources=[source])[0]

    def read_pages(
        self,
        images: Sequence[NDArray[np.uint8]],
        *,
        indices: Sequence[int] | None = None,
        sources: Sequence[str | None] | None = None,
    ) -> list[Page]:
        """Read several gray pages, classifying all their characters in shared batches.

        Binarisation and segmentation run page by page; the character crops of all pages go
        through the ensemble together, which saves the per-call cost of many small pages
        (e.g. one field per image). The result equals reading each page on its own.

        Parameters
        ----------
        images : sequence of ndarray of uint8, shape (H, W)
            Gray pages, 0 = black (either polarity is accepted).
        indices : sequence of int, optional
            Position of each page in its document; default 0, 1, 2, ...
        sources : sequence of str or None, optional
            Where each page came from, recorded in the results.

        Returns
        -------
        list of Page
            One per image, in order.

        Raises
        ------
        ValueError
            ``indices`` or ``sources`` has a length other than ``images``.
        """
        indices = list(range(len(images))) if indices is None else list(indices)
        sources = [None] * len(images) if sources is None else list(sources)
        if not len(indices) == len(sources) == len(images):
            raise ValueError("need one index and one source per image")
        pairs = zip(images, indices, strict=True)
        prepared = [self._prepare(image, index) for image, index in pairs]
        flat = [p for prep in prepared for row in prep.items for p in row]
        stacks: list[NDArray[np.float32]] = []
        if flat:
            stack = self._classify(flat)
            counts = np.cumsum([sum(len(row) for row in prep.items) for prep in prepared])
            stacks = np.split(stack, counts[:-1])
        else:
            stacks = [np.zeros((0, 1, 0), np.float32)] * len(prepared)
        return [
            self._finish(prep, st, index, source)
            for prep, st, index, source in zip(prepared, stacks, indices, sources, strict=True)
        ]

    def _prepare(self, image: NDArray[np.uint8], index: int) -> _Prepared:
        """Binarise, deskew and segment one page; nothing is classified yet."""
        from handocr.preprocess import MIN_SKEW_DEG, estimate_skew, ink_map, rotate_page
        from handocr.segment import glyph_mask, segment_page
        from handocr.segment.split import Piece

        h, w = image.shape
        ink = ink_map(image, method=self.binarize)
        inverse = None
        if self.deskew:
            angle = estimate_skew(ink)
            if abs(angle) >= MIN_SKEW_DEG:
                log.debug("page %d: skew %.2f degrees corrected", index, angle)
                image, inverse = rotate_page(image, angle)
                ink = ink_map(image, method=self.binarize)
        lines = segment_page(ink)
        items = [[Piece(g.box, glyph_mask(ink, g)) for g in line.glyphs] for line in lines]
        starts = [list(line.word_starts) for line in lines]
        return _Prepared(w, h, inverse, items, starts)

    def _finish(
        self, prep: _Prepared, stack: NDArray[np.float32], index: int, source: str | None
    ) -> Page:
        """Split touching glyphs, decode and assemble one page from its classified crops."""
        from handocr.decode import assemble_page, attach_votes, decode_chars

        w, h, items, starts = prep.width, prep.height, prep.items, prep.starts
        if not any(items):
            return Page(index, w, h, (), source)
        if self.split_touching:
            items, starts, stack = self._merge_broken(items, starts, stack, self.charset)
            items, starts, stack = self._split_touching(items, starts, stack, self.charset)
        probs, per_member = stack[:, 0], stack[:, 1:]
        if self.charset is not None:
            from handocr.decode import apply_charset

            probs = apply_charset(probs, self.charset)
        boxes = [p.box for row in items for p in row]
        flat_starts = [s for row in starts for s in row]
        sizes = [len(row) for row in items]
        context = {"word_starts": flat_starts, "line_sizes": sizes} if self.word_context else {}
        chars = decode_chars(probs, boxes, letter_prior=self.letter_prior, **context)  # type: ignore[arg-type]
        chars = attach_votes(chars, per_member, [m.key for m in self.ensemble.models])
        if prep.inverse is not None:
            inv = prep.inverse
            chars = [dataclasses.replace(c, box=_map_box(c.box, inv, w, h)) for c in chars]
        return assemble_page(
            chars, sizes, flat_starts, index=index, width=w, height=h, source=source
        )

    def _classify(self, pieces: Sequence[Piece]) -> NDArray[np.float32]:
        """Return ``(N, 1 + M, 47)``: the voted probabilities, then each member's."""
        from handocr.crops import to_model_input

        empty = np.zeros((1, 1), np.uint8)
        x = to_model_input(empty, [p.box for p in pieces], [p.mask for p in pieces])
        combined, per_member = self.ensemble.vote(x)
        return np.concatenate([combined[:, None], per_member.transpose(1, 0, 2)], axis=1)

    def _merge_broken(
        self,
        items: list[list[Piece]],
        starts: list[list[bool]],
        probs: NDArray[np.float32],
        charset: str | None = None,
    ) -> tuple[list[list[Piece]], list[list[bool]], NDArray[np.float32]]:
        r"""Recognition-based joining of a character broken into two neighbouring glyphs.

        ``probs`` is :meth:`_classify`'s ``(N, 1 + M, 47)`` stack. Two neighbours of a line at
        most :data:`MERGE_GAP` median heights apart, together at most :data:`MERGE_WIDTH`
        times as wide as high, are classified as one glyph; they become one when its best
        log-probability beats the mean of the parts' by :data:`MERGE_MARGIN` (a ``Y`` drawn as
        ``\`` and ``/``, a ``K`` whose bar stands apart). The best classes are those of the
        ``charset`` when one is given, as in :meth:`_split_touching`. Joins are taken by gain,
        each glyph joining at most once.
        """
        best = self._best_of(charset)
        logp = np.log(best(probs[:, 0]) + 1e-12)
        pairs: list[tuple[int, Piece]] = []  # (flat index of the left part, joined glyph)
        k = 0
        for row in items:
            if len(row) > 1:
                h = float(np.median([p.box.height for p in row]))
                for j, (a, b) in enumerate(pairwise(row)):
                    gap = b.box.x0 - a.box.x1
                    joined = Box.enclosing([a.box, b.box])
                    # the joined glyph's log-probability is at most 0: pairs whose parts'
                    # mean already reaches -MERGE_MARGIN can never join (exact pruning)
                    hopeless = (logp[k + j] + logp[k + j + 1]) / 2 + MERGE_MARGIN >= 0
                    wide = joined.width > MERGE_WIDTH * max(h, joined.height)
                    if gap <= MERGE_GAP * h and not wide and not hopeless:
                        pairs.append((k + j, _join(a, b)))
            k += len(row)
        if not pairs:
            return items, starts, probs
        joined_probs = self._classify([p for _, p in pairs])
        gains = []
        for n, (flat, _) in enumerate(pairs):
            whole = float(np.log(best(joined_probs[n : n + 1, 0])[0] + 1e-12))
            gain = whole - (logp[flat] + logp[flat + 1]) / 2
            if gain > MERGE_MARGIN:
                gains.append((gain, n))
        taken: dict[int, int] = {}  # flat index of the left part -> pair number
        used: set[int] = set()
        for _, n in sorted(gains, reverse=True):
            flat = pairs[n][0]
            if flat not in used and flat + 1 not in used:
                used |= {flat, flat + 1}
                taken[flat] = n
        if not taken:
            return items, starts, probs
        edits = {k: (2, [pairs[n][1]], joined_probs[n : n + 1]) for k, n in taken.items()}
        return _rebuild(items, starts, probs, edits)

    @staticmethod
    def _best_of(charset: str | None) -> Callable[[NDArray[np.float32]], NDArray[np.float32]]:
        """Each row's best probability, among the charset's classes (unnormalised) if given."""

        def best(p: NDArray[np.float32]) -> NDArray[np.float32]:
            if charset is not None:
                from handocr.decode import apply_charset

                p = apply_charset(p, charset, normalize=False)
            top: NDArray[np.float32] = p.max(1)
            return top

        return best

    def _split_touching(
        self,
        items: list[list[Piece]],
        starts: list[list[bool]],
        probs: NDArray[np.float32],
        charset: str | None = None,
    ) -> tuple[list[list[Piece]], list[list[bool]], NDArray[np.float32]]:
        """Recognition-based segmentation of wide glyphs.

        ``probs`` is :meth:`_classify`'s ``(N, 1 + M, 47)`` stack; the decision uses the voted
        probabilities ``[:, 0]``.

        Each wide glyph's cut options (:func:`handocr.segment.split.split_candidates`) are
        classified in one batch; an option replaces the glyph when the mean log-probability of
        its pieces' best classes beats the glyph's own by :data:`SPLIT_MARGIN`. With a
        ``charset``, the best classes are those of the set, each with the probability folded
        onto it but not renormalised (:func:`handocr.decode.apply_charset`): two touching
        zeros, a confident ``W`` as a whole, are then a poor digit, and their pieces good ones.
        """
        from handocr.segment.split import split_candidates

        best = self._best_of(charset)

        options: dict[int, list[list[Piece]]] = {}
        # A cut must beat the glyph's log-probability by SPLIT_MARGIN, and the pieces' mean
        # log-probability is at most 0: glyphs read with more than exp(-SPLIT_MARGIN) can
        # never be cut, so their candidates are not even classified (exact pruning).
        whole = np.log(best(probs[:, 0]) + 1e-12) + SPLIT_MARGIN
        k = 0
        for row in items:
            for piece in row:
                found = split_candidates(piece) if whole[k] < 0 else []
                if found:
                    options[k] = found
                k += 1
        if not options:
            return items, starts, probs
        batch = [p for opts in options.values() for opt in opts for p in opt]
        batch_probs = self._classify(batch)
        chosen: dict[int, tuple[list[Piece], NDArray[np.float32]]] = {}
        pos = 0
        for i, opts in options.items():
            bar = float(np.log(best(probs[i : i + 1, 0])[0] + 1e-12)) + SPLIT_MARGIN
            for opt in opts:
                pp = batch_probs[pos : pos + len(opt)]
                pos += len(opt)
                score = float(np.log(best(pp[:, 0]) + 1e-12).mean())
                if score > bar:
                    bar, chosen[i] = score, (opt, pp)
        if not chosen:
            return items, starts, probs
        edits = {k: (1, pieces, pp) for k, (pieces, pp) in chosen.items()}
        return _rebuild(items, starts, probs, edits)

    def read(
        self,
        source: PageSource | Sequence[PageSource],
        *,
        on_page: Callable[[Page], None] | None = None,
    ) -> Document:
        """Read every page of one or more sources.

        Parameters
        ----------
        source : path, ndarray, or sequence of them
            See :func:`recognize`.
        on_page : callable, optional
            Called with each page as soon as it is read (progress reporting).

        Returns
        -------
        Document

        Raises
        ------
        InputImageError
            A path is missing or unreadable, or an array has the wrong shape or dtype.
        WeightsError, UnknownModelError
            The models could not be loaded.
        """
        pages: list[Page] = []
        for group in batch_pages(iter_pages(source)):
            done = self.read_pages(
                [g.image for g in group],
                indices=range(len(pages), len(pages) + len(group)),
                sources=[g.source for g in group],
            )
            for page in done:
                pages.append(page)
                if on_page is not None:
                    on_page(page)
        return Document(tuple(pages), self.loaded_models)


BATCH_PIXELS = 4_000_000
"""Pages are gathered for one shared classification until they hold this many pixels (about
half an A4 page at 300 dpi), so small field images share batches and big pages go alone."""

BATCH_PAGES = 64
"""At most this many pages share one classification."""


def batch_pages(pages: Iterable[T], *, pixels: int = BATCH_PIXELS) -> Iterator[list[T]]:
    """Group loaded pages (anything with an ``image`` array) for :meth:`Recognizer.read_pages`.

    Parameters
    ----------
    pages : iterable
        Items with an ``image`` attribute, ``(H, W)`` arrays.
    pixels : int
        A group is closed once its images hold at least this many pixels, or
        :data:`BATCH_PAGES` pages; memory stays bounded by about one group.

    Yields
    ------
    list
        Consecutive items, in order.
    """
    group: list[T] = []
    held = 0
    for item in pages:
        group.append(item)
        held += int(item.image.size)  # type: ignore[attr-defined]
        if batch_full(held, len(group), pixels=pixels):
            yield group
            group, held = [], 0
    if group:
        yield group


def batch_full(pixels_held: int, pages_held: int, *, pixels: int = BATCH_PIXELS) -> bool:
    """Whether a group of pages is complete (:data:`BATCH_PIXELS`, :data:`BATCH_PAGES`)."""
    return pixels_held >= pixels or pages_held >= BATCH_PAGES


@dataclasses.dataclass(frozen=True, slots=True)
class _Prepared:
    """A segmented page waiting for its crops' probabilities."""

    width: int
    height: int
    inverse: NDArray[np.float64] | None  # affine back to the input page when deskewed
    items: list[list[Piece]]
    starts: list[list[bool]]


_Edit = tuple[int, "list[Piece]", NDArray[np.float32]]


def _rebuild(
    items: list[list[Piece]],
    starts: list[list[bool]],
    probs: NDArray[np.float32],
    edits: dict[int, _Edit],
) -> tuple[list[list[Piece]], list[list[bool]], NDArray[np.float32]]:
    """Apply cuts and joins to the lines of glyphs.

    ``edits[k] = (n, pieces, their probs)`` replaces the ``n`` glyphs from flat index ``k`` on
    (within one line) by ``pieces``; the first piece keeps glyph ``k``'s word start. Returns
    the new lines, word starts and ``(N', 1 + M, 47)`` stack.
    """
    new_items, new_starts, new_probs = [], [], []
    k = 0
    for row, row_starts in zip(items, starts, strict=True):
        out_row: list[Piece] = []
        out_starts: list[bool] = []
        j = 0
        while j < len(row):
            n, pieces, pp = edits.get(k + j, (1, [row[j]], probs[k + j : k + j + 1]))
            out_row += pieces
            out_starts += [row_starts[j]] + [False] * (len(pieces) - 1)
            new_probs.append(pp)
            j += n
        k += len(row)
        new_items.append(out_row)
        new_starts.append(out_starts)
    return new_items, new_starts, np.concatenate(new_probs)


def _join(a: Piece, b: Piece) -> Piece:
    """One glyph of two pieces: the union box and both masks' ink."""
    from handocr.segment.split import Piece

    box = Box.enclosing([a.box, b.box])
    mask = np.zeros((box.height, box.width), np.uint8)
    for p in (a, b):
        y, x = p.box.y0 - box.y0, p.box.x0 - box.x0
        region = mask[y : y + p.box.height, x : x + p.box.width]
        np.maximum(region, p.mask, out=region)
    return Piece(box, mask)


def _map_box(box: Box, affine: NDArray[np.float64], width: int, height: int) -> Box:
    """Map ``box``'s corners by a 2x3 affine; return their enclosing box, clipped to the page."""
    corners = np.array(
        [[box.x0, box.y0, 1], [box.x1, box.y0, 1], [box.x0, box.y1, 1], [box.x1, box.y1, 1]],
        np.float64,
    )
    xy = corners @ affine.T
    x0, y0 = np.floor(xy.min(0)).astype(int)
    x1, y1 = np.ceil(xy.max(0)).astype(int)
    x0, y0 = min(max(0, x0), width - 1), min(max(0, y0), height - 1)
    return Box(
        int(x0), int(y0), int(max(x0 + 1, min(width, x1))), int(max(y0 + 1, min(height, y1)))
    )


@functools.lru_cache(maxsize=4)
def _cached(
    models: tuple[str, ...] | None,
    device: str,
    batch_size: int,
    voting: str,
    backend: str,
    cascade: str | float,
) -> Recognizer:
    return Recognizer(
        models=models,
        device=device,
        batch_size=batch_size,
        voting=voting,
        backend=backend,
        cascade=cascade,
    )


def recognize(
    source: PageSource | Sequence[PageSource],
    *,
    models: Sequence[str] | None = None,
    device: str = "auto",
    batch_size: int = 1024,
    voting: str = "weighted",
    backend: str = "auto",
    cascade: str | float = "auto",
) -> Document:
    """Read handprinted text from one or more page images.

    Parameters
    ----------
    source : path, ndarray, or sequence of them
        Pages in reading order: image files (PNG, JPEG, TIFF incl. multi-page, BMP, ...), PDF
        files (rendered at 300 dpi), or arrays ``(H, W)`` gray / ``(H, W, 3)`` BGR of dtype
        ``uint8``, 0 = black.
    models : sequence of str, optional
        Registered names with an optional weights tag, e.g. ``"cnn.emnist47-v1"``; default the
        shipped ensemble.
    device : {"auto", "cpu", "cuda", "cuda:N"}, default "auto"
    batch_size : int, default 1024
        Character crops per forward pass; peak memory grows linearly with it.
    voting : {"weighted", "soft", "hard"}, default "weighted"
        See :class:`Recognizer`.
    backend : {"auto", "onnx", "torch"}, default "auto"
        See :class:`Recognizer`.
    cascade : {"auto", "off", "fitted"} or float, default "auto"
        See :class:`Recognizer`.

    Returns
    -------
    Document
        One ``Page`` per input page; boxes in that page's pixels (top-left origin),
        confidences as probabilities in [0, 1].

    Raises
    ------
    InputImageError
        A path is missing or unreadable, or an array has the wrong shape or dtype.
    WeightsError
        Weights for a requested model are missing, corrupt, or do not fit it.
    UnknownModelError
        A name in ``models`` is not registered.

    Examples
    --------
    >>> recognize(np.full((32, 32), 255, np.uint8)).text   # blank page: no crops, no model run
    ''
    """
    key = tuple(models) if models is not None else None
    return _cached(key, device, batch_size, voting, backend, cascade).read(source)
