"""The installed version of handocr, from the package metadata (:mod:`importlib.metadata`)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__: str = version("handocr")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
