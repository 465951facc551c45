"""The one read loop: inputs in, a :class:`~handocr.api.PageRecord` per page out.

:func:`stream_pages` is :meth:`handocr.api.Recognizer.stream`'s body. It loads the pages of
each input in turn (:func:`handocr.io.iter_pages`), gathers them into batches of bounded size
(:func:`batch_full`) that :meth:`~handocr.api.Recognizer.read_images` reads
together, and yields the records in input order as soon as the pages before them are done.
A page that cannot be loaded is an error record; a model error fails every page waiting in the
batch and ends the stream.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from handocr.errors import HandocrError
from handocr.io import PageSource, iter_pages, source_label

if TYPE_CHECKING:
    from handocr.api import Recognizer
    from handocr.options import ReadOptions
    from handocr.result import Page
    from handocr.segment.components import Piece

__all__ = [
    "BATCH_PAGES",
    "BATCH_PIXELS",
    "PageRecord",
    "batch_full",
    "load_records",
    "stream_pages",
]

BATCH_PIXELS = 4_000_000
"""Pages are gathered for one shared classification until they hold this many pixels (about
half an A4 page at 300 dpi), so small field images share batches and big pages go alone."""

BATCH_PAGES = 64
"""At most this many pages share one classification."""


def batch_full(pixels_held: int, pages_held: int, *, pixels: int = BATCH_PIXELS) -> bool:
    """Whether a batch of pages is complete (:data:`BATCH_PIXELS`, :data:`BATCH_PAGES`).

    Examples
    --------
    >>> batch_full(4_000_000, 1), batch_full(10, 64), batch_full(10, 3)
    (True, True, False)
    """
    return pixels_held >= pixels or pages_held >= BATCH_PAGES


@dataclass(frozen=True, slots=True)
class PageRecord:
    """One page of the page stream (:meth:`Recognizer.stream`): its reading or its error.

    Attributes
    ----------
    input : int
        Position of the page's input among those given (0-based).
    source : str
        The input as a label: its path, ``"-"`` for standard input, ``"array 2"``, ...
    number : int
        The page's own 1-based number within its input (kept under a page selection); for an
        error, the page it stopped on; 0 for an input none of whose pages was selected.
    page : Page or None
        The reading (``index`` 0: a position is given when pages are grouped into a
        document); None for an error.
    error : HandocrError or None
        Why the page (or the input from this page on) could not be read.
    image : ndarray of uint8, shape (H, W), or None
        The gray page as read, when asked for (``images=True``).
    pieces : tuple of Piece or None
        The candidates read, in reading order, when asked for (``pieces=True``).
    """

    input: int
    source: str
    number: int
    page: Page | None = None
    error: HandocrError | None = None
    image: NDArray[np.uint8] | None = None
    pieces: tuple[Piece, ...] | None = None

    @property
    def ok(self) -> bool:
        """Whether the page was read."""
        return self.error is None

    def unwrap(self) -> Page:
        """Return the page read.

        Raises
        ------
        HandocrError
            The record's error.
        ValueError
            The record holds neither page nor error (an input with no page selected).
        """
        if self.error is not None:
            raise self.error
        if self.page is None:
            raise ValueError(f"{self.source}: no page was selected")
        return self.page


@dataclass(slots=True)
class _Slot:
    """A page (or an error) waiting for its turn to be yielded."""

    record: PageRecord
    image: NDArray[np.uint8] | None = None  # set while the page waits to be read
    name: str | None = None  # the page's source in its result ("scan.pdf#2")
    last: bool = False  # the input's last record


class _Stream:
    """The queue of records in order and the batch of pages waiting to be read."""

    def __init__(self, rec: Recognizer, images: bool, pieces: bool) -> None:
        self.rec = rec
        self.images = images
        self.pieces = pieces
        self.queue: deque[_Slot] = deque()
        self.batch: list[_Slot] = []
        self.held = 0

    def add(self, slot: _Slot) -> None:
        self.queue.append(slot)
        if slot.image is not None:
            self.batch.append(slot)
            self.held += int(slot.image.size)

    def flush_if_full(self, *, force: bool = False) -> HandocrError | None:
        """Read the batch when it is full (or ``force``); return a model error, not raise it.

        On a model error the pages that waited are failed with it (:meth:`fail_pending`).
        """
        if not force and not batch_full(self.held, len(self.batch)):
            return None
        try:
            self.flush()
        except HandocrError as err:
            self.fail_pending(err)
            return err
        return None

    def flush(self) -> None:
        """Read the batch's pages; a model error propagates and leaves the batch pending."""
        if not self.batch:
            return
        batch = self.batch
        read = self.rec.read_images(
            [s.image for s in batch],  # type: ignore[misc]
            numbers=[s.record.number for s in batch],
            sources=[s.name for s in batch],
        )
        self.batch, self.held = [], 0
        for slot, done in zip(batch, read, strict=True):
            slot.record = replace(
                done,
                input=slot.record.input,
                source=slot.record.source,
                image=slot.image if self.images else None,
                pieces=done.pieces if self.pieces else None,
            )
            slot.image = None

    def fail_pending(self, err: HandocrError) -> None:
        """Fail every page still waiting to be read with ``err`` (a model error)."""
        for slot in self.batch:
            slot.record = replace(slot.record, error=err)
            slot.image = None
        self.batch, self.held = [], 0

    def ready(self) -> Iterator[_Slot]:
        """Yield the slots at the head of the queue whose pages are done."""
        waiting = {id(s) for s in self.batch}
        while self.queue and id(self.queue[0]) not in waiting:
            yield self.queue.popleft()


def load_records(
    sources: Iterable[PageSource],
    options: ReadOptions,
    *,
    raise_errors: bool,
    skip: Collection[int] = (),
) -> Iterator[tuple[PageRecord, str | None, bool]]:
    """Load the pages of ``sources`` in order: the loading half of the read loop.

    Parameters
    ----------
    sources : iterable of PageSource
    options : ReadOptions
        Its ``dpi`` (PDF rendering) and ``pages`` (page selection).
    raise_errors : bool
        Propagate a loading error instead of yielding it as a record.
    skip : collection of int
        Page numbers left out of every input (pages an earlier run has read).

    Yields
    ------
    (PageRecord, str or None, bool)
        The page's record with its ``image`` (no reading yet), or an error record at the
        number of the page it stopped on, or a record with ``number`` 0 for an input none of
        whose pages was selected; the page's source label (``"scan.pdf#2"``); and whether it
        is the input's last record. One page is loaded ahead of the one yielded.

    Raises
    ------
    HandocrError
        With ``raise_errors``, an input or page that cannot be loaded.
    """
    for k, src in enumerate(sources):
        label = source_label(src, k)
        held: tuple[PageRecord, str | None] | None = None
        number = 0
        try:
            for loaded in iter_pages(src, pdf_dpi=options.dpi, pages=options.pages, first=k):
                if loaded.number in skip:
                    number = loaded.number
                    continue
                if held is not None:
                    yield (*held, False)
                number = loaded.number
                held = (PageRecord(k, label, number, image=loaded.image), loaded.source)
        except HandocrError as err:
            if raise_errors:
                raise
            if held is not None:
                yield (*held, False)
            yield PageRecord(k, label, number + 1, error=err), None, True
            continue
        yield (*held, True) if held is not None else (PageRecord(k, label, 0), None, True)


def stream_pages(
    rec: Recognizer,
    sources: Iterable[PageSource],
    *,
    raise_errors: bool,
    images: bool = False,
    pieces: bool = False,
    skip: Collection[int] = (),
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[PageRecord]:
    """Yield a record per page of ``sources``, read with ``rec`` (see :meth:`Recognizer.stream`).

    Parameters
    ----------
    rec : Recognizer
    sources : iterable of PageSource
    raise_errors : bool
        Propagate the first error instead of yielding it as a record.
    images, pieces : bool
        Keep each page's gray image / its pieces in its record.
    skip : collection of int
        Page numbers not read in any input (:func:`load_records`).
    progress : callable, optional
        ``progress(done, total)`` after each input's last record.

    Yields
    ------
    PageRecord

    Raises
    ------
    HandocrError
        With ``raise_errors``, any error of reading or recognition.
    """
    total = len(sources) if isinstance(sources, Sequence) else 0
    done = 0
    st = _Stream(rec, images, pieces)

    def emit() -> Iterator[PageRecord]:
        nonlocal done
        for slot in st.ready():
            yield slot.record
            if slot.last:
                done += 1
                if progress is not None:
                    progress(done, total)

    failed = None
    for record, name, last in load_records(
        sources, rec.options, raise_errors=raise_errors, skip=skip
    ):
        image = record.image
        st.add(_Slot(replace(record, image=None), image, name, last))
        failed = st.flush_if_full()
        if failed is not None:
            break
        yield from emit()  # pages read so far leave at once: memory holds about one batch
    if failed is None:
        failed = st.flush_if_full(force=True)
    if failed is not None and raise_errors:
        raise failed
    yield from emit()
