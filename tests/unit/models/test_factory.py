"""Building members by name: every registered model untrained, specs, shipped weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from handocr.errors import UnknownModelError, WeightsError
from handocr.labels import NUM_CLASSES
from handocr.models import create_model as lazy_create_model
from handocr.models import list_models as lazy_list_models
from handocr.models.factory import create_model, list_models, model_spec
from handocr.models.registry import REGISTRY


@pytest.mark.parametrize("name", list_models())
def test_model_maps_crops_to_class_logits(name: str) -> None:
    torch.manual_seed(0)
    net = create_model(name, weights=None).eval()
    with torch.inference_mode():
        out = net(torch.rand(3, 1, 28, 28))
    assert out.shape == (3, NUM_CLASSES) and out.dtype == torch.float32


def test_list_models_is_sorted_and_lazily_importable() -> None:
    assert list_models() == sorted(list_models()) and {"cnn", "resnet18"} <= set(list_models())
    assert lazy_list_models is list_models and lazy_create_model is create_model
    import handocr.models as models

    with pytest.raises(AttributeError, match="no attribute"):
        models.build  # noqa: B018


def test_unknown_model_suggests_close_names() -> None:
    with pytest.raises(UnknownModelError, match="did you mean cnn"):
        create_model("cnnn", weights=None)


def test_model_spec_resolves_registered_and_resnet_names() -> None:
    assert model_spec("cnn") is REGISTRY["cnn"]
    spec = model_spec("resnet34-nopool")
    assert spec.name == "resnet34-nopool" and "resnet34-nopool" not in REGISTRY
    with pytest.raises(UnknownModelError):
        model_spec("vgg16")


def test_manifest_lookup(use_tiny_weights: Path, tmp_path: Path, monkeypatch) -> None:
    net = create_model("cnn.tiny")
    assert not net.training
    torch.manual_seed(0)
    fresh = create_model("cnn", weights=None)
    x = torch.rand(2, 1, 28, 28)
    with torch.inference_mode():  # the tiny weights are seed 0's, stored as float16
        torch.testing.assert_close(net(x), fresh(x), atol=0.05, rtol=0)
    default = create_model("cnn")  # the manifest's default tag of cnn: cnn.tiny
    assert all(
        torch.equal(a, b)
        for a, b in zip(default.state_dict().values(), net.state_dict().values(), strict=True)
    )
    with pytest.raises(WeightsError, match=r"no shipped weights for cnn\.v9"):
        create_model("cnn.v9")
    monkeypatch.setenv("HANDOCR_WEIGHTS", str(tmp_path))
    with pytest.raises(WeightsError, match=r"MANIFEST\.json not found"):
        create_model("cnn")
