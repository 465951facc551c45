"""handocr's custom CNN."""

from __future__ import annotations

import torch

from handocr.models.cnn import CharCNN
from handocr.models.factory import create_model, macs_per_crop


def test_custom_cnn_has_its_documented_size() -> None:
    net = create_model("cnn", weights=None)
    assert isinstance(net, CharCNN)
    assert sum(p.numel() for p in net.parameters()) == 594_383
    assert macs_per_crop(net) // 1_000_000 == 29  # ~29 MMAC per crop, as documented


def test_custom_cnn_in_eval_mode_is_deterministic() -> None:
    torch.manual_seed(0)
    net = create_model("cnn", weights=None)
    assert not net.training
    x = torch.rand(2, 1, 28, 28)
    with torch.inference_mode():
        torch.testing.assert_close(net(x), net(x))
    assert CharCNN(num_classes=10)(torch.rand(2, 1, 28, 28)).shape == (2, 10)
