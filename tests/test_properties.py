"""Property tests: random arrays and bytes meet only documented exceptions and keep invariants."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays
from PIL import Image

from handocr.errors import InputImageError
from handocr.io import iter_pages
from handocr.labels import LABELS
from handocr.preprocess import estimate_skew, ink_map

pytestmark = pytest.mark.property

DTYPES = st.sampled_from([np.uint8, np.uint16, np.int32, np.float32, np.bool_])


@given(arrays(DTYPES, array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=12)))
def test_any_array_is_a_page_or_an_input_error(arr: np.ndarray) -> None:
    try:
        pages = list(iter_pages(arr))
    except InputImageError:
        return
    assert len(pages) == 1
    img = pages[0].image
    assert img.dtype == np.uint8 and img.ndim == 2 and min(img.shape) >= 1


@given(st.binary(max_size=300))
def test_any_bytes_are_pages_or_an_input_error(data: bytes) -> None:
    try:
        pages = list(iter_pages(data))
    except InputImageError:
        return
    for p in pages:
        assert p.image.dtype == np.uint8 and p.image.ndim == 2


@given(
    arrays(np.uint8, st.tuples(st.integers(1, 40), st.integers(1, 40))),
    st.sampled_from(["PNG", "TIFF", "BMP", "JPEG"]),
    st.integers(0, 400),
)
def test_truncated_encodings_are_pages_or_an_input_error(
    arr: np.ndarray, fmt: str, cut: int
) -> None:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt)
    data = buf.getvalue()[: max(1, len(buf.getvalue()) - cut)]
    try:
        pages = list(iter_pages(data))
    except InputImageError:
        return
    for p in pages:
        assert p.image.shape[0] >= 1 and p.image.dtype == np.uint8


@given(arrays(np.uint8, st.tuples(st.integers(1, 120), st.integers(1, 120))))
def test_skew_estimate_is_a_bounded_angle(page: np.ndarray) -> None:
    angle = estimate_skew(ink_map(page))
    assert isinstance(angle, float) and -7.0 <= angle <= 7.0


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(arrays(np.uint8, st.tuples(st.integers(1, 90), st.integers(1, 90))))
def test_random_pages_read_end_to_end(use_tiny_weights: Path, page: np.ndarray) -> None:
    from handocr.api import Recognizer

    doc = Recognizer(device="cpu").read(page)
    (out,) = doc.pages
    assert (out.width, out.height) == (page.shape[1], page.shape[0])
    for line in out.lines:
        for c in line.all_chars():
            assert c.text in LABELS or c.text == "I"
            assert 0.0 <= c.confidence <= 1.0
            assert 0 <= c.box.x0 < c.box.x1 <= page.shape[1]
            assert 0 <= c.box.y0 < c.box.y1 <= page.shape[0]


@pytest.mark.property
@given(
    arrays(np.uint8, st.tuples(st.integers(1, 60), st.integers(1, 60))),
    st.integers(0, 254),
    st.integers(0, 60),
)
def test_hysteresis_threshold_equals_scikit_image(level: np.ndarray, low: int, gap: int) -> None:
    from skimage.filters import apply_hysteresis_threshold

    from handocr.preprocess import hysteresis_threshold

    high = min(255.0, low + gap + 0.5)
    expected = apply_hysteresis_threshold(level.astype(np.float32), float(low), high)
    np.testing.assert_array_equal(hysteresis_threshold(level, float(low), high), expected)


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float64, st.tuples(st.integers(1, 8), st.just(47)), elements=st.floats(0.0, 1.0)),
    st.lists(st.booleans(), min_size=8, max_size=8),
    st.floats(0.0, 2.0),
)
def test_context_keeps_rows_distributions(raw: np.ndarray, flags: list[bool], prior: float) -> None:
    # line, case and letter-prior context: any probabilities in, probability rows out, and the
    # letter prior never moves mass between letters and digits
    from handocr.decode import apply_case_context, apply_letter_prior, apply_line_context
    from handocr.labels import DIGITS

    p = (raw + 1e-6) / (raw + 1e-6).sum(1, keepdims=True)
    p = p.astype(np.float32)
    starts = [True, *flags[: len(p) - 1]]
    weighted = apply_letter_prior(p, prior)
    digits = [LABELS.index(d) for d in DIGITS]
    np.testing.assert_allclose(weighted[:, digits], p[:, digits], rtol=1e-4, atol=1e-7)
    out, lower = apply_case_context(apply_line_context(weighted, starts), starts)
    assert out.shape == p.shape and lower.shape == (len(p),)
    assert np.all(out >= 0)
    np.testing.assert_allclose(out.sum(1), 1.0, rtol=1e-4)
