"""timm ResNets adapted to one-channel 28x28 crops."""

from __future__ import annotations

from torch import nn

from handocr.labels import NUM_CLASSES
from handocr.models.registry import register_model

__all__ = ["resnet18"]


@register_model("resnet18", input_size=(1, 28, 28))
def resnet18(*, num_classes: int = NUM_CLASSES) -> nn.Module:
    """Timm ResNet-18 for 28x28 gray crops: ``in_chans=1``, a 3x3 stride-1 stem, max-pool kept.

    The ImageNet stem (7x7 stride 2 plus max-pool) would leave a 7x7 map after the stem; this
    stem keeps 14x14 after the max-pool, so the last stage sees 2x2. Not trained yet: the
    shipped ensemble uses ``cnn`` only until the ResNet member lands (issue 3).
    """
    import timm  # heavy; imported only when this member is built

    net = timm.create_model("resnet18", pretrained=False, in_chans=1, num_classes=num_classes)
    net.conv1 = nn.Conv2d(1, 64, kernel_size=3, stride=1, padding=1, bias=False)
    return net
