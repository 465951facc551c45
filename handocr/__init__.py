"""handocr: read handprinted block letters and digits from scanned pages.

>>> from handocr import recognize
>>> doc = recognize("docs/examples/hsf_w4164_fullpage.png")  # doctest: +SKIP
>>> print(doc.text)  # doctest: +SKIP
"""

from __future__ import annotations

import logging

from handocr.api import Recognizer, recognize
from handocr.errors import (
    DataError,
    ExitCode,
    HandocrError,
    InputImageError,
    ModelOutputError,
    UnknownModelError,
    WeightsError,
)
from handocr.result import Box, Char, Document, Line, ModelInfo, Page, Word

__version__ = "0.1.0"

__all__ = [
    "Box",
    "Char",
    "DataError",
    "Document",
    "ExitCode",
    "HandocrError",
    "InputImageError",
    "Line",
    "ModelInfo",
    "ModelOutputError",
    "Page",
    "Recognizer",
    "UnknownModelError",
    "WeightsError",
    "Word",
    "__version__",
    "recognize",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
