"""The Recognizer: options, shared models, batched reading, and the one read loop over inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from handocr import api, pagestream
from handocr.api import InputResult, Recognizer, recognize
from handocr.ensemble import Ensemble, Member
from handocr.errors import (
    ExitCode,
    InputImageError,
    ModelOutputError,
    OptionError,
    exit_code_for,
)
from handocr.labels import NUM_CLASSES, Charset
from handocr.result import ModelInfo
from tests.helpers import draw_text_page


def test_blank_page_reads_as_empty_text() -> None:
    assert recognize(np.full((32, 32), 255, np.uint8)).text == ""


def test_rgba_array_raises_input_error() -> None:
    with pytest.raises(InputImageError, match="channels"):
        recognize(np.zeros((8, 8, 4), np.uint8))


def test_float_array_raises_input_error() -> None:
    with pytest.raises(InputImageError, match="uint8"):
        recognize(np.zeros((8, 8), np.float64))


def test_oversized_header_is_refused_before_decoding(tmp_path: Path, monkeypatch) -> None:
    import cv2

    import handocr.io as hio

    path = tmp_path / "big.png"
    cv2.imwrite(str(path), np.full((300, 400), 255, np.uint8))
    monkeypatch.setattr(hio, "MAX_PIXELS", 100_000)
    with pytest.raises(InputImageError, match="over the limit"):
        recognize(path)


def test_recognize_caches_one_recognizer_per_set_of_options(use_tiny_weights: Path) -> None:
    blank = np.full((16, 16), 255, np.uint8)
    recognize(blank, charset="digits")
    before = api._cached.cache_info()
    recognize(blank, charset=Charset.parse("digits"))  # the same options, resolved
    after = api._cached.cache_info()
    assert (after.hits, after.misses) == (before.hits + 1, before.misses)
    recognize(blank, charset="upper")
    assert api._cached.cache_info().misses == before.misses + 1


def test_models_load_on_first_use_only(use_tiny_weights: Path) -> None:
    rec = Recognizer(device="cpu")
    rec.read(np.full((40, 40), 255, np.uint8))  # blank: nothing to classify
    assert rec.loaded_models == () and rec._models.ensemble is None
    rec.read(draw_text_page(["A"]))
    assert [m.key for m in rec.loaded_models] == ["cnn.tiny", "cnn.tiny-b"]


def test_with_options_shares_the_loaded_ensemble(use_tiny_weights: Path) -> None:
    rec = Recognizer(device="cpu")
    ens = rec.ensemble
    digits = rec.with_options(charset="digits", deskew=False)
    assert digits.ensemble is ens
    assert digits.options == rec.options.replace(charset="digits", deskew=False)
    assert rec.options.charset is None  # the original is unchanged
    soft = rec.with_options(voting="soft")  # a model option: another ensemble
    assert soft.ensemble is not ens and soft.ensemble.voting == "soft"
    assert ens.voting == "weighted"
    with pytest.raises(OptionError, match="did you mean charset"):
        rec.with_options(chrset="digits")


def test_with_options_before_loading_shares_the_first_load(use_tiny_weights: Path) -> None:
    rec = Recognizer(device="cpu")
    other = rec.with_options(charset="upper")
    assert rec._models.ensemble is None  # nothing loaded yet
    assert other.ensemble is rec.ensemble  # the first load serves both
    assert rec.with_options(backend="torch").ensemble is not rec.ensemble


def test_read_images_shares_batches_and_equals_page_by_page(use_tiny_weights: Path) -> None:
    images = [draw_text_page([t]) for t in ("AB 12", "XYZ", "7")]
    images.append(np.full((50, 80), 255, np.uint8))  # blank: no crops
    rec = Recognizer(device="cpu")
    records = rec.read_images(images, numbers=[3, 4, 5, 6], sources=["a", "b", "c", "d"])
    together = [r.page for r in records]
    triples = zip(images, [3, 4, 5, 6], "abcd", strict=True)
    alone = [rec.read_images([im], numbers=[i], sources=[s])[0].page for im, i, s in triples]
    assert [r.number for r in records] == [3, 4, 5, 6] and together[3].lines == ()
    assert [p.number for p in together] == [3, 4, 5, 6]
    assert [len(p.text.replace(" ", "")) for p in together] == [4, 3, 1, 0]
    assert [len(r.pieces) for r in records] == [4, 3, 1, 0]  # one piece per character
    for a, b in zip(together, alone, strict=True):
        assert a.text == b.text and a.source == b.source
        ca = [c for line in a.lines for c in line.all_chars()]
        cb = [c for line in b.lines for c in line.all_chars()]
        assert [c.box for c in ca] == [c.box for c in cb]
        np.testing.assert_allclose(
            [c.confidence for c in ca], [c.confidence for c in cb], atol=1e-5
        )
    with pytest.raises(ValueError, match="one number"):
        rec.read_images(images, numbers=[1])


def test_read_numbers_pages_across_sources(use_tiny_weights: Path) -> None:
    seen = []
    doc = Recognizer(device="cpu").read(
        [draw_text_page(["A"]), draw_text_page(["BB"])], on_page=seen.append
    )
    assert [p.index for p in doc.pages] == [0, 1]
    assert [p.index for p in seen] == [0, 0]  # numbered within each input while reading
    assert [len(p.text) for p in doc.pages] == [1, 2]
    assert [m.key for m in doc.models] == ["cnn.tiny", "cnn.tiny-b"]


# -- read_inputs ------------------------------------------------------------------------------


def _inputs(tmp_path: Path) -> list:
    """Five inputs; the second cannot be read. Page k (k = 1, 3, 4) has k + 1 characters."""
    import cv2

    path = tmp_path / "c.png"
    cv2.imwrite(str(path), draw_text_page(["CCC"]))
    return [
        draw_text_page(["A"]),
        b"not an image at all",
        draw_text_page(["BB"]),
        path,
        draw_text_page(["DDDD"]),
    ]


def test_read_inputs_keeps_order_and_reports_a_bad_input(
    use_tiny_weights: Path, tmp_path: Path
) -> None:
    rec = Recognizer(device="cpu")
    progress: list[tuple[int, int]] = []
    pages = []
    sources = _inputs(tmp_path)
    results = list(
        rec.read_inputs(
            sources,
            errors="report",
            progress=lambda done, total: progress.append((done, total)),
            on_page=lambda page, image: pages.append((page.source, image.shape)),
        )
    )
    assert all(isinstance(r, InputResult) for r in results)
    assert [r.index for r in results] == [0, 1, 2, 3, 4]
    assert [r.source for r in results] == [
        "array 0",
        "bytes 1",
        "array 2",
        str(tmp_path / "c.png"),
        "array 4",
    ]
    assert [r.ok for r in results] == [True, False, True, True, True]
    bad = results[1]
    assert bad.document is None and isinstance(bad.error, InputImageError)
    assert "bytes 1" in str(bad.error)
    docs = [r.document for r in results if r.document is not None]
    assert [len(d.text) for d in docs] == [1, 2, 3, 4]
    assert all([p.index for p in d.pages] == [0] for d in docs)  # numbered per input
    assert [d.pages[0].source for d in docs] == [None, None, "c.png", None]
    for r in results:
        if r.document is not None:
            assert r.document.text == rec.read(sources[r.index]).text
    assert progress == [(k, 5) for k in range(1, 6)]
    assert [s for s, _ in pages] == [None, None, "c.png", None]
    errors = [r.error for r in results if r.error is not None]
    assert exit_code_for(errors, succeeded=len(docs)) == ExitCode.PARTIAL


def test_read_inputs_raises_by_default(use_tiny_weights: Path, tmp_path: Path) -> None:
    rec = Recognizer(device="cpu")
    results = rec.read_inputs(_inputs(tmp_path))
    with pytest.raises(InputImageError, match="bytes 1"):
        list(results)
    with pytest.raises(OptionError, match="errors"):
        list(rec.read_inputs([], errors="ignore"))  # type: ignore[arg-type]


def test_read_inputs_of_an_iterator_reports_total_zero(use_tiny_weights: Path) -> None:
    progress: list[tuple[int, int]] = []
    images = (draw_text_page([t]) for t in ("A", "B"))
    results = Recognizer(device="cpu").read_inputs(images, progress=lambda *a: progress.append(a))
    assert [r.index for r in results] == [0, 1] and progress == [(1, 0), (2, 0)]


class _Broken(torch.nn.Module):
    """A fake member that returns NaN from its ``fail_from``-th call on (fault injection)."""

    def __init__(self, fail_from: int) -> None:
        super().__init__()
        self.calls = 0
        self.fail_from = fail_from

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        value = float("nan") if self.calls >= self.fail_from else 0.0
        return torch.full((len(x), NUM_CLASSES), value)


def _fake_ensemble(monkeypatch: pytest.MonkeyPatch, net: torch.nn.Module) -> None:
    fake = Ensemble([Member(ModelInfo("fake", "x", ""), net)])
    monkeypatch.setattr(Ensemble, "from_config", classmethod(lambda cls, *a, **k: fake))


def test_a_model_error_fails_every_unfinished_input(monkeypatch: pytest.MonkeyPatch) -> None:
    # the three small pages share one batch: the model fails on it, so all three fail
    net = _Broken(fail_from=1)
    _fake_ensemble(monkeypatch, net)
    images = [draw_text_page([t]) for t in ("A", "B", "C")]
    results = list(Recognizer(device="cpu").read_inputs(images, errors="report"))
    assert [r.index for r in results] == [0, 1, 2] and net.calls == 1
    assert all(isinstance(r.error, ModelOutputError) for r in results)
    assert "non-finite" in str(results[0].error)
    errors = [r.error for r in results if r.error is not None]
    assert exit_code_for(errors, succeeded=0) == ExitCode.FAILURE
    with pytest.raises(ModelOutputError):
        list(Recognizer(device="cpu").read_inputs(images))


def test_a_model_error_keeps_finished_inputs_and_reads_no_further(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # one page per batch: input 0 is read, the model fails on input 1, input 2 is never read
    monkeypatch.setattr(pagestream, "BATCH_PAGES", 1)
    net = _Broken(fail_from=2)
    _fake_ensemble(monkeypatch, net)
    images = [draw_text_page([t]) for t in ("A", "B", "C")]
    results = list(Recognizer(device="cpu").read_inputs(images, errors="report"))
    assert [r.index for r in results] == [0, 1] and net.calls == 2
    assert results[0].ok and results[0].document is not None
    assert len(results[0].document.text) == 1
    assert isinstance(results[1].error, ModelOutputError) and results[1].document is None
    errors = [r.error for r in results if r.error is not None]
    assert exit_code_for(errors, succeeded=1) == ExitCode.FAILURE
