"""The public entry points: :func:`recognize` and :class:`Recognizer`."""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from handocr.io import PageSource, iter_pages
from handocr.result import Box, Document, ModelInfo, Page

if TYPE_CHECKING:
    from handocr.ensemble import Ensemble
    from handocr.segment.split import Piece

__all__ = ["SPLIT_MARGIN", "Recognizer", "recognize"]

log = logging.getLogger(__name__)

SPLIT_MARGIN = 0.5
"""How much higher (natural log) the pieces' mean best log-probability must be than the whole
glyph's for a cut to be kept."""


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
        Resolve digit/letter look-alikes from the line and word they stand in
        (:func:`handocr.decode.apply_line_context`).
    split_touching : bool, default True
        Try cutting glyphs much wider than high into touching characters, keeping a cut when
        the classifier is more confident in its pieces (recognition-based segmentation).
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
        ``cascade`` is unknown.

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
    ) -> None:
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
        from handocr.decode import assemble_page, attach_votes, decode_chars
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
        flat = [p for row in items for p in row]
        if not flat:
            return Page(index, w, h, (), source)
        stack = self._classify(flat)
        if self.split_touching:
            items, starts, stack = self._split_touching(items, starts, stack, self.charset)
        probs, per_member = stack[:, 0], stack[:, 1:]
        if self.charset is not None:
            from handocr.decode import apply_charset

            probs = apply_charset(probs, self.charset)
        boxes = [p.box for row in items for p in row]
        flat_starts = [s for row in starts for s in row]
        sizes = [len(row) for row in items]
        context = {"word_starts": flat_starts, "line_sizes": sizes} if self.word_context else {}
        chars = decode_chars(probs, boxes, **context)  # type: ignore[arg-type]
        chars = attach_votes(chars, per_member, [m.key for m in self.ensemble.models])
        if inverse is not None:
            chars = [dataclasses.replace(c, box=_map_box(c.box, inverse, w, h)) for c in chars]
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

        def best(p: NDArray[np.float32]) -> NDArray[np.float32]:
            if charset is not None:
                from handocr.decode import apply_charset

                p = apply_charset(p, charset, normalize=False)
            top: NDArray[np.float32] = p.max(1)
            return top

        options: dict[int, list[list[Piece]]] = {}
        k = 0
        for row in items:
            for piece in row:
                found = split_candidates(piece)
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
        new_items, new_starts, new_probs = [], [], []
        k = 0
        for row, row_starts in zip(items, starts, strict=True):
            out_row, out_starts = [], []
            for piece, start in zip(row, row_starts, strict=True):
                if k in chosen:
                    pieces, pp = chosen[k]
                    out_row += pieces
                    out_starts += [start] + [False] * (len(pieces) - 1)
                    new_probs.append(pp)
                else:
                    out_row.append(piece)
                    out_starts.append(start)
                    new_probs.append(probs[k : k + 1])
                k += 1
            new_items.append(out_row)
            new_starts.append(out_starts)
        return new_items, new_starts, np.concatenate(new_probs)

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
        pages = []
        for i, loaded in enumerate(iter_pages(source)):
            page = self.read_page(loaded.image, index=i, source=loaded.source)
            pages.append(page)
            if on_page is not None:
                on_page(page)
        return Document(tuple(pages), self.loaded_models)


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
