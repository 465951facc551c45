"""handocr's custom CNN for 28x28 handprinted characters."""

from __future__ import annotations

from torch import nn

from handocr.labels import NUM_CLASSES
from handocr.models.registry import register_model

__all__ = ["CharCNN", "cnn"]


def _block(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]


class CharCNN(nn.Module):
    """A VGG-style CNN sized for 28x28 gray crops (594,383 parameters, ~29 MMAC per crop).

    Three stages of two 3x3 convolutions with batch norm (32, 64, 128 channels), 2x2 max-pooling
    between stages (28 -> 14 -> 7 -> 3), then a 256-unit dense layer with dropout.

    Input ``(N, 1, 28, 28) float32`` in ``[0, 1]`` (ink 1.0); output ``(N, num_classes)`` logits.
    """

    def __init__(self, *, num_classes: int = NUM_CLASSES, dropout: float = 0.3) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *_block(1, 32),
            *_block(32, 32),
            nn.MaxPool2d(2),
            *_block(32, 64),
            *_block(64, 64),
            nn.MaxPool2d(2),
            *_block(64, 128),
            *_block(128, 128),
            nn.MaxPool2d(2),
        )
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(128 * 3 * 3, 256, bias=False),
            nn.BatchNorm1d(256),
            nn.ReLU(True),
            nn.Dropout(dropout),
            nn.Linear(256, num_classes),
        )

    def forward(self, x):  # type: ignore[no-untyped-def]  # noqa: D102
        return self.head(self.features(x))


@register_model("cnn")
def cnn(*, num_classes: int = NUM_CLASSES) -> nn.Module:
    """Build :class:`CharCNN`, handocr's custom member."""
    return CharCNN(num_classes=num_classes)
