"""The model registry: registration rules and the read-only table."""

from __future__ import annotations

import pytest
import torch

from handocr.models.factory import list_models
from handocr.models.registry import REGISTRY, ModelSpec, register_model


def test_registering_twice_raises() -> None:
    list_models()  # the built-in members are registered when the factory is imported
    with pytest.raises(ValueError, match="already registered"):
        register_model("cnn")(lambda **_: torch.nn.Identity())


@pytest.mark.parametrize("name", ["CNN2", "cnn.v2"])
def test_names_are_lower_case_without_dots(name: str) -> None:
    with pytest.raises(ValueError, match="lower-case without dots"):
        register_model(name)(lambda **_: torch.nn.Identity())
    assert name not in REGISTRY


def test_registry_is_a_read_only_view_of_specs() -> None:
    assert set(list_models()) <= set(REGISTRY)
    spec = REGISTRY["cnn"]
    assert isinstance(spec, ModelSpec) and spec.name == "cnn" and spec.input_size == (1, 28, 28)
    with pytest.raises(TypeError):
        REGISTRY["x"] = spec  # type: ignore[index]
