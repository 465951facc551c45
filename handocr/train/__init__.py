"""Training subpackage: EMNIST IDX data, augmentation, the fit loop and weight export.

Never imported by ``handocr/__init__``: inference does not need it.
"""

from __future__ import annotations

from handocr.train.data import EmnistSplit, load_emnist, resolve_data_dir

__all__ = ["EmnistSplit", "load_emnist", "resolve_data_dir"]
