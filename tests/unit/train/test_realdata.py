"""Real-handprint training crops: boxes.tsv, class folders, weak labels by forced alignment."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from handocr import Recognizer
from handocr.crops import to_model_input
from handocr.errors import DataError
from handocr.labels import NUM_CLASSES, index_of
from handocr.preprocess import ink_map
from handocr.result import Box
from handocr.train.realdata import (
    align_weak_labels,
    contact_sheet,
    detect_layout,
    held_out,
    load_real,
    read_box_crops,
    read_class_folders,
)
from tests.helpers import draw_text_page


class Oracle(Recognizer):
    """A recognizer whose classifier reads every glyph as ``char`` (no models loaded)."""

    def __init__(self, char: str) -> None:
        super().__init__(search=False, line_models=())
        self.char = char

    def classify(self, pieces):  # type: ignore[no-untyped-def]
        p = np.full((len(pieces), 1, NUM_CLASSES), 1e-3, np.float32)
        p[:, 0, index_of(self.char)] = 1.0
        return p / p.sum(2, keepdims=True)


def _write(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)
    return path


def test_held_out_is_stable_and_about_the_share() -> None:
    names = [f"img{i}.png" for i in range(2000)]
    share = np.mean([held_out(n, 0.1) for n in names])
    assert 0.07 < share < 0.13
    assert [held_out(n, 0.1) for n in names[:50]] == [held_out(n, 0.1) for n in names[:50]]


def test_box_crops_are_the_reader_normalisation_of_each_box(tmp_path: Path) -> None:
    page = draw_text_page(["12"])
    _write(tmp_path / "images" / "p.png", page)
    ink = ink_map(page)
    ys, xs = np.nonzero(ink)
    mid = (int(xs.min()) + int(xs.max())) // 2
    boxes = [
        Box(int(xs.min()), int(ys.min()), mid, int(ys.max()) + 1),
        Box(mid, int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1),
    ]
    rows = "".join(
        f"p.png\t{b.x0}\t{b.y0}\t{b.width}\t{b.height}\t{d}\n"
        for b, d in zip(boxes, "12", strict=True)
    )
    (tmp_path / "boxes.tsv").write_text("filename\tx\ty\twidth\theight\tdigit\n" + rows)
    crops = read_box_crops(tmp_path, holdout=0.0)
    assert crops.labels.tolist() == [1, 2] and crops.images.dtype == np.uint8
    expected = np.rint(to_model_input(ink, boxes)[:, 0] * 255).astype(np.uint8)
    np.testing.assert_array_equal(crops.images, expected)
    assert crops.report == {"images": 1, "kept": 1, "crops": 2, "held_crops": 0}
    everything_held = read_box_crops(tmp_path, holdout=1.0)
    assert len(everything_held.labels) == 0 and everything_held.held_labels.tolist() == [1, 2]


def test_box_row_with_a_label_outside_the_classes_is_a_data_error(tmp_path: Path) -> None:
    _write(tmp_path / "p.png", draw_text_page(["1"]))
    (tmp_path / "boxes.tsv").write_text("filename\tx\ty\tw\th\tl\np.png\t0\t0\t5\t5\t#\n")
    with pytest.raises(DataError, match="not one of the 47"):
        read_box_crops(tmp_path)


def test_class_folders_give_one_labelled_crop_per_image(tmp_path: Path) -> None:
    _write(tmp_path / "7" / "a.png", draw_text_page(["7"]))
    _write(tmp_path / "A" / "b.png", draw_text_page(["A"]))
    _write(tmp_path / "A" / "blank.png", np.full((40, 40), 255, np.uint8))
    crops = read_class_folders(tmp_path, holdout=0.0)
    assert sorted(crops.labels.tolist()) == [index_of("7"), index_of("A")]
    assert crops.report["images"] == 3 and crops.report["kept"] == 2
    assert detect_layout(tmp_path) == "folders"
    _write(tmp_path / "ab" / "c.png", draw_text_page(["A"]))
    with pytest.raises(DataError, match="ab"):
        read_class_folders(tmp_path)


def test_a_folder_of_no_known_layout_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no boxes\.tsv"):
        detect_layout(tmp_path)
    with pytest.raises(DataError, match="not a folder"):
        load_real(tmp_path / "missing")


def test_weak_labels_come_from_the_text_where_count_and_classifier_agree(tmp_path: Path) -> None:
    _write(tmp_path / "ab.png", draw_text_page(["AB"]))
    _write(tmp_path / "abc.png", draw_text_page(["AB"]))  # the text claims three letters
    (tmp_path / "truth.tsv").write_text("ab.png\tA B\nabc.png\tABC\n")
    reads_a = Oracle("A")
    crops = align_weak_labels(reads_a, tmp_path, holdout=0.0, min_agreement=0.5)
    # one glyph of two agrees (A); the label of the other is still the text's (B)
    assert crops.labels.tolist() == [index_of("A"), index_of("B")]
    assert crops.report["kept"] == 1 and crops.report["count_mismatch"] == 1
    strict = align_weak_labels(reads_a, tmp_path, holdout=0.0, min_agreement=0.9)
    assert strict.report["kept"] == 0 and strict.report["disagree"] == 1
    assert detect_layout(tmp_path) == "weak"


def test_contact_sheet_shows_the_requested_crops(tmp_path: Path) -> None:
    images = np.zeros((30, 28, 28), np.uint8)
    labels = np.arange(30) % NUM_CLASSES
    shown = contact_sheet(images, labels, tmp_path / "sheet.png", n=12, columns=5)
    sheet = cv2.imread(str(tmp_path / "sheet.png"), cv2.IMREAD_GRAYSCALE)
    assert len(shown) == 12 and len(set(shown)) == 12
    assert sheet.shape == (3 * (56 + 18), 5 * 56)


def test_a_name_beside_a_caption_on_its_line_aligns_by_its_run_of_words(tmp_path: Path) -> None:
    _write(tmp_path / "field.png", draw_text_page(["NOM AB"]))
    (tmp_path / "truth.tsv").write_text("field.png\tAB\n")
    crops = align_weak_labels(Oracle("A"), tmp_path, holdout=0.0, min_agreement=0.5)
    assert crops.report["kept"] == 1 and crops.labels.tolist() == [index_of("A"), index_of("B")]
    # the crops are those of the word "AB" (a whole-line alignment finds 5 glyphs, not 2)
    alone = tmp_path / "alone"
    _write(alone / "ab.png", draw_text_page(["AB"]))
    (alone / "truth.tsv").write_text("ab.png\tAB\n")
    expected = align_weak_labels(Oracle("A"), alone, holdout=0.0).images
    np.testing.assert_array_equal(crops.images, expected)
