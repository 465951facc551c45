"""Line data: synthetic EMNIST lines and folders of line images with truth.tsv."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from handocr.errors import DataError
from handocr.labels import DIGITS
from handocr.models.crnn import ALPHABET
from handocr.train.lines import SynthLines, SynthStyle, min_width, random_text, read_line_folder


@pytest.fixture(scope="module")
def synth(emnist_sample: Path) -> SynthLines:
    from handocr.train.data import load_emnist, to_label_space

    split = load_emnist(emnist_sample, "pool47", "train")
    return SynthLines(split.images, to_label_space(split))


def test_random_texts_stay_in_the_alphabet_and_length() -> None:
    rng = np.random.default_rng(0)
    texts = [random_text(rng) for _ in range(500)]
    for t in texts:
        assert t and set(t) <= set(ALPHABET), t
        assert t == " ".join(t.split())  # single inner spaces, none at the ends
        alnum = sum(ch.isalnum() for ch in t)
        assert len(t.replace(" ", "")) >= 1 and alnum <= 20, t
    joined = "".join(texts)
    assert all(ch in joined for ch in "-/.,':") and any(t.isdigit() for t in texts)
    assert any(t.replace(" ", "").isalpha() for t in texts)


def test_synthetic_lines_are_32_px_dark_on_light_and_wide_enough(synth: SynthLines) -> None:
    rng = np.random.default_rng(1)
    for _ in range(40):
        img, text = synth.render(rng)
        assert img.dtype == np.uint8 and img.shape[0] == 32
        assert img.shape[1] >= min_width(text)
        border = np.concatenate([img[:, :2].ravel(), img[:, -2:].ravel()])
        assert np.median(border) > img.min() + 20  # paper lighter than the darkest ink


def _ink_runs(img: np.ndarray) -> int:
    """Runs of columns that hold ink (dark pixels), left to right."""
    cols = (img < img.max() - 60).any(0)
    return int(np.sum(cols[1:] & ~cols[:-1]) + cols[0])


def test_layout_places_one_glyph_per_character(emnist_sample: Path) -> None:
    from handocr.train.data import load_emnist, to_label_space

    split = load_emnist(emnist_sample, "pool47", "train")
    clean = SynthStyle(
        char_gap=(0.7, 0.8), word_gap=(1.5, 1.6), paper=(255, 255), contrast=(230, 230),
        lower_p=0.0, jpeg_p=0.0, lowres_p=0.0, clutter_p=0.0, rule_p=0.0,
    )  # fmt: skip
    synth = SynthLines(split.images, to_label_space(split), clean)
    rng = np.random.default_rng(2)
    hits = 0
    for text in ["1-1", "0.7", "4 2", "7/7", "1:1", "25", "1'1", "3,8", "909", "66 0"]:
        img, got = synth.render(rng, text)
        assert got == text
        hits += _ink_runs(img) == len(text.replace(" ", ""))
    assert hits >= 8  # a glyph's own stroke may break into two column runs at times


def test_given_text_that_does_not_fit_is_stretched(synth: SynthLines) -> None:
    img, text = synth.render(np.random.default_rng(3), "1111111111")
    assert text == "1111111111" and img.shape[1] >= min_width(text)


def _write_folder(folder: Path, rows: list[tuple[str, str]], *, boxes: bool = False) -> None:
    import cv2

    (folder / "images").mkdir(parents=True)
    lines = []
    for name, text in rows:
        img = np.full((48, 240), 200, np.uint8)
        cv2.putText(img, text[:6], (30, 36), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 20, 3)
        cv2.line(img, (2, 5), (12, 40), 0, 2)  # a mark left of the boxes
        cv2.imwrite(str(folder / "images" / name), img)
        lines.append(f"{name}\t{text}")
    (folder / "truth.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if boxes:
        rows_tsv = ["filename\tx\ty\twidth\theight\tdigit"]
        rows_tsv += [f"{name}\t30\t8\t40\t30\t1\n{name}\t80\t8\t40\t30\t2" for name, _ in rows]
        (folder / "boxes.tsv").write_text("\n".join(rows_tsv) + "\n", encoding="utf-8")


def test_line_folder_is_read_folded_and_split_by_name(tmp_path: Path) -> None:
    rows = [(f"l{i:03d}.png", t) for i, t in enumerate(["Zoé", "d'Arc", "12 €", "x" * 60] * 10)]
    _write_folder(tmp_path / "mine", rows)
    train, held = read_line_folder(tmp_path / "mine", holdout=0.3)
    assert len(train) + len(held) == 20 and 0 < len(held) < 20
    assert set(train.texts + held.texts) == {"ZOE", "D'ARC"}
    assert train.report["dropped"] == {"alphabet": 10, "length": 10}
    assert all(im.shape[0] == 32 and im.shape[1] == 160 for im in train.images)
    assert not train.digits_only
    again, _ = read_line_folder(tmp_path / "mine", holdout=0.3)
    assert again.texts == train.texts  # the same images held out every run


def test_boxes_cut_each_line_to_their_span(tmp_path: Path) -> None:
    _write_folder(tmp_path / "amounts", [("a.png", "12"), ("b.png", "7")], boxes=True)
    train, held = read_line_folder(tmp_path / "amounts", holdout=0.0)
    assert len(held) == 0 and train.digits_only
    # span 30..120 plus a margin of 4 px each side, 98 px of 48 -> 65 px at 32
    assert [im.shape for im in train.images] == [(32, 65), (32, 65)]


def test_folder_without_truth_or_with_a_missing_image_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"truth\.tsv"):
        read_line_folder(tmp_path)
    (tmp_path / "truth.tsv").write_text("gone.png\tABC\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"gone\.png"):
        read_line_folder(tmp_path)


def test_digits_only_lines_come_from_the_digit_pools(synth: SynthLines) -> None:
    img, text = synth.render(np.random.default_rng(4), "0123456789")
    assert text == DIGITS and img.shape[0] == 32
