"""The public entry points: :func:`recognize`, :class:`Recognizer` and its read loop.

The :class:`Recognizer` composes the pipeline's stages in order and holds no stage logic:

==========  ===============================================  ====================================
stage       function                                         output
==========  ===============================================  ====================================
read        :func:`handocr.io.iter_pages`                    ``(H, W)`` uint8 gray pages
clean       :func:`handocr.preprocess.level_page`            ink map, deskewed when needed
segment     :func:`handocr.segment.segment_pieces`           lines of glyph pieces, word starts
crops       :func:`handocr.crops.pieces_to_model_input`      ``(N, 1, 28, 28)`` float32
classify    :meth:`handocr.ensemble.Ensemble.vote`           ``(N, 47)`` voted + each member's
search      :func:`handocr.segment.search.search_lines`      cuts and joins by a best-path search
decode      :func:`handocr.decode.decode_page`               :class:`handocr.result.Page`
==========  ===============================================  ====================================

:meth:`Recognizer.read_inputs` is the one loop over inputs (files, PDFs, bytes, arrays): it
batches the crops of small pages together, keeps inputs in order, and reports a failing input
as a result with its error instead of stopping; the command line, ``eval-pages`` and the
benchmarks all read through it.
"""

from __future__ import annotations

import functools
import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np
from numpy.typing import NDArray

from handocr.errors import ExitCode, HandocrError, OptionError
from handocr.io import PageSource, as_sources, iter_pages, source_label
from handocr.options import ReadOptions
from handocr.result import Box, Char, Document, ModelInfo, Page

if TYPE_CHECKING:
    from handocr.ensemble import Ensemble
    from handocr.fusion import FusionWeights
    from handocr.io import LoadedPage
    from handocr.models.line import LineMember
    from handocr.preprocess import LevelledPage
    from handocr.segment.components import Piece
    from handocr.segment.search import LineSearch, Verifier

__all__ = [
    "BATCH_PAGES",
    "BATCH_PIXELS",
    "InputResult",
    "Recognizer",
    "batch_full",
    "batch_pages",
    "recognize",
]

T = TypeVar("T")

log = logging.getLogger(__name__)

BATCH_PIXELS = 4_000_000
"""Pages are gathered for one shared classification until they hold this many pixels (about
half an A4 page at 300 dpi), so small field images share batches and big pages go alone."""

BATCH_PAGES = 64
"""At most this many pages share one classification."""

OnPage = Callable[[Page, "NDArray[np.uint8]"], None]
"""``on_page(page, image)``: called with each page read and its gray input image."""


@dataclass(frozen=True, slots=True)
class InputResult:
    """What reading one input gave: its document, or the error that stopped it.

    Attributes
    ----------
    index : int
        Position of the input among those given (0-based).
    source : str
        The input as a label: its path, ``"-"`` for standard input, ``"array 2"``, ...
    document : Document or None
        Its pages (numbered from 0 within the input); None when it failed.
    error : HandocrError or None
        Why it failed; None when it was read.
    """

    index: int
    source: str
    document: Document | None = None
    error: HandocrError | None = None

    @property
    def ok(self) -> bool:
        """Whether the input was read."""
        return self.error is None


class Recognizer:
    """Loads the classifier ensemble once and reads many pages with it.

    Parameters
    ----------
    options : ReadOptions, optional
        Every reading option (:class:`handocr.options.ReadOptions`); default its defaults.
    **changes
        Options by name, applied on top of ``options`` (``Recognizer(charset="digits")``).

    Raises
    ------
    OptionError
        An unknown option or a bad value (a ``ValueError``; exit code ``USAGE``).

    Notes
    -----
    Models load on first use, so a blank page never loads them.
    """

    def __init__(self, options: ReadOptions | None = None, **changes: Any) -> None:
        if options is not None and not isinstance(options, ReadOptions):
            raise OptionError(f"options must be ReadOptions, not {type(options).__name__}")
        base = options or ReadOptions()
        self.options: ReadOptions = base.replace(**changes) if changes else base
        self._models = _Models()  # shared with recognizers from with_options
        # fitting the fusion (handocr.train.fusion) observes each line's readings
        self._probe: Callable[[Any], None] | None = None

    def with_options(self, **changes: Any) -> Recognizer:
        """Return a recognizer with ``changes`` applied, sharing the loaded models if it can.

        The ensemble is shared when none of :data:`handocr.options.MODEL_OPTIONS` changes
        (e.g. another ``charset`` per set of images), loaded or not: whichever of the two
        loads it first loads it for both.

        Raises
        ------
        OptionError
            As :class:`ReadOptions`.
        """
        other = Recognizer(self.options, **changes)
        other._probe = self._probe
        if not self.options.models_differ(other.options):
            other._models = self._models
        return other

    @property
    def ensemble(self) -> Ensemble:
        """The loaded ensemble (loads it on first access).

        Raises
        ------
        WeightsError, UnknownModelError, OptionError
            As :meth:`handocr.ensemble.Ensemble.from_names`.
        """
        if self._models.ensemble is None:
            from handocr.ensemble import Ensemble

            o = self.options
            self._models.ensemble = Ensemble.from_names(
                o.models,
                voting=o.voting,
                device=o.device,
                batch_size=o.batch_size,
                backend=o.backend,
                cascade=o.cascade,
            )
        return self._models.ensemble

    @property
    def verifier(self) -> Verifier | None:
        """The segmentation search's "one character" model (loads it on first access).

        ``verifier.safetensors`` of the weights folder (:func:`handocr.models.weights_dir`),
        fitted for the shipped ensemble by ``handocr fit-verifier``; None when the folder has
        none (the search is then skipped and the layout's glyphs stand).

        Raises
        ------
        WeightsError
            The file exists but cannot be read.
        """
        if self._models.verifier is None:
            from handocr.models.manifest import weights_dir
            from handocr.segment.search import VERIFIER_FILE, Verifier

            path = weights_dir() / VERIFIER_FILE
            if not path.is_file():
                log.debug("no %s: the layout's glyphs stand, no segmentation search", path)
                return None
            self._models.verifier = Verifier.load(path)
        return self._models.verifier

    @property
    def line_members(self) -> list[LineMember]:
        """The line members (CTC recognizers of whole lines) read with, loaded on first access.

        ``options.line_models``: None gives the manifest's ``default_line_members``, ``()``
        none (the character members read alone).

        Raises
        ------
        WeightsError
            A line member is not listed, or its graph is missing or tampered with.
        """
        if self._models.line_members is None:
            from handocr.models.line import load_line_members

            names = self.options.line_models
            self._models.line_members = [] if names == () else load_line_members(names)
        return self._models.line_members

    @property
    def line_keys(self) -> list[str]:
        """Names of the line readings the fusion scores, in order.

        Each line member's ``"arch.tag"``, then ``"arch.tag~view"`` for each further view of
        the line it reads (its manifest ``input.views``).
        """
        return [key for key, _, _ in self._line_readings()]

    def _line_readings(self) -> list[tuple[str, LineMember, str]]:
        """``(key, member, view)`` of each line reading the fusion's weights use.

        A reading whose weights are zero for this charset (``fit-fusion`` found that it did not
        pay there) is not computed.
        """
        w = self.fusion_weights
        out = []
        for m in self.line_members:
            for k, v in enumerate(m.views):
                key = m.key if k == 0 else f"{m.key}~{v}"
                if not w.line.get(key, 1.0) and not w.line_distance.get(key, 0.0):
                    continue
                out.append((key, m, v))
        return out

    @property
    def fusion_weights(self) -> FusionWeights:
        """The fusion's weights for this recognizer's charset (:meth:`FusionWeights.pick`)."""
        spec = self.options.charset.spec if self.options.charset is not None else None
        if spec not in self._models.fusion:
            from handocr.fusion import FusionWeights
            from handocr.models.manifest import load_manifest

            self._models.fusion[spec] = FusionWeights.pick(load_manifest().fusion, spec)
        return self._models.fusion[spec]

    @property
    def loaded_models(self) -> tuple[ModelInfo, ...]:
        """Name, tag and sha256 of the loaded members: character members, then line members.

        ``()`` before any model ran.
        """
        ens = self._models.ensemble
        lines = self._models.line_members or []
        return (*(ens.models if ens is not None else ()), *(m.info for m in lines))

    def _char_keys(self) -> list[str]:
        """Return the character members' ``"arch.tag"`` names, in the order of their votes."""
        ens = self._models.ensemble
        return [m.key for m in ens.models] if ens is not None else []

    def classify(self, pieces: Sequence[Piece]) -> NDArray[np.float32]:
        """Classify character candidates: the voted probabilities, then each member's.

        Parameters
        ----------
        pieces : sequence of Piece
            Boxes with their own ink (:class:`handocr.segment.Piece`).

        Returns
        -------
        ndarray of float32, shape (N, 1 + M, 47)
            ``[:, 0]`` the ensemble's vote, ``[:, 1 + m]`` member ``m``'s own probabilities
            (NaN where a cascade did not run it).

        Raises
        ------
        WeightsError, UnknownModelError, ModelOutputError
            The models could not be loaded or returned unusable output.
        """
        from handocr.crops import pieces_to_model_input

        combined, per_member = self.ensemble.vote(pieces_to_model_input(pieces))
        return np.concatenate([combined[:, None], per_member.transpose(1, 0, 2)], axis=1)

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
        WeightsError, UnknownModelError, ModelOutputError
            As :meth:`classify`.
        """
        return [page for page, _ in self.read_pieces(images, indices=indices, sources=sources)]

    def read_pieces(
        self,
        images: Sequence[NDArray[np.uint8]],
        *,
        indices: Sequence[int] | None = None,
        sources: Sequence[str | None] | None = None,
    ) -> list[tuple[Page, list[Piece]]]:
        """Read pages as :meth:`read_pages` does, and keep the glyph crops that were read.

        For training on real scans: each character of the page comes with the
        :class:`~handocr.segment.Piece` (box and own ink, in the levelled page's pixels) that
        the classifier read, so crops can be labelled by aligning the text with a transcription.

        Returns
        -------
        list of (Page, list of Piece)
            Per image, the page and its pieces in reading order, one per character of the page
            (``page.lines -> words -> chars``) when read without line members
            (``line_models=()``, as training does); with them, the pieces of the chosen
            segmentation, which a fused reading may leave out or add characters to.

        Raises
        ------
        ValueError, WeightsError, UnknownModelError, ModelOutputError
            As :meth:`read_pages`.
        """
        from handocr.decode import decode_page
        from handocr.preprocess import level_page
        from handocr.segment import segment_pieces
        from handocr.segment.search import layout_searches, search_lattices, searched_lines

        o = self.options
        indices = list(range(len(images))) if indices is None else list(indices)
        sources = [None] * len(images) if sources is None else list(sources)
        if not len(indices) == len(sources) == len(images):
            raise ValueError("need one index and one source per image")
        levelled = [
            level_page(
                image,
                method=o.binarize,
                deskew=o.deskew,
                remove_lines=o.remove_lines,
                hysteresis=o.hysteresis,
            )
            for image in images
        ]
        segmented = [segment_pieces(lev.ink, o.segment) for lev in levelled]
        sizes = [sum(len(row) for row in lines) for lines, _ in segmented]
        flat = [p for lines, _ in segmented for row in lines for p in row]
        stack = self.classify(flat) if flat else np.zeros((0, 1, 0), np.float32)
        stacks = np.split(stack, np.cumsum(sizes)[:-1])
        fuse = bool(self.line_members)
        read = []
        for lev, (lines, starts), probs, index, source in zip(
            levelled, segmented, stacks, indices, sources, strict=True
        ):
            verifier = self.verifier if o.search else None
            found: list[LineSearch | None] = []
            if lines and verifier is not None:
                found = search_lattices(
                    lines,
                    starts,
                    probs,
                    self.classify,
                    verifier=verifier,
                    charset=o.charset,
                    cfg=o.segment,
                )
                lines, starts, probs = searched_lines(found, probs)
            elif lines and fuse:
                found = layout_searches(lines, starts, probs, o.segment)
            page = decode_page(
                [[p.box for p in row] for row in lines],
                starts,
                probs,
                self._char_keys(),
                index=index,
                width=lev.width,
                height=lev.height,
                source=source,
                charset=o.charset,
                word_context=o.word_context,
                case_context=o.case_context,
                letter_prior=o.letter_prior,
                bars_as_i=o.bars_as_i,
                to_page=lev.to_input if lev.inverse is not None else None,
            )
            read.append((page, lev, [x for x in found if x is not None], lines))
        if fuse:
            return self._fuse(read)
        return [(page, [p for row in lines for p in row]) for page, _, _, lines in read]

    def _fuse(
        self, read: list[tuple[Page, LevelledPage, list[LineSearch], Any]]
    ) -> list[tuple[Page, list[Piece]]]:
        """Fuse the line members with each page's character reading (:mod:`handocr.fusion`).

        The line crops of all pages go through each line member in one call (batched by
        width). A fused character without a lattice candidate has no piece: the pieces
        returned are those of the characters that have one.
        """
        from handocr.fusion import fuse_line, fused_page
        from handocr.linecrop import line_bands, line_crop

        o = self.options
        views = list(dict.fromkeys(v for _, _, v in self._line_readings()))
        crops: dict[str, list[Any]] = {v: [] for v in views}
        x0s: dict[str, list[int]] = {v: [] for v in views}
        for _, lev, found, _ in read:
            gray = lev.gray if lev.gray is not None else 255 - lev.ink
            boxes = [Box.enclosing([ls.lattice.pieces[c].box for c in ls.path]) for ls in found]
            for ls, box, band in zip(found, boxes, line_bands(boxes), strict=True):
                for v in views:
                    crop, x0 = line_crop(
                        gray, lev.ink, box, ls.lattice.height, band, v, alone=len(found) == 1
                    )
                    crops[v].append(crop)
                    x0s[v].append(x0)
        per_member, origin, keys = [], [], []
        for key, m, v in self._line_readings():  # a further view scores as a member of its own
            per_member.append(m.read(crops[v]))
            origin.append(x0s[v])
            keys.append(key)
        names = self._char_keys()
        weights = self.fusion_weights
        out = []
        n = 0
        for page, lev, found, _ in read:
            fused: list[tuple[list[Char], list[bool]]] = []
            pieces: list[Piece] = []
            for ls, line in zip(found, page.lines, strict=True):
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
                    probe=self._probe,
                )
                fused.append((chars, starts))
                pieces.extend(ls.lattice.pieces[c] for c in ls.path)
                n += 1
            out.append((fused_page(page, fused), pieces))
        return out

    def read_inputs(
        self,
        sources: Iterable[PageSource],
        *,
        errors: Literal["raise", "report"] = "raise",
        on_page: OnPage | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Iterator[InputResult]:
        """Read inputs one after the other, each into a document of its own.

        Pages of consecutive inputs share classification batches (:func:`batch_full`), only
        the pages of one batch are held in memory, and results come out in input order. PDF
        pages are rendered at ``options.dpi`` and only ``options.pages`` of multi-page inputs
        are read.

        Parameters
        ----------
        sources : iterable of PageSource
            Paths (``"-"`` for standard input), bytes, PIL images or arrays, one per input.
        errors : {"raise", "report"}, default "raise"
            ``raise``: the first error propagates. ``report``: an input that cannot be read
            (``BAD_INPUT``) gives a result with its error and the others are still read; an
            error of the models (weights, output) gives such a result for every input not yet
            finished and ends the loop: later inputs are not read.
        on_page : callable, optional
            ``on_page(page, image)`` with each page read and its gray image (overlays).
        progress : callable, optional
            ``progress(done, total)`` after each input (``total`` is 0 for an iterator).

        Yields
        ------
        InputResult
            One per input, in order.

        Raises
        ------
        HandocrError
            With ``errors="raise"``, any error of reading or recognition.
        OptionError
            ``errors`` is neither ``raise`` nor ``report``.
        """
        if errors not in ("raise", "report"):
            raise OptionError(f"errors must be raise or report, not {errors!r}")
        total = len(sources) if isinstance(sources, Sequence) else 0
        loop = _ReadLoop(self, on_page)
        done = 0

        def report(results: Iterator[InputResult]) -> Iterator[InputResult]:
            nonlocal done
            for result in results:
                done += 1
                if progress is not None:
                    progress(done, total)
                yield result

        for k, src in enumerate(sources):
            label = source_label(src, k)
            try:
                loop.start(k, label)
                o = self.options
                for loaded in iter_pages(src, pdf_dpi=o.dpi, pages=o.pages, first=k):
                    loop.add(k, loaded)
                loop.finish(k)
            except HandocrError as err:
                if errors == "raise":
                    raise
                loop.fail(k, err)
                if err.exit_code != ExitCode.BAD_INPUT:
                    break
            yield from report(loop.ready())
        try:
            loop.flush()
        except HandocrError as err:
            if errors == "raise":
                raise
            loop.fail_pending(err)
        yield from report(loop.ready(final=True))

    def read(
        self,
        source: PageSource | Sequence[PageSource],
        *,
        on_page: Callable[[Page], None] | None = None,
    ) -> Document:
        """Read every page of one or more sources into one document.

        Parameters
        ----------
        source : path, ndarray, or sequence of them
            See :func:`recognize`.
        on_page : callable, optional
            Called with each page as soon as it is read (progress reporting).

        Returns
        -------
        Document
            Pages numbered across all sources, in order.

        Raises
        ------
        InputImageError
            A path is missing or unreadable, or an array has the wrong shape or dtype.
        WeightsError, UnknownModelError
            The models could not be loaded.
        """
        hook = None if on_page is None else (lambda page, image: on_page(page))
        results = self.read_inputs(as_sources(source), on_page=hook)
        docs = [r.document for r in results if r.document is not None]
        return Document.concat(docs, self.loaded_models)


class _Models:
    """The loaded ensemble, held so that recognizers of the same models share one load."""

    __slots__ = ("ensemble", "fusion", "line_members", "verifier")

    def __init__(self) -> None:
        self.ensemble: Ensemble | None = None
        self.verifier: Verifier | None = None
        self.line_members: list[LineMember] | None = None
        self.fusion: dict[str | None, FusionWeights] = {}  # by charset


class _ReadLoop:
    """Book-keeping of :meth:`Recognizer.read_inputs`: a batch of pages, inputs in order."""

    def __init__(self, rec: Recognizer, on_page: OnPage | None) -> None:
        self.rec = rec
        self.on_page = on_page
        self.batch: list[tuple[int, int, LoadedPage]] = []  # (input, page number, page)
        self.held = 0
        self.pages: dict[int, list[Page]] = {}
        self.count: dict[int, int] = {}
        self.failed: dict[int, HandocrError] = {}
        self.queue: deque[tuple[int, str]] = deque()  # inputs not yet yielded, in order
        self.loaded: set[int] = set()  # inputs whose pages have all been seen

    def start(self, k: int, label: str) -> None:
        self.queue.append((k, label))
        self.pages[k], self.count[k] = [], 0

    def add(self, k: int, loaded: LoadedPage) -> None:
        self.batch.append((k, self.count[k], loaded))
        self.count[k] += 1
        self.held += int(loaded.image.size)
        if batch_full(self.held, len(self.batch)):
            self.flush()

    def finish(self, k: int) -> None:
        self.loaded.add(k)

    def fail(self, k: int, err: HandocrError) -> None:
        """Input ``k`` failed: drop its pages; a model error fails every unfinished input."""
        self.failed[k] = err
        self.loaded.add(k)
        if err.exit_code != ExitCode.BAD_INPUT:
            self.fail_pending(err)
            return
        self.batch = [item for item in self.batch if item[0] != k]
        self.held = sum(int(p.image.size) for _, _, p in self.batch)

    def fail_pending(self, err: HandocrError) -> None:
        """Fail every input with pages still to classify (a model error)."""
        pending = {k for k, _, _ in self.batch}
        for k, _ in self.queue:
            if k not in self.loaded or k in pending:
                self.failed.setdefault(k, err)
                self.loaded.add(k)
        self.batch, self.held = [], 0

    def flush(self) -> None:
        if not self.batch:
            return
        batch = self.batch
        done = self.rec.read_pages(
            [p.image for _, _, p in batch],
            indices=[i for _, i, _ in batch],
            sources=[p.source for _, _, p in batch],
        )
        # cleared only once read: on a model error the batch's inputs are still pending
        # (fail_pending fails them instead of reporting them read without their pages)
        self.batch, self.held = [], 0
        for (k, _, loaded), page in zip(batch, done, strict=True):
            self.pages[k].append(page)
            if self.on_page is not None:
                self.on_page(page, loaded.image)

    def ready(self, *, final: bool = False) -> Iterator[InputResult]:
        """Yield the finished inputs at the head of the queue (all of them when ``final``)."""
        pending = {k for k, _, _ in self.batch}
        while self.queue:
            k, label = self.queue[0]
            if k not in self.failed and (k not in self.loaded or (k in pending and not final)):
                return
            self.queue.popleft()
            pages = self.pages.pop(k)
            if k in self.failed:
                yield InputResult(k, label, error=self.failed.pop(k))
            else:
                yield InputResult(k, label, Document(tuple(pages), self.rec.loaded_models))


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


@functools.lru_cache(maxsize=4)
def _cached(options: ReadOptions) -> Recognizer:
    return Recognizer(options)


def recognize(source: PageSource | Sequence[PageSource], **options: Any) -> Document:
    """Read handprinted text from one or more page images.

    Parameters
    ----------
    source : path, ndarray, or sequence of them
        Pages in reading order: image files (PNG, JPEG, TIFF incl. multi-page, BMP, ...), PDF
        files (rendered at ``dpi``), their bytes, PIL images, or arrays ``(H, W)`` gray /
        ``(H, W, 3)`` BGR of dtype ``uint8``, 0 = black.
    **options
        Any field of :class:`handocr.options.ReadOptions` (``models``, ``charset``,
        ``letter_prior``, ``cascade``, ``dpi``, ``pages``, ...). Recognizers are cached per set
        of options, so repeated calls load the models once.

    Returns
    -------
    Document
        One ``Page`` per input page; boxes in that page's pixels (top-left origin),
        confidences as probabilities in [0, 1].

    Raises
    ------
    InputImageError
        A path is missing or unreadable, or an array has the wrong shape or dtype.
    OptionError
        An unknown option name or a bad value.
    WeightsError
        Weights for a requested model are missing, corrupt, or do not fit it.
    UnknownModelError
        A name in ``models`` is not registered.

    Examples
    --------
    >>> recognize(np.full((32, 32), 255, np.uint8)).text   # blank page: no crops, no model run
    ''
    """
    return _cached(ReadOptions.of(**options)).read(source)
