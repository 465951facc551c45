"""The comb-cell network: windows, loading, training to ONNX and soft voting in comb fields."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from handocr.comb_net import COMB_FILE, NET_FILE, CombNet, cell_window, load_comb_net
from handocr.errors import ModelOutputError, WeightsError
from handocr.labels import LABELS, NUM_CLASSES
from handocr.models.weights import file_sha256, find_weights
from handocr.preprocess import ink_map, level_page
from handocr.segment.comb import find_combs
from handocr.train.combnet import choose_weight, comb_windows, train_comb_net
from handocr.train.combs import generate_combs
from tests.helpers import draw_comb
from tests.unit.train.test_combs import glyphs


def _comb(text: str):  # type: ignore[no-untyped-def]
    page = draw_comb(text)
    lev = level_page(page)
    (comb,) = find_combs(ink_map(lev.gray, remove_lines=False), gray=lev.gray)
    return comb


def test_a_window_holds_its_cell_walls_included_as_ink_darkness() -> None:
    comb = _comb("4 7")
    full, empty = cell_window(comb, 0), cell_window(comb, 1)
    assert full.shape == (28, 28) and full.dtype == np.float32
    assert full.max() == pytest.approx(1.0) and full.min() >= 0.0
    inner = slice(8, 20)  # inside the walls and rules
    assert full[inner, inner].sum() > 5 * max(empty[inner, inner].sum(), 1.0)
    assert empty[:, :3].max() > 0.5  # the left wall is in the window
    with pytest.raises(IndexError):
        cell_window(comb, 3)


def test_no_record_means_no_network(tmp_path: Path) -> None:
    assert load_comb_net(tmp_path) is None


@pytest.fixture(scope="module")
def tiny_net(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The custom CNN fine-tuned one epoch on windows of generated fields of blob glyphs."""
    samples = generate_combs(12, *glyphs(), seed=0)
    x, y, field, skipped = comb_windows(samples)
    assert len(x) == len(y) == len(field) > 0 and skipped < len(samples)
    assert set(y.tolist()) <= {LABELS.index(c) for s in samples for c in s.text}
    out = tmp_path_factory.mktemp("comb") / NET_FILE
    return train_comb_net(x, y, out, find_weights("cnn", "emnist47-v4"), epochs=1, batch=32)


def _folder(tmp_path: Path, net: Path, weight: float = 0.5, sha: str | None = None) -> Path:
    shutil.copyfile(net, tmp_path / NET_FILE)
    record = {"sha256": sha or file_sha256(tmp_path / NET_FILE), "weight": weight}
    (tmp_path / COMB_FILE).write_text(json.dumps(record), encoding="utf-8")
    return tmp_path


@pytest.mark.slow
def test_a_trained_network_loads_and_gives_probabilities(tiny_net: Path, tmp_path: Path) -> None:
    net = load_comb_net(_folder(tmp_path, tiny_net, 0.4))
    assert isinstance(net, CombNet) and net.weight == 0.4
    p = net.probs(np.stack([cell_window(_comb("4 7"), j) for j in (0, 2)]))
    assert p.shape == (2, NUM_CLASSES) and np.allclose(p.sum(1), 1.0, atol=1e-4)
    assert net.probs(np.zeros((0, 28, 28), np.float32)).shape == (0, NUM_CLASSES)


@pytest.mark.slow
def test_a_tampered_or_unreadable_record_is_refused(tiny_net: Path, tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="sha256"):
        load_comb_net(_folder(tmp_path, tiny_net, sha="0" * 64))
    with pytest.raises(WeightsError, match="outside"):
        load_comb_net(_folder(tmp_path, tiny_net, weight=1.5))
    (tmp_path / COMB_FILE).write_text("{", encoding="utf-8")
    with pytest.raises(WeightsError, match="unreadable"):
        load_comb_net(tmp_path)


def test_a_network_returning_the_wrong_shape_is_an_error() -> None:
    class Session:
        def get_inputs(self):  # type: ignore[no-untyped-def]
            return [type("I", (), {"name": "x"})()]

        def run(self, _names, feed):  # type: ignore[no-untyped-def]
            return [np.zeros((len(feed["x"]), 3), np.float32)]

    with pytest.raises(ModelOutputError):
        CombNet(0.5, {}, Session()).probs(np.zeros((2, 28, 28), np.float32))


def test_the_weight_that_reads_most_cells_right_is_chosen() -> None:
    y = np.array([0, 1, 2, 3])
    ens = np.eye(NUM_CLASSES, dtype=np.float32)[[0, 1, 5, 5]]  # two right
    net = np.eye(NUM_CLASSES, dtype=np.float32)[[0, 1, 2, 3]] * 0.6  # four right, less sure
    weight, scores = choose_weight(ens, net, y)
    assert weight == pytest.approx(0.7) and scores["0.0"] == 0.5 and scores["1.0"] == 1.0
    digits = choose_weight(ens, net, y, lambda p: p * (np.arange(NUM_CLASSES) < 3))[1]
    assert digits["1.0"] == 0.75  # the class ruled out (3) cannot be read


@pytest.mark.slow
def test_comb_fields_vote_with_the_network(
    tiny_net: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from handocr.api import Recognizer

    image = draw_comb("4 7 2 ")
    plain = Recognizer(charset="digits").read_images([image])[0].page
    rec = Recognizer(charset="digits")
    calls: list[int] = []
    net = load_comb_net(_folder(tmp_path, tiny_net, 1.0))
    assert net is not None

    class Spy(CombNet):
        def probs(self, windows, batch=512):  # type: ignore[no-untyped-def]
            calls.append(len(windows))
            out = np.zeros((len(windows), NUM_CLASSES), np.float32)
            out[:, LABELS.index("8")] = 1.0  # the network alone decides (weight 1)
            return out

    rec._models.optional["comb"] = Spy(1.0, {}, net.session)
    page = rec.read_images([image])[0].page
    assert calls == [3]  # the three filled cells, in one batch
    assert plain.text.replace(" ", "") != "888" and page.text.replace(" ", "") == "888"
