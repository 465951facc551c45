"""Page-set evaluation: the CER rule, digit sets, page sets with their charsets, intervals."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from handocr.api import Recognizer
from handocr.errors import DataError, OptionError
from handocr.evaluate import (
    PageSetScore,
    cer_interval,
    evaluate_page_set,
    evaluate_page_sets,
    find_page_sets,
    is_digit_truth,
    normalise_for_cer,
    read_truth,
    text_in_box,
)
from handocr.result import Box
from tests.helpers import draw_text_page, sample_document


def test_the_cer_rule_normalises_case_space_and_non_digits() -> None:
    assert normalise_for_cer(" ab c\td ") == "ABCD"
    assert normalise_for_cer("12-34 x", digits_only=True) == "1234"


def test_a_set_is_a_digit_set_by_its_truth_not_its_name() -> None:
    assert is_digit_truth(["1500", "1 056", "", r"12\n34"])  # whitespace and line breaks aside
    assert not is_digit_truth(["1500", "1.500"])  # a separator in the truth: scored as written
    assert not is_digit_truth(["16", "899", "denayxlghm"])  # digit fields beside letter fields
    assert not is_digit_truth([]) and not is_digit_truth(["", " "])
    assert not is_digit_truth(["\u00b2"])  # a superscript two: no digit of the CER rule


def test_text_in_box_takes_characters_whose_centre_lies_inside() -> None:
    page = sample_document().pages[0]
    assert text_in_box(page, Box(10, 0, 100, 15)) == "B12"
    assert text_in_box(page, Box(0, 0, 9, 40)) == "AZ"  # the Z's box is at the A's too
    assert text_in_box(page, Box(90, 40, 100, 50)) == ""


def test_truth_files_and_set_folders(tmp_path: Path) -> None:
    truth = tmp_path / "s" / "truth.tsv"
    truth.parent.mkdir()
    truth.write_text("a.png\tAB C\n\nb.png\t\n", encoding="utf-8")
    assert read_truth(truth) == [("a.png", "AB C"), ("b.png", "")]
    assert find_page_sets(tmp_path) == [tmp_path / "s"]
    assert find_page_sets(tmp_path / "s") == [tmp_path / "s"]
    truth.write_text("a.png AB\n")
    with pytest.raises(DataError, match=r"truth\.tsv:1: expected"):
        read_truth(truth)
    with pytest.raises(DataError, match="cannot read"):
        read_truth(tmp_path / "none.tsv")
    with pytest.raises(DataError, match="not a folder"):
        find_page_sets(tmp_path / "missing")
    (tmp_path / "s" / "truth.tsv").unlink()
    with pytest.raises(DataError, match="no sub-folder"):
        find_page_sets(tmp_path)


def test_cer_interval_brackets_the_cer_and_is_reproducible() -> None:
    d, n = [0, 1, 0, 2, 0, 0, 3, 0], [10] * 8
    low, high = cer_interval(d, n)
    assert low <= sum(d) / sum(n) <= high and low < high
    assert cer_interval(d, n) == (low, high)  # seeded
    wide = cer_interval(d, n, confidence=0.99)
    assert wide[0] <= low and wide[1] >= high
    assert cer_interval([2], [10]) == (0.2, 0.2)  # one image: no interval
    assert cer_interval([1, 1], [10, 10]) == (0.1, 0.1)  # every image alike
    assert cer_interval([0, 0], [0, 0]) == (0.0, 0.0)


def _page_set(root: Path, name: str, pages: dict[str, str], missing: dict[str, str]) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    for file, text in pages.items():
        cv2.imwrite(str(folder / file), draw_text_page([text]))
    rows = [f"{f}\t{t}" for f, t in {**pages, **missing}.items()]
    (folder / "truth.tsv").write_text("\n".join(rows) + "\n")
    return folder


def test_a_page_set_is_scored_with_failures_as_empty_output(
    use_tiny_weights: Path, tmp_path: Path
) -> None:
    folder = _page_set(tmp_path, "synthetic", {"a.png": "AB", "b.png": "7"}, {"gone.png": "CD"})
    progress: list[tuple[int, int]] = []
    rec = Recognizer(device="cpu")
    score = evaluate_page_set(rec, folder, progress=lambda *a: progress.append(a))
    assert isinstance(score, PageSetScore) and score.name == "synthetic"
    assert score.images == 3 and not score.digits_only and score.charset is None
    assert len(score.failures) == 1 and score.failures[0].startswith("gone.png: ")
    rows = {r["file"]: r for r in score.rows}
    assert rows["gone.png"]["output"] == "" and rows["gone.png"]["distance"] == 2
    outputs = {f: rec.read(folder / f).text for f in ("a.png", "b.png")}
    assert {f: rows[f]["output"] for f in outputs} == outputs
    assert score.cer == pytest.approx(sum(r["distance"] for r in score.rows) / 5)
    assert score.cer_low <= score.cer <= score.cer_high
    assert progress == [(1, 3), (2, 3), (3, 3)]
    d = score.to_dict()
    assert d["cer_ci95"] == [score.cer_low, score.cer_high] and "rows" not in d
    assert score.to_dict(rows=True)["rows"] == score.rows


def test_digit_sets_are_scored_on_digits(use_tiny_weights: Path, tmp_path: Path) -> None:
    folder = _page_set(tmp_path, "cheques", {"a.png": "12", "b.png": "7"}, {})
    assert evaluate_page_set(Recognizer(device="cpu"), folder).digits_only
    assert not evaluate_page_set(Recognizer(device="cpu"), folder, digits_only=False).digits_only
    words = _page_set(tmp_path, "orand_car_a", {"a.png": "12", "b.png": "AB"}, {})
    assert not evaluate_page_set(Recognizer(device="cpu"), words).digits_only  # name aside


def test_page_sets_take_a_charset_each_and_share_the_models(
    use_tiny_weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("amounts", "names"):
        _page_set(tmp_path, name, {"a.png": "12"}, {})
    rec = Recognizer(device="cpu", charset="upper")
    loads = []
    real = Recognizer.ensemble.fget

    def counted(self: Recognizer):  # type: ignore[no-untyped-def]
        if self._models.ensemble is None:
            loads.append(self.options.charset)
        return real(self)

    monkeypatch.setattr(Recognizer, "ensemble", property(counted))
    scores = evaluate_page_sets(rec, tmp_path, charsets={"amounts": "digits"})
    assert list(scores) == ["amounts", "names"]
    assert scores["amounts"].charset == "digits" and scores["names"].charset == "upper"
    assert all(ch.isdigit() for ch in scores["amounts"].rows[0]["output"].replace(" ", ""))
    assert len(loads) == 1  # loaded once, shared by the set read with its own charset
    with pytest.raises(OptionError, match="cheques"):
        evaluate_page_sets(rec, tmp_path, charsets={"cheques": "digits"})
    loads.clear()
    with pytest.raises(OptionError, match="47 EMNIST classes"):
        evaluate_page_sets(Recognizer(device="cpu"), tmp_path, charsets={"amounts": "%"})
    assert loads == []  # a bad charset is refused before any model loads
