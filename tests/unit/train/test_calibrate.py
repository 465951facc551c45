"""Temperature scaling: the fit itself, logits of a member, and calibrating a weights file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from handocr.labels import NUM_CLASSES
from handocr.models.factory import create_model
from handocr.models.weights import load_weights
from handocr.train.calibrate import evaluate_logits, fit_temperature, to_float
from handocr.train.config import TrainConfig
from handocr.train.fit import fit


def test_fit_temperature_undoes_a_known_overconfidence() -> None:
    # logits drawn from a calibrated model, then multiplied by 3: the fit divides by ~3
    rng = np.random.default_rng(0)
    z = rng.normal(0, 1.5, (4000, NUM_CLASSES))
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    labels = np.array([rng.choice(NUM_CLASSES, p=row) for row in p])
    assert fit_temperature(3.0 * z, labels) == pytest.approx(3.0, rel=0.1)
    assert fit_temperature(z, labels) == pytest.approx(1.0, rel=0.1)


def test_to_float_and_evaluate_logits() -> None:
    images = np.zeros((3, 28, 28), np.uint8)
    images[:, 10:18, 12:16] = 255
    x = to_float(images, torch.device("cpu"))
    assert x.shape == (3, 1, 28, 28) and x.dtype == torch.float32 and float(x.max()) == 1.0
    torch.manual_seed(0)
    net = create_model("cnn", weights=None).train()
    logits = evaluate_logits(net, images, device=torch.device("cpu"), batch_size=2)
    assert logits.shape == (3, NUM_CLASSES) and logits.dtype == np.float32
    assert net.training  # the mode is restored
    with torch.inference_mode():
        np.testing.assert_allclose(logits, net.eval()(x).numpy(), atol=1e-5)
    assert evaluate_logits(net, images[:0], device=torch.device("cpu")).shape == (0, NUM_CLASSES)


@pytest.mark.slow
def test_calibrate_refits_temperature_on_the_training_validation_split(
    emnist_sample: Path, tmp_path: Path
) -> None:
    from handocr.train.calibrate import calibrate_weights

    cfg = TrainConfig(
        data=str(emnist_sample), out_dir=str(tmp_path), epochs=2, batch_size=32, val_fraction=0.2
    )
    res = fit(cfg)
    assert 0.05 <= res.metrics["temperature"] <= 20
    out = tmp_path / "calibrated.safetensors"
    got = calibrate_weights(res.weights, out=out)
    info = load_weights(create_model("cnn", weights=None), out)
    assert info.metrics["temperature"] == got["temperature"]
    assert got["val_ece"] <= got["val_ece_raw"] + 1e-6
