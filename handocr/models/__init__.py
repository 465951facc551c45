"""Classifier members: registry, CNN, timm ResNets, weights, manifest, ONNX Runtime sessions.

``list_models``, ``create_model`` and ``register_model`` are importable from here; the members
(and torch) are imported only when one of the first two is first used, so reading with ONNX
Runtime, which needs only :mod:`handocr.models.manifest` and :mod:`handocr.models.runtime`,
never imports torch.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_model", "list_models", "register_model"]


def __getattr__(name: str) -> Any:
    if name in ("create_model", "list_models"):
        from handocr.models import factory

        return getattr(factory, name)
    if name == "register_model":
        from handocr.models.registry import register_model

        return register_model
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
