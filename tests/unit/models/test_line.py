"""Line members: manifest entries, sha256 checks, folding onto the reading alphabet, batching."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from handocr.errors import WeightsError
from handocr.models import line as line_mod
from handocr.models.line import FOLDED, LineMember, load_line_members
from handocr.models.manifest import LineEntry, load_manifest

HEIGHT = 8
ALPHABET = "Ab-€"  # A and b fold onto A and B, "-" is punctuation, "€" is not read


def _graph(path: Path, global_context: bool = False) -> None:
    """A tiny CTC line member: 4-column average pools -> a linear map -> log-softmax.

    With ``global_context`` each frame also adds the mean of all frames (as a network that
    mixes context across the whole width does, so padding would change every frame).
    """
    from onnx import TensorProto, helper, save

    v = 1 + len(ALPHABET)
    w = np.linspace(-2, 2, v, dtype=np.float32).reshape(1, v)
    b = np.zeros(v, np.float32)
    nodes = [
        helper.make_node(
            "AveragePool", ["x"], ["p"], kernel_shape=[HEIGHT, 4], strides=[HEIGHT, 4]
        ),
        helper.make_node("Squeeze", ["p", "axes"], ["q0"]),  # (N, T)
        helper.make_node("ReduceMean", ["q0"], ["g"], axes=[1], keepdims=1),
        helper.make_node("Mul", ["g", "k"], ["gk"]),
        helper.make_node("Add", ["q0", "gk"], ["q"]),
        helper.make_node("Unsqueeze", ["q", "last"], ["r"]),  # (N, T, 1)
        helper.make_node("MatMul", ["r", "w"], ["m"]),
        helper.make_node("Add", ["m", "b"], ["z"]),
        helper.make_node("LogSoftmax", ["z"], ["log_probs"], axis=2),
    ]
    graph = helper.make_graph(
        nodes,
        "line",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, HEIGHT, "W"])],
        [helper.make_tensor_value_info("log_probs", TensorProto.FLOAT, ["N", "T", v])],
        [
            helper.make_tensor("axes", TensorProto.INT64, [2], [1, 2]),
            helper.make_tensor("last", TensorProto.INT64, [1], [2]),
            helper.make_tensor("w", TensorProto.FLOAT, w.shape, w.ravel()),
            helper.make_tensor("b", TensorProto.FLOAT, b.shape, b),
            helper.make_tensor("k", TensorProto.FLOAT, [1], [3.0 if global_context else 0.0]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    save(model, str(path))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    _graph(tmp_path / "line.tiny.onnx")
    sha = hashlib.sha256((tmp_path / "line.tiny.onnx").read_bytes()).hexdigest()
    manifest = {
        "schema": 1,
        "weights": {},
        "line_members": {
            "line.tiny": {
                "file": "line.tiny.onnx",
                "sha256": sha,
                "alphabet": ALPHABET,
                "input": {"height": HEIGHT, "channels": 1, "ink": "bright", "pad": 0.0},
                "output": "log_probs",
                "licence": "MIT",
            }
        },
        "default_line_members": ["line.tiny"],
    }
    (tmp_path / "MANIFEST.json").write_text(json.dumps(manifest))
    return tmp_path


def test_the_manifest_lists_line_members(folder: Path) -> None:
    m = load_manifest(folder)
    entry = m.line_entry("line")
    assert isinstance(entry, LineEntry) and entry.name == "line.tiny"
    assert entry.alphabet == tuple(ALPHABET) and entry.licence == "MIT"
    assert m.default_line_members == ("line.tiny",)
    with pytest.raises(WeightsError, match="no line member nope"):
        m.line_entry("nope")


def test_a_tampered_graph_is_refused(folder: Path) -> None:
    with (folder / "line.tiny.onnx").open("ab") as f:
        f.write(b"\0")
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        load_line_members(None, load_manifest(folder))


def test_weights_from_a_missing_package_say_what_to_install(tmp_path: Path) -> None:
    raw = {"file": "x.onnx", "sha256": "0", "package": "no_such_pkg_here", "alphabet": "A",
           "input": {"height": 8}, "output": "probs"}  # fmt: skip
    entry = LineEntry.from_dict("x.y", raw, tmp_path)
    with pytest.raises(WeightsError, match="pip install no-such-pkg-here"):
        entry.path(tmp_path)


def test_readings_fold_onto_the_reading_alphabet(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(line_mod, "LINE_PIXELS", HEIGHT * 100)  # several batches
    (member,) = load_line_members(None, load_manifest(folder))
    assert isinstance(member, LineMember) and member.key == "line.tiny"
    crops = [np.full((16, w), 255, np.uint8) for w in (40, 200, 64, 64)]
    crops[1][4:12, 20:180] = 0  # ink
    out = member.read(crops)
    assert len(out) == len(crops)
    for crop, r in zip(crops, out, strict=True):
        resized = member.prepare(crop).shape[1]  # on the width grid, within 2 %
        assert abs(resized / (crop.shape[1] * HEIGHT / crop.shape[0]) - 1) <= 0.02
        assert r.log_probs.shape == (resized // 4, 1 + len(FOLDED))  # whole 4-column pools
        assert np.allclose(np.exp(r.log_probs).sum(1), 1.0, atol=1e-5)
        assert r.width == pytest.approx(crop.shape[1] / len(r.log_probs))  # columns per frame
        # only A, B and "-" can be read; "€" went to the blank
        read = np.exp(r.log_probs[:, 1:]).sum(0) > 1e-6
        assert {FOLDED[k] for k in np.flatnonzero(read)} == {"A", "B", "-"}
        # "A" is upper case, "b" lower case
        assert r.upper[:, 0].min() == pytest.approx(1.0) and r.upper[:, 1].max() == 0.0
    assert not np.allclose(out[1].log_probs[5], out[0].log_probs[0])  # ink changes the output


def test_a_crop_reads_the_same_alone_and_batched(folder: Path) -> None:
    # a member with global context: padding a crop to a wider neighbour would change it
    _graph(folder / "line.tiny.onnx", global_context=True)
    manifest = json.loads((folder / "MANIFEST.json").read_text())
    sha = hashlib.sha256((folder / "line.tiny.onnx").read_bytes()).hexdigest()
    manifest["line_members"]["line.tiny"]["sha256"] = sha
    (folder / "MANIFEST.json").write_text(json.dumps(manifest))
    (member,) = load_line_members(None, load_manifest(folder))
    rng = np.random.default_rng(0)
    crops = [rng.integers(0, 256, (16, w), dtype=np.uint8) for w in (100, 104, 108, 100)]
    together = member.read(crops)
    for crop, r in zip(crops, together, strict=True):
        (alone,) = member.read([crop])
        np.testing.assert_allclose(alone.log_probs, r.log_probs, atol=1e-6)
    widths = {member.prepare(c).shape[1] for c in crops}
    assert len(widths) >= 2  # crops of several widths were read in one call
