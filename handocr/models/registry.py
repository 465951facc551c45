"""Model registry: ``register_model``, ``create_model``, ``list_models`` (after timm)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from handocr.errors import UnknownModelError

if TYPE_CHECKING:
    from torch import nn

__all__ = ["ModelSpec", "create_model", "list_models", "model_spec", "register_model", "split_name"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A registered architecture.

    Attributes
    ----------
    name : str
        Lower-case registry name, as used on the command line (``--arch cnn``).
    build : callable
        ``build(num_classes=47) -> nn.Module``, mapping ``(N, 1, 28, 28)`` float32 crops to
        ``(N, C)`` logits.
    input_size : tuple of int
        ``(channels, height, width)`` of one input crop.
    """

    name: str
    build: Callable[..., nn.Module]
    input_size: tuple[int, int, int]


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(
    name: str, *, input_size: tuple[int, int, int] = (1, 28, 28)
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register an architecture builder under ``name``.

    Raises
    ------
    ValueError
        ``name`` is already registered, or is not lower-case.
    """

    def deco(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is already registered")
        if name != name.lower() or "." in name:
            raise ValueError(f"model names are lower-case without dots: {name!r}")
        _REGISTRY[name] = ModelSpec(name, fn, input_size)
        return fn

    return deco


def _ensure_builtin() -> None:
    # Importing the member modules registers them.
    from handocr.models import cnn, resnet  # noqa: F401


def list_models() -> list[str]:
    """Return the registered architecture names, sorted."""
    _ensure_builtin()
    return sorted(_REGISTRY)


def split_name(name: str) -> tuple[str, str | None]:
    """Split ``"arch.tag"`` into ``("arch", "tag")``; a bare ``"arch"`` gives ``("arch", None)``."""
    arch, _, tag = name.partition(".")
    return arch, (tag or None)


def model_spec(arch: str) -> ModelSpec:
    """Return the spec of a registered architecture.

    Any timm ResNet name, optionally with a stem suffix (``resnet34``, ``resnet18-imagenet``,
    see :mod:`handocr.models.resnet`), resolves without registration; whether timm knows it is
    checked when the model is built.

    Raises
    ------
    UnknownModelError
        ``arch`` is not registered and not a ResNet name; the message lists close matches.
    """
    _ensure_builtin()
    if arch in _REGISTRY:
        return _REGISTRY[arch]
    from handocr.models.resnet import parse_resnet_name, timm_resnet

    parsed = parse_resnet_name(arch)
    if parsed is None:
        raise UnknownModelError(arch, _REGISTRY)
    timm_name, stem = parsed
    return ModelSpec(arch, functools.partial(timm_resnet, timm_name, stem), (1, 28, 28))


def macs_per_crop(net: nn.Module, input_size: tuple[int, int, int] = (1, 28, 28)) -> int:
    """Multiply-accumulate operations of one forward pass on one crop.

    Counted by ``torch.utils.flop_counter.FlopCounterMode`` (FLOPs / 2: convolutions and
    matrix products; element-wise ops, pooling and batch norm are not counted, as is usual).

    Parameters
    ----------
    net : torch.nn.Module
        Any member; put in eval mode for the count.
    input_size : tuple of int
        ``(channels, height, width)`` of one crop.

    Returns
    -------
    int
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        net.eval()(torch.zeros(1, *input_size))
    return int(counter.get_total_flops()) // 2


def create_model(
    name: str, *, weights: str | None = "default", device: str = "cpu", **kwargs: Any
) -> nn.Module:
    """Build a registered model, optionally load shipped weights, and return it in ``eval()`` mode.

    Parameters
    ----------
    name : str
        ``"arch"`` or ``"arch.tag"``, e.g. ``"cnn"`` or ``"cnn.emnist47-v1"``.
    weights : {"default", None}
        ``"default"`` loads the shipped weights for ``name`` (the tag, or the manifest's default
        tag for the arch); ``None`` leaves the weights randomly initialised.
    device : str
        A torch device string (``"cpu"``, ``"cuda"``, ``"cuda:1"``).
    **kwargs
        Passed to the builder (e.g. ``num_classes``).

    Returns
    -------
    torch.nn.Module
        Maps ``(N, 1, 28, 28) float32`` to ``(N, num_classes) float32`` logits.

    Raises
    ------
    UnknownModelError
        The architecture is not registered.
    WeightsError
        Shipped weights are missing, corrupt or do not fit.
    """
    arch, tag = split_name(name)
    spec = model_spec(arch)
    net = spec.build(**kwargs)
    if weights is not None:
        from handocr.models.weights import find_weights, load_weights

        load_weights(net, find_weights(arch, tag))
    return net.to(device).eval()
