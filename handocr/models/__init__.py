"""Classifier members: the registry, the custom CNN, timm ResNets, and weight I/O."""

from __future__ import annotations

from handocr.models.registry import create_model, list_models, register_model

__all__ = ["create_model", "list_models", "register_model"]
