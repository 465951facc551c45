"""timm ResNet members: names, stems, and unknown variants."""

from __future__ import annotations

import pytest
import torch

from handocr.errors import UnknownModelError
from handocr.models.factory import create_model
from handocr.models.resnet import parse_resnet_name


@pytest.mark.parametrize(
    ("name", "parsed"),
    [
        ("resnet18", ("resnet18", "small")),
        ("resnet10t-imagenet", ("resnet10t", "imagenet")),
        ("resnet34-nopool", ("resnet34", "nopool")),
        ("cnn", None),
        ("resnet18-huge", None),
    ],
)
def test_resnet_names(name: str, parsed: tuple[str, str] | None) -> None:
    assert parse_resnet_name(name) == parsed


@pytest.mark.parametrize("name", ["resnet10t", "resnet10t-imagenet", "resnet10t-nopool"])
def test_every_stem_maps_crops_to_47_logits(name: str) -> None:
    net = create_model(name, weights=None)
    assert next(net.parameters()).shape[1] == 1  # one input channel
    with torch.inference_mode():
        out = net(torch.rand(2, 1, 28, 28))
    assert out.shape == (2, 47) and torch.isfinite(out).all()


def test_stems_set_the_cost() -> None:
    from handocr.models.factory import macs_per_crop

    small = macs_per_crop(create_model("resnet10t", weights=None))
    imagenet = macs_per_crop(create_model("resnet10t-imagenet", weights=None))
    nopool = macs_per_crop(create_model("resnet10t-nopool", weights=None))
    # the ImageNet stem is cheaper than the small one; dropping the max-pool about 4x dearer
    assert 2 * imagenet < small and 3 * small < nopool


def test_unknown_timm_resnet_is_a_usage_error() -> None:
    with pytest.raises(UnknownModelError, match="resnet99"):
        create_model("resnet99", weights=None)
