"""Registry, members, weights I/O (safetensors only, checksums) and the ensemble."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from handocr.ensemble import Ensemble, Member
from handocr.errors import ModelOutputError, UnknownModelError, WeightsError
from handocr.labels import NUM_CLASSES
from handocr.models import create_model, list_models, register_model
from handocr.models.weights import WeightsInfo, load_weights, save_weights
from handocr.result import ModelInfo


@pytest.mark.parametrize("name", list_models())
def test_model_maps_crops_to_class_logits(name: str) -> None:
    torch.manual_seed(0)
    net = create_model(name, weights=None).eval()
    with torch.inference_mode():
        out = net(torch.rand(3, 1, 28, 28))
    assert out.shape == (3, NUM_CLASSES) and out.dtype == torch.float32


def test_unknown_model_suggests_close_names() -> None:
    with pytest.raises(UnknownModelError, match="did you mean cnn"):
        create_model("cnnn", weights=None)


def test_registering_twice_raises() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_model("cnn")(lambda **_: torch.nn.Identity())


def test_custom_cnn_is_small() -> None:
    net = create_model("cnn", weights=None)
    assert sum(p.numel() for p in net.parameters()) <= 3_000_000


def test_weights_round_trip_keeps_outputs_and_metadata(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = create_model("cnn", weights=None)
    info = WeightsInfo(arch="cnn", tag="t", metrics={"val_accuracy": 0.5})
    path = tmp_path / "cnn.t.safetensors"
    sha = save_weights(net, path, info)
    again = create_model("cnn", weights=None)
    got = load_weights(again, path, sha256=sha)
    assert got.metrics == {"val_accuracy": 0.5} and got.name == "cnn.t"
    x = torch.rand(4, 1, 28, 28)
    with torch.inference_mode():
        np.testing.assert_allclose(net(x).numpy(), again(x).numpy(), atol=0.05)  # fp16 storage


def test_tampered_weights_are_refused(tiny_weights: Path, tmp_path: Path) -> None:
    src = tiny_weights / "cnn.tiny.safetensors"
    sha = json.loads((tiny_weights / "MANIFEST.json").read_text())["weights"]["cnn.tiny"]["sha256"]
    bad = tmp_path / "bad.safetensors"
    raw = bytearray(src.read_bytes())
    raw[-10] ^= 0xFF
    bad.write_bytes(bytes(raw))
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        load_weights(create_model("cnn", weights=None), bad, sha256=sha)
    bad.write_bytes(src.read_bytes()[:100])
    with pytest.raises(WeightsError, match="not a readable safetensors"):
        load_weights(create_model("cnn", weights=None), bad)
    with pytest.raises(WeightsError, match="not found"):
        load_weights(create_model("cnn", weights=None), tmp_path / "missing.safetensors")


def test_weights_of_another_arch_do_not_fit(tiny_weights: Path) -> None:
    import torch.nn as nn

    with pytest.raises(WeightsError, match="does not fit"):
        load_weights(nn.Linear(3, 3), tiny_weights / "cnn.tiny.safetensors")


def test_manifest_lookup(use_tiny_weights: Path, tmp_path: Path, monkeypatch) -> None:
    net = create_model("cnn.tiny")
    assert not net.training
    with pytest.raises(WeightsError, match=r"no shipped weights for cnn\.v9"):
        create_model("cnn.v9")
    monkeypatch.setenv("HANDOCR_WEIGHTS", str(tmp_path))
    with pytest.raises(WeightsError, match=r"MANIFEST\.json not found"):
        create_model("cnn")


def test_ensemble_probabilities_sum_to_one(use_tiny_weights: Path) -> None:
    ens = Ensemble.from_names(device="cpu")
    probs = ens.predict_proba(np.random.default_rng(0).random((5, 1, 28, 28), np.float32))
    assert probs.shape == (5, NUM_CLASSES) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    assert ens.predict_proba(np.zeros((0, 1, 28, 28), np.float32)).shape == (0, NUM_CLASSES)
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        ens.predict_proba(np.zeros((2, 28, 28), np.float32))


class _Faulty(torch.nn.Module):
    """A fake member that returns NaN or a wrong shape (fault injection)."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "nan":
            return torch.full((len(x), NUM_CLASSES), float("nan"))
        return torch.zeros(len(x), 3)


@pytest.mark.parametrize(("mode", "message"), [("nan", "non-finite"), ("shape", "shape")])
def test_faulty_member_is_named_in_the_error(mode: str, message: str) -> None:
    ens = Ensemble([Member(ModelInfo("fake", "x", ""), _Faulty(mode))])
    with pytest.raises(ModelOutputError, match=f"fake.*{message}"):
        ens.predict_proba(np.zeros((2, 1, 28, 28), np.float32))


def test_soft_voting_weights_members() -> None:
    class Const(torch.nn.Module):
        def __init__(self, k: int) -> None:
            super().__init__()
            self.k = k

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = torch.full((len(x), NUM_CLASSES), -30.0)
            out[:, self.k] = 30.0
            return out

    a, b = (Member(ModelInfo(n, "x", ""), Const(k)) for n, k in (("a", 1), ("b", 2)))
    probs = Ensemble([a, b], weights=[3, 1]).predict_proba(np.zeros((1, 1, 28, 28), np.float32))
    assert probs[0, 1] == pytest.approx(0.75) and probs[0, 2] == pytest.approx(0.25)


def test_bad_voting_weights_raise() -> None:
    m = Member(ModelInfo("a", "x", ""), torch.nn.Identity())
    with pytest.raises(ValueError, match="voting weights"):
        Ensemble([m], weights=[1, 2])


def test_weights_folder_copy_is_found(tiny_weights: Path, tmp_path: Path, monkeypatch) -> None:
    dst = tmp_path / "w"
    shutil.copytree(tiny_weights, dst)
    monkeypatch.setenv("HANDOCR_WEIGHTS", str(dst))
    assert Ensemble.from_names(device="cpu").models[0].tag == "tiny"


def test_write_manifest_lists_every_file(tiny_weights: Path, tmp_path: Path) -> None:
    from handocr.models.weights import write_manifest

    dst = tmp_path / "w"
    shutil.copytree(tiny_weights, dst)
    (dst / "MANIFEST.json").unlink()
    manifest = write_manifest(dst, ["cnn.tiny"])
    assert manifest["default_tags"] == {"cnn": "cnn.tiny"}
    assert json.loads((dst / "MANIFEST.json").read_text()) == manifest
    assert set(manifest["weights"]) == {"cnn.tiny", "cnn.tiny-b"}
    assert "voting_weights" not in manifest  # none given, none kept from a manifest
    both = write_manifest(dst, ["cnn.tiny", "cnn.tiny-b"], {"cnn.tiny": 0.6, "cnn.tiny-b": 0.4})
    again = write_manifest(dst, ["cnn.tiny", "cnn.tiny-b"])  # keeps the fitted weights
    assert again["voting_weights"] == both["voting_weights"] == {"cnn.tiny": 0.6, "cnn.tiny-b": 0.4}
    with pytest.raises(WeightsError, match="without a file"):
        write_manifest(dst, ["cnn.nope"])
