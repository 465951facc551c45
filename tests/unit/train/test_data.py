"""EMNIST IDX reader (real files, official names, clear errors) and the validation split."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from handocr.errors import DataError
from handocr.labels import LABELS
from handocr.train.config import TrainConfig
from handocr.train.data import load_emnist, resolve_data_dir, split_train_val, to_label_space
from tests.helpers import SHARED


def test_sample_reads_upright_with_mapping(emnist_sample: Path) -> None:
    split = load_emnist(emnist_sample, "pool47", "test")
    assert split.images.shape == (470, 28, 28) and split.images.dtype == np.uint8
    assert split.mapping == LABELS
    assert np.bincount(split.labels).tolist() == [10] * 47
    assert len(split.sha256) == 64


def test_upright_orientation_matches_rendered_glyphs(emnist_sample: Path) -> None:
    """A rendered upright glyph correlates better with its class mean than the transpose does."""
    import cv2

    from handocr.crops import to_model_input
    from handocr.labels import index_of
    from handocr.result import Box

    split = load_emnist(emnist_sample, "pool47", "train")
    wins = 0
    glyphs = "7LFJP2"  # glyphs that change under transposition (not 4, Q, O, X)
    for ch in glyphs:
        page = np.zeros((120, 100), np.uint8)
        cv2.putText(page, ch, (15, 100), cv2.FONT_HERSHEY_SIMPLEX, 3.0, 255, 9)
        crop = to_model_input(page, [Box(0, 0, 100, 120)])[0, 0]
        mean = split.images[split.labels == index_of(ch)].mean(0)
        up = np.corrcoef(crop.ravel(), mean.ravel())[0, 1]
        tr = np.corrcoef(crop.T.ravel(), mean.ravel())[0, 1]
        wins += up > tr + 0.2
    assert wins == len(glyphs)


def test_uncompressed_files_read_like_gzipped(emnist_sample: Path, tmp_path: Path) -> None:
    for f in emnist_sample.iterdir():
        if f.suffix == ".gz":
            (tmp_path / f.stem).write_bytes(gzip.decompress(f.read_bytes()))
        else:
            shutil.copy(f, tmp_path / f.name)
    a = load_emnist(emnist_sample, "pool47", "test")
    b = load_emnist(tmp_path, "pool47", "test")
    np.testing.assert_array_equal(a.images, b.images)


def _copy(emnist_sample: Path, tmp_path: Path) -> Path:
    for f in emnist_sample.iterdir():
        shutil.copy(f, tmp_path / f.name)
    return tmp_path


def test_wrong_magic_names_the_file(emnist_sample: Path, tmp_path: Path) -> None:
    d = _copy(emnist_sample, tmp_path)
    bad = d / "emnist-pool47-test-images-idx3-ubyte.gz"
    raw = bytearray(gzip.decompress(bad.read_bytes()))
    raw[3] = 0x01
    bad.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(DataError, match=r"emnist-pool47-test-images.*magic"):
        load_emnist(d, "pool47", "test")


def test_count_mismatch_names_both_files(emnist_sample: Path, tmp_path: Path) -> None:
    d = _copy(emnist_sample, tmp_path)
    lab = d / "emnist-pool47-test-labels-idx1-ubyte.gz"
    raw = gzip.decompress(lab.read_bytes())
    n = 469
    lab.write_bytes(gzip.compress(raw[:4] + n.to_bytes(4, "big") + raw[8 : 8 + n]))
    with pytest.raises(DataError, match=r"470 images but .* 469 labels"):
        load_emnist(d, "pool47", "test")


def test_truncated_file_is_reported(emnist_sample: Path, tmp_path: Path) -> None:
    d = _copy(emnist_sample, tmp_path)
    img = d / "emnist-pool47-test-images-idx3-ubyte.gz"
    img.write_bytes(gzip.compress(gzip.decompress(img.read_bytes())[:-100]))
    with pytest.raises(DataError, match="header says"):
        load_emnist(d, "pool47", "test")


def test_unknown_split_and_missing_files(emnist_sample: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="unknown EMNIST split"):
        load_emnist(emnist_sample, "pool48", "test")
    with pytest.raises(DataError, match="emnist-balanced-test-images"):
        load_emnist(emnist_sample, "balanced", "test")
    with pytest.raises(DataError, match="not found"):
        load_emnist(tmp_path / "nowhere", "pool47", "test")


def test_data_dir_from_environment(emnist_sample: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANDOCR_DATA", str(emnist_sample))
    assert resolve_data_dir(None) == emnist_sample
    monkeypatch.delenv("HANDOCR_DATA")
    with pytest.raises(DataError, match="HANDOCR_DATA"):
        resolve_data_dir(None)


def test_byclass_style_mapping_folds_to_47_classes(emnist_sample: Path, tmp_path: Path) -> None:
    d = _copy(emnist_sample, tmp_path)
    # rename as an official split with lower-case 'c' as an extra class 47
    for f in list(d.iterdir()):
        f.rename(d / f.name.replace("pool47", "byclass"))
    mapping = d / "emnist-byclass-mapping.txt"
    mapping.write_text(mapping.read_text() + "47 99\n")
    split = load_emnist(d, "byclass", "test")
    assert split.mapping[47] == "c"
    assert to_label_space(split).max() < 47


@pytest.mark.data
def test_shared_pool47_has_the_documented_counts() -> None:
    test = load_emnist(SHARED / "emnist47", "pool47", "test")
    assert len(test.labels) == 14_100
    assert np.bincount(test.labels).tolist() == [300] * 47


def test_split_train_val_is_stratified_reproducible_and_disjoint(emnist_sample: Path) -> None:
    s = load_emnist(emnist_sample, "pool47", "train")
    data = (s.images, to_label_space(s))
    cfg = TrainConfig(val_fraction=0.2, seed=3)
    images, labels, tr, va = split_train_val(data, cfg)
    assert len(images) == len(labels) == 470 and len(va) == 94 and len(tr) == 376
    assert not set(tr) & set(va) and sorted([*tr, *va]) == list(range(470))
    assert np.bincount(labels[va], minlength=47).tolist() == [2] * 47  # two per class
    again = split_train_val(data, cfg)
    np.testing.assert_array_equal(again[3], va)
    other = split_train_val(data, TrainConfig(val_fraction=0.2, seed=4))[3]
    assert not np.array_equal(other, va)
    small = split_train_val(data, TrainConfig(val_fraction=0.2, max_train=235))
    assert len(small[1]) == 235 and np.bincount(small[1]).tolist() == [5] * 47
    with pytest.raises(DataError, match="cannot split"):
        split_train_val((s.images[:47], np.arange(47)), TrainConfig(val_fraction=0.1))


def _write_split(folder: Path, split: str, labels: list[int], mapping: str) -> None:
    """Small IDX files of an EMNIST split: one blank 28 x 28 image per label."""
    n = len(labels)
    images = (2051).to_bytes(4, "big") + n.to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    images += bytes(28 * 28 * n)
    lab = (2049).to_bytes(4, "big") + n.to_bytes(4, "big") + bytes(labels)
    for part in ("train", "test"):
        (folder / f"emnist-{split}-{part}-images-idx3-ubyte.gz").write_bytes(gzip.compress(images))
        (folder / f"emnist-{split}-{part}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(lab))
    (folder / f"emnist-{split}-mapping.txt").write_text(mapping)


def test_the_letters_digits_and_mnist_splits_map_onto_the_47_classes(tmp_path: Path) -> None:
    from handocr.labels import LABELS

    # letters: labels 1..26, "label upper lower" lines (a class for both cases)
    letters = "".join(f"{k} {64 + k} {96 + k}\n" for k in range(1, 27))
    _write_split(tmp_path, "letters", [1, 2, 26], letters)
    split = load_emnist(tmp_path, "letters", "train")
    assert split.mapping[0] == "" and split.mapping[1] == "A"
    assert [LABELS[k] for k in to_label_space(split)] == ["A", "B", "Z"]
    for name in ("digits", "mnist"):
        _write_split(tmp_path, name, [0, 7, 9], "".join(f"{k} {48 + k}\n" for k in range(10)))
        got = [LABELS[k] for k in to_label_space(load_emnist(tmp_path, name, "test"))]
        assert got == ["0", "7", "9"]
    _write_split(tmp_path, "letters", [0], letters)  # a label the mapping does not name
    with pytest.raises(DataError, match="without a class"):
        to_label_space(load_emnist(tmp_path, "letters", "test"))


def test_select_classes_keeps_a_charset(emnist_sample: Path) -> None:
    from handocr.errors import OptionError
    from handocr.labels import LABELS
    from handocr.train.data import select_classes

    s = load_emnist(emnist_sample, "pool47", "test")
    images, labels = select_classes((s.images, to_label_space(s)), "digits")
    assert len(images) == len(labels) > 0 and {LABELS[k] for k in labels} == set("0123456789")
    assert select_classes((s.images, to_label_space(s)), None)[0] is s.images
    with pytest.raises(OptionError):
        select_classes((s.images, to_label_space(s)), "\u20ac")
