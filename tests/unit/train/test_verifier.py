"""Fitting the search's verifier on lattices of pages with known character boxes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from handocr.segment.lattice import FEATURES
from handocr.train import verifier as tv
from handocr.train.data import load_emnist, to_label_space
from tests.helpers import uniform_recognizer


@pytest.fixture(scope="module")
def lattices(emnist_sample: Path) -> tuple[tv.LatticeSet, tv.LatticeSet]:
    s = load_emnist(emnist_sample, "pool47", "train")
    glyphs, labels = s.images, to_label_space(s)
    rec = uniform_recognizer()
    train = tv.collect_lattices(rec, tv.synthetic_pages(glyphs, labels, 6, seed=3))
    val = tv.collect_lattices(rec, tv.synthetic_pages(glyphs, labels, 3, seed=4))
    return train, val


def test_candidates_are_labelled_by_the_true_boxes(lattices) -> None:  # type: ignore[no-untyped-def]
    train, _ = lattices
    assert train.x.shape == (len(train.target), len(FEATURES)) == (len(train.best), len(FEATURES))
    assert 0 < train.target.sum() < len(train.target)  # both kinds occur
    for lat, rows, page in train.lines[:5]:
        found = train.found[train.lines.index((lat, rows, page))]
        assert len(found) == rows.stop - rows.start == len(lat.spans)
    # a positive overlaps a true box by TRUE_IOU, a negative overlaps none that much
    from handocr.train.synth import assign_boxes

    lat, rows, page = train.lines[0]
    boxes = train.found[0]
    for c, box in enumerate(boxes):
        hit = bool(assign_boxes(train.truth[page], [box], iou=tv.TRUE_IOU))
        assert hit == bool(train.target[rows][c])


def test_geometry_alone_separates_true_characters_from_fragments(lattices) -> None:  # type: ignore[no-untyped-def]
    train, val = lattices
    verifier, report = tv.fit_verifier(train, val, hidden=0)
    z = verifier.log_odds(tv._relative(train, verifier.class_aspect))
    assert z[train.target].mean() > z[~train.target].mean() + 1.0
    assert report["val_f1"] >= report["val_f1_bonus0"] - 1e-12  # the bonus never loses F1
    assert report["bonus"] in tv.BONUS_GRID
    assert set(report) >= {"train_candidates", "train_true", "val_f1_layout", "hidden"}


def test_the_bonus_kept_is_the_nearest_zero_within_tolerance(lattices, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    train, val = lattices
    scores = {2.0: 0.800, 1.0: 0.799, 0.0: 0.790}
    monkeypatch.setattr(tv, "path_f1", lambda data, v, b: scores.get(b, 0.5))
    _, report = tv.fit_verifier(train, val, hidden=0)
    assert report["bonus"] == 1.0  # within BONUS_TOLERANCE of 2.0's F1, and nearer 0


def test_fitting_needs_both_kinds(lattices) -> None:  # type: ignore[no-untyped-def]
    train, val = lattices
    only_true = tv.LatticeSet(train.x, train.best, np.ones_like(train.target))
    with pytest.raises(ValueError, match="both"):
        tv.fit_verifier(only_true, val)


def test_box_pages_skip_the_held_out_images(tmp_path: Path) -> None:
    from handocr.train.realdata import held_out

    names = [f"img{k}.png" for k in range(20)]
    rows = ["filename\tx\ty\twidth\theight\tdigit"]
    for name in names:
        cv2.imwrite(str(tmp_path / name), np.full((20, 20), 255, np.uint8))
        rows.append(f"{name}\t1\t2\t5\t6\t7")
    (tmp_path / "boxes.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    got = list(tv.box_pages(tmp_path, holdout=0.3))
    kept = [n for n in names if not held_out(n, 0.3)]
    assert len(got) == len(kept) and 0 < len(kept) < len(names)
    image, boxes = got[0]
    assert image.shape == (20, 20) and [(b.x0, b.y0, b.x1, b.y1) for b in boxes] == [(1, 2, 6, 8)]
