"""Form templates: loading, registration of moved scans, the batch reader's error rows."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from handocr.errors import RegistrationError, TemplateError
from handocr.result import Box
from handocr.template import (
    forms_to_csv,
    load_template,
    read_forms,
    register,
)
from tests.helpers import EXAMPLE_FORM

TEMPLATE = EXAMPLE_FORM.parent / "hsf_template.json"


def test_the_shipped_template_loads_with_its_28_digit_fields() -> None:
    t = load_template(TEMPLATE)
    assert (t.width, t.height) == (2560, 3300) and t.reference == EXAMPLE_FORM.resolve()
    digits = [f for f in t.fields if f.charset is not None and f.charset.spec == "digits"]
    assert len(t.fields) == 30 and len(digits) == 28
    assert t.fields[0].name == "03" and t.fields[0].box == Box(133, 812, 747, 912)
    assert t.fields[0].pattern == "[0-9]{10}"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"fields": [{"name": "a"}]}, "box"),
        ({"fields": [{"name": "a", "box": [0, 0, 9999, 10]}]}, "not inside"),
        ({"fields": [{"name": "a", "box": [0, 0, 5, 5], "charset": "€"}]}, "47 EMNIST"),
        ({"fields": [{"name": "a", "box": [0, 0, 5, 5], "pattern": "("}]}, "pattern"),
        ({"fields": [{"name": "a", "box": [0, 0, 5, 5]}] * 2}, "unique"),
        ({"reference": "missing.png"}, "not found"),
        ({"width": "wide"}, "width"),
    ],
)
def test_bad_templates_are_refused_with_the_reason(tmp_path: Path, change, message) -> None:  # type: ignore[no-untyped-def]
    raw = {"name": "t", "reference": str(EXAMPLE_FORM), "width": 2560, "height": 3300, "fields": []}
    raw.update(change)
    path = tmp_path / "t.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(TemplateError, match=message):
        load_template(path)
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(TemplateError, match="cannot read"):
        load_template(path)


def moved(
    image: np.ndarray, angle: float, scale: float, shift: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """The image rotated, scaled and shifted, and the 2x3 map from its pixels back."""
    h, w = image.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    m[:, 2] += shift
    return cv2.warpAffine(image, m, (w, h), borderValue=255), cv2.invertAffineTransform(m)


def test_registration_recovers_a_shift_rotation_and_scale() -> None:
    form = cv2.imread(str(EXAMPLE_FORM), cv2.IMREAD_GRAYSCALE)
    page, truth = moved(form, 2.0, 0.93, (40, -25))
    found = register(page, form)
    corners = np.array([[100, 100, 1], [2400, 3100, 1], [1200, 1600, 1]], np.float64)
    error = np.abs(corners @ found.T - corners @ truth.T).max()
    assert error < 4.0  # pixels of the 2560 x 3300 form
    with pytest.raises(RegistrationError):
        register(np.full((800, 600), 255, np.uint8), form)  # a blank page is not the form


def test_a_page_that_is_not_the_form_is_an_error_row_and_the_rest_are_read(tmp_path: Path) -> None:
    from tests.helpers import uniform_recognizer

    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((400, 300), 255, np.uint8))
    missing = tmp_path / "missing.png"
    t = load_template(TEMPLATE)
    results = list(
        read_forms(uniform_recognizer(), [str(blank), str(missing), str(EXAMPLE_FORM)], t)
    )
    assert [r.error is not None for r in results] == [True, True, False]
    assert isinstance(results[0].error, RegistrationError)
    assert set(results[2].fields) == {f.name for f in t.fields}
    rows = forms_to_csv(results, t).splitlines()
    assert rows[0].split(",")[:3] == ["source", "page", "03"] and rows[0].endswith(",error")
    assert len(rows) == 4 and rows[1].startswith(str(blank)) and rows[2].startswith(str(missing))
    assert "keypoint" in rows[1] or "line up" in rows[1]  # the registration's reason
    assert rows[3].split(",")[-1] == ""  # the form itself: no error
    assert results[2].to_dict()["fields"]["03"]["box"] == results[2].fields["03"].box.to_list()
