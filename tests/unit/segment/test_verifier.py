"""The search's verifier: its shapes, its file, what it refuses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from handocr.errors import WeightsError
from handocr.segment.lattice import FEATURES
from handocr.segment.verifier import Verifier
from tests.unit.segment.shapes import confidence_verifier


def test_a_verifier_round_trips_and_rejects_what_it_cannot_use(tmp_path: Path) -> None:
    v = confidence_verifier(bias=1.25)
    path = tmp_path / "v.safetensors"
    v.save(path, '{"fitted": "test"}')
    back = Verifier.load(path)
    x = np.random.default_rng(0).normal(size=(5, len(FEATURES)))
    np.testing.assert_allclose(back.log_odds(x), v.log_odds(x))
    np.testing.assert_allclose(v.shifted(2.0).log_odds(x), v.log_odds(x) + 2.0)
    with pytest.raises(WeightsError, match="one output"):
        Verifier(v.mean, v.scale, [np.zeros((len(FEATURES), 2)), np.zeros(2)], v.class_aspect)
    from safetensors.numpy import save_file

    save_file({"mean": np.zeros(3)}, str(path), metadata={"features": "a,b,c"})
    with pytest.raises(WeightsError, match="other features"):
        Verifier.load(path)
    path.write_bytes(b"not safetensors")
    with pytest.raises(WeightsError, match="cannot read"):
        Verifier.load(path)
