"""handocr: read handprinted block letters and digits from scanned pages.

>>> from handocr import recognize
>>> doc = recognize("docs/examples/hsf_w4164_fullpage.png")  # doctest: +SKIP
>>> print(doc.text)  # doctest: +SKIP
"""

from __future__ import annotations

import logging

from handocr.api import InputResult, PageRecord, Recognizer, recognize
from handocr.errors import (
    BatchStalledError,
    DataError,
    ExitCode,
    HandocrError,
    InputImageError,
    ModelOutputError,
    OptionError,
    OutputError,
    UnknownModelError,
    WeightsError,
)
from handocr.labels import Charset
from handocr.options import ReadOptions
from handocr.result import Block, Box, Char, Document, Line, ModelInfo, Page, Word, page_blocks
from handocr.segment.config import SegmentConfig
from handocr.version import __version__

__all__ = [
    "BatchStalledError",
    "Block",
    "Box",
    "Char",
    "Charset",
    "DataError",
    "Document",
    "ExitCode",
    "HandocrError",
    "InputImageError",
    "InputResult",
    "Line",
    "ModelInfo",
    "ModelOutputError",
    "OptionError",
    "OutputError",
    "Page",
    "PageRecord",
    "ReadOptions",
    "Recognizer",
    "SegmentConfig",
    "UnknownModelError",
    "WeightsError",
    "Word",
    "__version__",
    "page_blocks",
    "recognize",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
