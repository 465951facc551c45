"""The 47-class label map, case merging, and character sets."""

from __future__ import annotations

import numpy as np
import pytest

from handocr.errors import OptionError
from handocr.labels import (
    CHARSETS,
    DIGITS,
    LABELS,
    MERGED_LOWER,
    NUM_CLASSES,
    Charset,
    charset_fold,
    index_of,
)
from tests.helpers import probs


def test_label_map_has_47_classes_and_merged_lower_case_maps_to_capitals() -> None:
    assert NUM_CLASSES == len(LABELS) == 47 and len(set(LABELS)) == 47
    assert "".join(LABELS[:10]) == DIGITS
    for ch in MERGED_LOWER:
        assert ch not in LABELS and index_of(ch) == index_of(ch.upper())
    with pytest.raises(KeyError):
        index_of("€")


def test_charset_fold_raises_option_error() -> None:
    with pytest.raises(OptionError, match="47 EMNIST classes"):
        charset_fold("€")
    with pytest.raises(OptionError, match="no character"):
        charset_fold("")
    assert sum(t >= 0 for t in charset_fold("digits")) == 10
    assert sum(t >= 0 for t in charset_fold("alnum")) == 47
    assert set(CHARSETS) == {"digits", "upper", "letters", "alnum"}


def test_charset_parse_resolves_once_and_passes_a_charset_through() -> None:
    cs = Charset.parse("upper")
    assert cs.spec == "upper" and str(cs) == "upper" and cs.fold == charset_fold("upper")
    assert Charset.parse(cs) is cs
    assert Charset.parse("0123456789ABCDEF") == Charset.parse("0123456789ABCDEF")
    assert hash(Charset.parse("digits")) == hash(Charset.parse("digits"))
    with pytest.raises(OptionError, match="string"):
        Charset.parse(5)  # type: ignore[arg-type]


def test_restrict_folds_case_and_renormalises() -> None:
    p = np.zeros((1, NUM_CLASSES), np.float32)
    p[0, index_of("a")] = 0.5
    p[0, index_of("A")] = 0.2
    p[0, index_of("4")] = 0.3
    out = Charset.parse("upper").restrict(p)
    assert out[0, index_of("A")] == pytest.approx(1.0) and out[0, index_of("4")] == 0
    assert out.dtype == np.float32


def test_restrict_without_normalising_keeps_only_the_mass_on_the_set() -> None:
    p = probs([{"W": 0.9, "0": 0.05, "O": 0.03}, {"0": 0.6, "O": 0.3}])
    digits = Charset.parse("digits")
    kept = digits.restrict(p, normalize=False)
    # the letter O folds onto nothing in "digits" (no case partner), so only 0's mass stays
    assert kept[0].sum() == pytest.approx(p[0, : len("0123456789")].sum(), abs=1e-6)
    assert kept[0].sum() < 0.1 and kept[1].sum() > 0.5
    assert digits.restrict(p).sum(1) == pytest.approx([1.0, 1.0])
    # a row with no mass on the set becomes uniform over it
    none = np.zeros((1, NUM_CLASSES), np.float32)
    none[0, index_of("W")] = 1.0
    out = digits.restrict(none)
    assert out[0, :10] == pytest.approx([0.1] * 10) and out[0, 10:].sum() == 0
