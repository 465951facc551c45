"""Building members by name: ``list_models``, ``model_spec``, ``create_model``, ``macs_per_crop``.

Importing this module registers the built-in members (:mod:`handocr.models.cnn`,
:mod:`handocr.models.resnet`); torch is imported only when a model is built.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any

from handocr.crops import INPUT_SHAPE
from handocr.errors import UnknownModelError
from handocr.models import cnn as _cnn  # noqa: F401 - registers "cnn"
from handocr.models import resnet as _resnet
from handocr.models.manifest import split_name
from handocr.models.registry import REGISTRY, ModelSpec

if TYPE_CHECKING:
    from torch import nn

__all__ = ["create_model", "list_models", "macs_per_crop", "model_spec"]

log = logging.getLogger(__name__)


def list_models() -> list[str]:
    """Return the registered architecture names, sorted."""
    return sorted(REGISTRY)


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
    if arch in REGISTRY:
        return REGISTRY[arch]
    parsed = _resnet.parse_resnet_name(arch)
    if parsed is None:
        raise UnknownModelError(arch, REGISTRY)
    timm_name, stem = parsed
    return ModelSpec(arch, functools.partial(_resnet.timm_resnet, timm_name, stem), INPUT_SHAPE)


def macs_per_crop(net: nn.Module, input_size: tuple[int, int, int] = INPUT_SHAPE) -> int:
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
