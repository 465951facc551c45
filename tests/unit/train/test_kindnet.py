"""The word-kind network: crops, training to ONNX, its share, and its place in kind.json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from handocr.errors import WeightsError
from handocr.kind import FEATURES, KIND_FILE, NET_FILE, classifier_sha256, load_kind_classifier
from handocr.kind_net import CROP_H, CROP_W, KindNet, normalise_word
from handocr.models.weights import file_sha256
from handocr.train.kindnet import choose_net_weight, train_kind_net


def test_a_word_crop_is_ink_darkness_at_a_fixed_size() -> None:
    crop = np.full((20, 60), 250, np.uint8)
    crop[5:15, 10:50] = 10
    x = normalise_word(crop)
    assert x.shape == (CROP_H, CROP_W) and x.dtype == np.float32
    assert x.max() == pytest.approx(1.0) and x[:, 110:].max() == 0.0  # padded with paper
    assert normalise_word(np.zeros((0, 0), np.uint8)).max() == 0.0


@pytest.fixture(scope="module")
def tiny_net(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A network trained one epoch on bars (printed: thin uniform; handwritten: blobs)."""
    rng = np.random.default_rng(0)
    x = np.zeros((64, 1, CROP_H, CROP_W), np.float32)
    y = np.arange(64) % 2
    for i in range(64):
        if y[i]:
            x[i, 0, 8:24:4, 10:100] = 1.0
        else:
            x[i, 0] = (rng.random((CROP_H, CROP_W)) > 0.7).astype(np.float32)
    return train_kind_net(x, y, tmp_path_factory.mktemp("net") / NET_FILE, epochs=1, batch=16)


def test_the_trained_network_runs_in_onnx_runtime(tiny_net: Path) -> None:
    z = KindNet(tiny_net).logits(np.zeros((5, 1, CROP_H, CROP_W), np.float32))
    assert z.shape == (5,) and np.all(np.isfinite(z))
    assert KindNet(tiny_net).logits(np.zeros((0, 1, CROP_H, CROP_W), np.float32)).shape == (0,)


def test_one_kind_only_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="one kind"):
        train_kind_net(
            np.zeros((4, 1, CROP_H, CROP_W), np.float32), np.ones(4, np.int64), tmp_path / "n.onnx"
        )


def test_the_share_goes_to_the_evidence_that_separates() -> None:
    y = np.array([0, 0, 1, 1, 0, 1])
    good, noise = np.array([-2.0, -1, 1, 2, -1, 1]), np.array([1.0, -1, -1, 1, 1, -1])
    share, scores = choose_net_weight(noise, good, y, np.array([0, 0, 0, 1, 1, 1]))
    assert share > 0.5 and scores[share] == 1.0 > scores[0.0]  # the smallest perfect share
    assert choose_net_weight(good, noise, y, np.zeros(6, np.int64))[0] < 0.5


def _write(folder: Path, net_weight: float, sha: str) -> None:
    n = len(FEATURES)
    block = {
        "features": list(FEATURES), "weights": [0.0] * n, "bias": 0.0, "mean": [0.0] * n,
        "scale": [1.0] * n, "net_weight": net_weight, "net_sha256": sha,
    }  # fmt: skip
    doc = {"classifier": block, "sha256": classifier_sha256(block)}
    (folder / KIND_FILE).write_text(json.dumps(doc), encoding="utf-8")


def test_the_network_is_loaded_and_checked_beside_kind_json(tiny_net: Path, tmp_path: Path) -> None:
    (tmp_path / NET_FILE).write_bytes(tiny_net.read_bytes())
    _write(tmp_path, 0.5, file_sha256(tiny_net))
    clf = load_kind_classifier(tmp_path)
    assert clf.net is not None and clf.net_weight == 0.5
    x = np.zeros((2, len(FEATURES)))
    z = clf.decision(x, net_logits=np.array([4.0, -4.0]))
    np.testing.assert_allclose(z, [2.0, -2.0])
    _write(tmp_path, 0.5, "0" * 64)
    with pytest.raises(WeightsError, match="sha256"):
        load_kind_classifier(tmp_path)
    (tmp_path / NET_FILE).unlink()
    with pytest.raises(WeightsError, match="missing"):
        load_kind_classifier(tmp_path)
