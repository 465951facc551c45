"""The public entry points: :func:`recognize`, :class:`Recognizer` and its page stream.

The :class:`Recognizer` holds the models and the options; the stages themselves are
:mod:`handocr.pipeline`'s (clean, segment, classify, search, decode, fuse). There is one read
loop: :meth:`Recognizer.stream` (:mod:`handocr.pagestream`) reads inputs (files, PDFs, bytes,
arrays) page by page, batches the candidates of small pages together, keeps inputs in order and
reports a failing page as a record with its error instead of stopping. Everything that reads
pages goes through it: :meth:`Recognizer.read_inputs` groups its records per input (the command
line, ``eval-pages``, the service), and batch jobs, form templates and training on real scans
consume the records directly. :meth:`Recognizer.read_images` is the one entry point for pages
already in memory.
"""

from __future__ import annotations

import functools
import itertools
import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np
from numpy.typing import NDArray

from handocr.errors import HandocrError, OptionError
from handocr.io import PageSource, as_sources
from handocr.options import ReadOptions
from handocr.pagestream import PageRecord
from handocr.result import Document, ModelInfo, Page

if TYPE_CHECKING:
    from handocr.comb_net import CombNet
    from handocr.confidence import ExactModel
    from handocr.ensemble import Ensemble
    from handocr.fusion import FusionWeights
    from handocr.kind import KindClassifier
    from handocr.lexicon import Lexicon, LexiconWeights
    from handocr.models.line import LineMember
    from handocr.segment.components import Piece
    from handocr.segment.verifier import Verifier

__all__ = [
    "InputResult",
    "PageRecord",
    "Recognizer",
    "recognize",
]

T = TypeVar("T")

log = logging.getLogger(__name__)

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
    images : tuple of bytes or None
        Each page's gray image as PNG, in the order of ``document.pages``, when asked for
        (:meth:`Recognizer.read_inputs` ``images=True``: the searchable PDF embeds them).
    """

    index: int
    source: str
    document: Document | None = None
    error: HandocrError | None = None
    images: tuple[bytes, ...] | None = None

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
        self.probe: Callable[[Any], None] | None = None
        """Called with each line's candidate readings when set (``handocr fit-fusion``)."""

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
        other.probe = self.probe
        if not self.options.models_differ(other.options):
            other._models = self._models
        return other

    @property
    def ensemble(self) -> Ensemble:
        """The loaded ensemble (loads it on first access).

        Raises
        ------
        WeightsError, UnknownModelError, OptionError
            As :meth:`handocr.ensemble.Ensemble.from_config`.
        """
        if self._models.ensemble is None:
            from handocr.ensemble import Ensemble

            self._models.ensemble = Ensemble.from_config(self.options.model)
        return self._models.ensemble

    @property
    def verifier(self) -> Verifier | None:
        """The segmentation search's "one character" model (loads it on first access).

        The manifest's ``verifier`` (``verifier.safetensors``, fitted for the shipped ensemble
        by ``handocr fit-verifier``), checked by sha256
        (:func:`handocr.models.loader.load_verifier`); None when the manifest lists none (the
        search is then skipped and the layout's glyphs stand).

        Raises
        ------
        WeightsError
            The listed file is missing, was replaced (sha256 mismatch) or cannot be read.
        """
        if self._models.verifier is None:
            from handocr.models.loader import load_verifier

            self._models.verifier = load_verifier(self.options.models)
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
        return [key for key, _, _ in self.line_readings()]

    def line_readings(self) -> list[tuple[str, LineMember, str]]:
        """Return ``(key, member, view)`` of each line reading the fusion's weights use.

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
    def comb_net(self) -> CombNet | None:
        """The comb-cell network (:mod:`handocr.comb_net`), loaded on first access.

        None when the weights folder has none (comb cells are then read by the character
        ensemble alone).

        Raises
        ------
        WeightsError
            Its record is unreadable or its graph fails its checksum.
        """
        from handocr.comb_net import load_comb_net

        return self._models.optional_model("comb", load_comb_net)

    @property
    def exact_model(self) -> ExactModel | None:
        """The calibrated word and line confidence (:mod:`handocr.confidence`), loaded once.

        None when the weights folder has none (confidences are then character means).

        Raises
        ------
        WeightsError
            The file is unreadable or fails its checksum.
        """
        from handocr.confidence import load_exact_model

        return self._models.optional_model("exact", load_exact_model)

    @property
    def lexicon(self) -> tuple[Lexicon, LexiconWeights] | None:
        """The lexicon of ``options.lexicon`` and its fitted weights, loaded once; None: none.

        Raises ``OptionError`` when it is neither shipped nor a readable word list.
        """
        from handocr.lexicon import load_lexicon, load_lexicon_weights

        spec = self.options.decode.lexicon
        if spec is None:
            return None
        lex = self._models.optional_model(f"lexicon {spec}", lambda: load_lexicon(spec))
        return lex, self._models.optional_model("lexicon weights", load_lexicon_weights)

    @property
    def kind_classifier(self) -> KindClassifier | None:
        """The printed-or-handwritten word classifier (loads it on first access).

        ``kind.json`` of the weights folder (:func:`handocr.kind.load_kind_classifier`); None
        when the folder has none (every word then reads as handwritten).

        Raises
        ------
        WeightsError
            The file exists but is unreadable or fails its checksum.
        """
        if self._models.kind is None:
            from handocr.kind import KIND_FILE, load_kind_classifier
            from handocr.models.manifest import weights_dir

            if not (weights_dir() / KIND_FILE).is_file():
                log.debug("no %s: every word reads as handwritten", KIND_FILE)
                return None
            self._models.kind = load_kind_classifier()
        return self._models.kind

    @property
    def loaded_models(self) -> tuple[ModelInfo, ...]:
        """Name, tag and sha256 of the loaded members: character members, then line members.

        ``()`` before any model ran.
        """
        ens = self._models.ensemble
        lines = self._models.line_members or []
        return (*(ens.models if ens is not None else ()), *(m.info for m in lines))

    def char_keys(self) -> list[str]:
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

    def read_images(
        self,
        images: Sequence[NDArray[np.uint8]],
        *,
        numbers: Sequence[int] | None = None,
        sources: Sequence[str | None] | None = None,
    ) -> list[PageRecord]:
        """Read gray pages held in memory, classifying all their characters in shared batches.

        The array-level entry point (:meth:`stream` reads files through it). Binarisation and
        segmentation run page by page; the character candidates of all pages go through the
        ensemble together (:func:`handocr.pipeline.read_images`). The result equals reading
        each page on its own.

        Parameters
        ----------
        images : sequence of ndarray of uint8, shape (H, W)
            Gray pages, 0 = black (either polarity is accepted).
        numbers : sequence of int, optional
            Each page's own 1-based number in its input; default 1, 2, 3, ...
        sources : sequence of str or None, optional
            Where each page came from, recorded in the results.

        Returns
        -------
        list of PageRecord
            One per image, in order (``input`` 0, the page's ``index`` 0), each with its
            ``page`` and the ``pieces`` read: one per character (``page.lines -> words ->
            chars``) when read without line members (``line_models=()``, as training does);
            with them, the pieces of the chosen segmentation, which a fused reading may leave
            out or add characters to.

        Raises
        ------
        ValueError
            ``numbers`` or ``sources`` has a length other than ``images``.
        WeightsError, UnknownModelError, ModelOutputError
            As :meth:`classify`.
        """
        from handocr.pipeline import read_images

        numbers = list(range(1, len(images) + 1)) if numbers is None else list(numbers)
        sources = [None] * len(images) if sources is None else list(sources)
        if not len(numbers) == len(sources) == len(images):
            raise ValueError("need one number and one source per image")
        read = read_images(self, images, numbers, sources)
        return [
            PageRecord(0, src or "", page.number, page, pieces=tuple(pieces))
            for (page, pieces), src in zip(read, sources, strict=True)
        ]

    def stream(
        self,
        sources: Iterable[PageSource],
        *,
        errors: Literal["raise", "report"] = "raise",
        images: bool = False,
        pieces: bool = False,
        skip: Collection[int] = (),
        progress: Callable[[int, int], None] | None = None,
    ) -> Iterator[PageRecord]:
        """Read inputs page by page: the one read loop, a record per page.

        Pages of consecutive inputs share classification batches
        (:func:`handocr.pagestream.batch_full`) and only the pages of one batch are held in
        memory; records come out in input order, pages in order. PDF pages are rendered at
        ``options.dpi`` and only ``options.pages`` of multi-page inputs are read.

        Parameters
        ----------
        sources : iterable of PageSource
            Paths (``"-"`` for standard input), bytes, PIL images or arrays, one per input.
        errors : {"raise", "report"}, default "raise"
            ``raise``: the first error propagates. ``report``: a page or input that cannot be
            read (``BAD_INPUT``) gives a record with its error (at the number of the page it
            stopped on; the pages before it are still read) and later inputs are still read;
            an error of the models (weights, output) gives an error record for every page
            waiting to be classified and ends the stream: later inputs are not read.
        images : bool
            Keep each page's gray image in its record (overlays, PDF output).
        pieces : bool
            Keep the pieces (boxes with their ink) read on each page (training on scans).
        skip : collection of int
            Page numbers not to read in any input (a batch resumed: pages already written).
        progress : callable, optional
            ``progress(done, total)`` after each input (``total`` is 0 for an iterator).

        Yields
        ------
        PageRecord
            One per page read or failed; an input none of whose pages is selected gives one
            record with ``number`` 0 and neither page nor error.

        Raises
        ------
        HandocrError
            With ``errors="raise"``, any error of reading or recognition.
        OptionError
            ``errors`` is neither ``raise`` nor ``report``.
        """
        from handocr.pagestream import stream_pages

        if errors not in ("raise", "report"):
            raise OptionError(f"errors must be raise or report, not {errors!r}")
        return stream_pages(
            self, sources, raise_errors=errors == "raise", images=images, pieces=pieces,
            skip=skip, progress=progress,
        )  # fmt: skip

    def read_inputs(
        self,
        sources: Iterable[PageSource],
        *,
        errors: Literal["raise", "report"] = "raise",
        on_page: OnPage | None = None,
        images: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> Iterator[InputResult]:
        """Read inputs one after the other, each into a document of its own.

        :meth:`stream`'s records grouped by input: an input with an error record is one result
        with that error (its pages are dropped); the others are documents whose pages are
        numbered 0, 1, ... (``Page.index``) and keep their own ``Page.number``.

        Parameters
        ----------
        sources : iterable of PageSource
            As :meth:`stream`.
        errors : {"raise", "report"}, default "raise"
            As :meth:`stream`.
        on_page : callable, optional
            ``on_page(page, image)`` with each page read and its gray image (overlays).
        images : bool
            Keep each page's image, PNG-encoded as it is read, in :attr:`InputResult.images`
            (for the formats that embed them, :attr:`handocr.formats.Format.needs_images`).
        progress : callable, optional
            ``progress(done, total)`` after each input (``total`` is 0 for an iterator).

        Yields
        ------
        InputResult
            One per input, in order.

        Raises
        ------
        HandocrError, OptionError
            As :meth:`stream`.
        """
        from handocr.formats.pdf import encode_page_image

        keep = images or on_page is not None
        records = self.stream(sources, errors=errors, images=keep, progress=progress)
        for k, group in itertools.groupby(records, key=lambda r: r.input):
            pages: list[Page] = []
            pngs: list[bytes] = []
            label, error = "", None
            for record in group:
                label = record.source
                if record.error is not None:
                    error = error or record.error
                elif record.page is not None:
                    page = replace(record.page, index=len(pages))
                    pages.append(page)
                    if on_page is not None and record.image is not None:
                        on_page(page, record.image)
                    if images and record.image is not None:
                        pngs.append(encode_page_image(record.image))
            if error is not None:
                yield InputResult(k, label, error=error)
            else:
                doc = Document(tuple(pages), self.loaded_models)
                yield InputResult(k, label, doc, images=tuple(pngs) if images else None)

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

    __slots__ = ("ensemble", "fusion", "kind", "line_members", "optional", "verifier")

    def __init__(self) -> None:
        self.ensemble: Ensemble | None = None
        self.verifier: Verifier | None = None
        self.line_members: list[LineMember] | None = None
        self.fusion: dict[str | None, FusionWeights] = {}  # by charset
        self.kind: KindClassifier | None = None
        self.optional: dict[str, Any] = {}  # models a weights folder may lack: None when absent

    def optional_model(self, name: str, load: Callable[[], Any]) -> Any:
        """Return the model ``name``, loading it once with ``load`` (None stays None)."""
        if name not in self.optional:
            self.optional[name] = load()
        return self.optional[name]


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
