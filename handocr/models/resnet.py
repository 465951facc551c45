"""timm ResNets adapted to one-channel 28x28 crops.

Any timm ResNet (``resnet10t``, ``resnet18``, ``resnet34``, ...) becomes a member: ``in_chans=1``
and a stem suited to 28x28 input. The stem sets the CPU cost (docs/results.md, stem table):

``small`` (default, bare name, e.g. ``resnet10t``)
    3x3 stride-1 convolution to 64 channels, then the max-pool: the first stage sees 14x14.
``imagenet`` (suffix ``-imagenet``)
    timm's own stem (7x7 stride 2, or the deep 3x3 stem of the ``t`` variants) and max-pool:
    7x7 after the stem, about 2.8x cheaper (19.7 against 55.5 MMAC per crop for ResNet-10-T,
    ``benchmarks/stems.py``), less accurate.
``nopool`` (suffix ``-nopool``)
    3x3 stride-1 convolution, no max-pool: the first stage sees 28x28, about 4x the cost of
    ``small``.
"""

from __future__ import annotations

import difflib
import re
from typing import TYPE_CHECKING

from handocr.errors import UnknownModelError
from handocr.labels import NUM_CLASSES
from handocr.models.registry import register_model

if TYPE_CHECKING:
    from torch import nn

__all__ = ["STEMS", "parse_resnet_name", "timm_resnet"]

STEMS = ("small", "imagenet", "nopool")
_NAME = re.compile(r"^(resnet[0-9a-z_]*?)(?:-(imagenet|nopool))?$")


def parse_resnet_name(name: str) -> tuple[str, str] | None:
    """Split a member name such as ``"resnet18-imagenet"`` into ``("resnet18", "imagenet")``.

    Returns ``None`` when ``name`` is not of the form ``resnet<variant>[-imagenet|-nopool]``.
    """
    m = _NAME.match(name)
    if m is None:
        return None
    return m.group(1), m.group(2) or "small"


def timm_resnet(
    timm_name: str, stem: str = "small", *, num_classes: int = NUM_CLASSES
) -> nn.Module:
    """Build a timm ResNet for ``(N, 1, 28, 28)`` crops with one of :data:`STEMS`.

    Parameters
    ----------
    timm_name : str
        A timm ResNet architecture, e.g. ``"resnet18"`` (He et al. 2016) or ``"resnet10t"``
        (timm's ResNet-10-T, a tiered deep stem and average-pool downsampling).
    stem : {"small", "imagenet", "nopool"}
    num_classes : int

    Returns
    -------
    torch.nn.Module
        Maps ``(N, 1, 28, 28)`` float32 to ``(N, num_classes)`` logits; randomly initialised.

    Raises
    ------
    UnknownModelError
        timm has no ResNet called ``timm_name``, or ``stem`` is unknown.
    """
    import timm  # heavy; imported only when a ResNet member is built
    from timm.models.resnet import ResNet
    from torch import nn

    if stem not in STEMS:
        raise UnknownModelError(f"{timm_name}-{stem}", [f"{timm_name}-{s}" for s in STEMS])
    try:
        net = timm.create_model(timm_name, pretrained=False, in_chans=1, num_classes=num_classes)
    except RuntimeError:  # timm: "Unknown model"
        net = None
    if not isinstance(net, ResNet):
        close = difflib.get_close_matches(timm_name, timm.list_models("resnet*"), n=5)
        raise UnknownModelError(timm_name, close)
    if stem != "imagenet":
        width: int = net.bn1.num_features  # type: ignore[assignment]
        stem_conv = nn.Conv2d(1, width, kernel_size=3, stride=1, padding=1, bias=False)
        net.conv1 = stem_conv  # type: ignore[assignment]  # a Sequential in the "t" variants
    if stem == "nopool":
        net.maxpool = nn.Identity()  # type: ignore[assignment]
    return net


@register_model("resnet10t")
def resnet10t(*, num_classes: int = NUM_CLASSES) -> nn.Module:
    """Build timm's ResNet-10-T with the ``small`` stem (14x14 into stage 1); 4.9 M parameters."""
    return timm_resnet("resnet10t", "small", num_classes=num_classes)


@register_model("resnet18")
def resnet18(*, num_classes: int = NUM_CLASSES) -> nn.Module:
    """Build ResNet-18 (He et al. 2016) with the ``small`` stem; 11.2 M parameters."""
    return timm_resnet("resnet18", "small", num_classes=num_classes)
