"""The model registry itself: ``register_model`` and the table it fills (after timm).

This module imports nothing of the members: :mod:`handocr.models.cnn` and
:mod:`handocr.models.resnet` register themselves here when imported, and
:mod:`handocr.models.factory` (``list_models``, ``model_spec``, ``create_model``) imports them,
so the dependencies point one way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from handocr.crops import INPUT_SHAPE

if TYPE_CHECKING:
    from torch import nn

__all__ = ["REGISTRY", "ModelSpec", "register_model"]


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A registered architecture.

    Attributes
    ----------
    name : str
        Lower-case registry name, as used on the command line (``--arch cnn``).
    build : callable
        ``build(num_classes=47) -> nn.Module``, mapping ``(N, *input_size)`` float32 crops to
        ``(N, C)`` logits.
    input_size : tuple of int
        ``(channels, height, width)`` of one input crop (:data:`handocr.crops.INPUT_SHAPE`).
    """

    name: str
    build: Callable[..., nn.Module]
    input_size: tuple[int, int, int] = INPUT_SHAPE


_REGISTRY: dict[str, ModelSpec] = {}
REGISTRY: Mapping[str, ModelSpec] = MappingProxyType(_REGISTRY)
"""Read-only view of the registered architectures, by name."""


def register_model(
    name: str, *, input_size: tuple[int, int, int] = INPUT_SHAPE
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register an architecture builder under ``name``.

    Raises
    ------
    ValueError
        ``name`` is already registered, or is not lower-case without dots.
    """

    def deco(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is already registered")
        if name != name.lower() or "." in name:
            raise ValueError(f"model names are lower-case without dots: {name!r}")
        _REGISTRY[name] = ModelSpec(name, fn, input_size)
        return fn

    return deco
