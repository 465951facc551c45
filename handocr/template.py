"""Zonal reading of forms by template: register the scan to the form, read each field.

A template (JSON, :func:`load_template`) names the form's fields: a box in the pixels of a
reference image of the form, a charset and optionally a pattern the text must match. A page is
first **registered** to the reference (:func:`register`): ORB keypoints (Rublee et al. 2011,
"ORB: an efficient alternative to SIFT or SURF") of both images, downscaled to at most
:data:`REGISTER_SIDE` pixels, are matched by Hamming distance with Lowe's ratio test (0.75), and
a similarity transform (shift, rotation, uniform scale) is fitted to the matches by RANSAC
(OpenCV's ``estimateAffinePartial2D``), so shifted, scaled or slightly rotated scans line up.
The page is then warped into the reference's frame, each field is cut out (:data:`FIELD_MARGIN`)
and read with its charset (all fields of a page in shared
classification batches), and each field's box is reported in the input page's pixels.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from handocr.errors import (
    HandocrError,
    OptionError,
    RegistrationError,
    TemplateError,
)
from handocr.labels import Charset
from handocr.result import Box

if TYPE_CHECKING:
    from handocr.api import Recognizer

__all__ = [
    "FIELD_MARGIN",
    "MIN_INLIERS",
    "REGISTER_SIDE",
    "Field",
    "FieldReading",
    "FormResult",
    "FormTemplate",
    "RegistrationError",
    "TemplateError",
    "forms_to_csv",
    "load_template",
    "read_form",
    "read_forms",
    "register",
]

REGISTER_SIDE = 1200
"""Longest side (pixels) the images are downscaled to for finding keypoints."""

MIN_INLIERS = 25
"""Fewest RANSAC inliers for a registration to be trusted."""

FIELD_MARGIN = 0.0
"""Margin added around each field box before reading, as a share of the box's height (0: the
box as drawn; a margin takes in the comb box's borders, which read as ``1``)."""


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a form.

    Attributes
    ----------
    name : str
    box : Box
        In the reference image's pixels.
    charset : Charset or None
        The characters the field may hold (None: any of the 47 classes).
    pattern : str or None
        A regular expression the whole text, whitespace removed, should match
        (``re.fullmatch``), or None.
    """

    name: str
    box: Box
    charset: Charset | None = None
    pattern: str | None = None


@dataclass(frozen=True, slots=True)
class FormTemplate:
    """A form: its reference image and its fields.

    Attributes
    ----------
    name : str
    reference : Path
        Image of the form the boxes refer to (a blank or filled copy).
    width, height : int
        Size of the reference image, pixels.
    fields : tuple of Field
    """

    name: str
    reference: Path
    width: int
    height: int
    fields: tuple[Field, ...]


@dataclass(frozen=True, slots=True)
class FieldReading:
    """What one field holds.

    Attributes
    ----------
    text : str
        Words joined by single spaces.
    confidence : float
        Mean confidence of its characters, in [0, 1]; 0.0 for an empty field.
    box : Box
        The field's box in the input page's pixels.
    valid : bool or None
        Whether ``text`` (whitespace removed) matches the field's pattern; None without one.
    """

    text: str
    confidence: float
    box: Box
    valid: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form: ``{"text", "confidence", "box": [x0, y0, x1, y1], "valid"}``."""
        out: dict[str, Any] = {
            "text": self.text,
            "confidence": round(self.confidence, 4),
            "box": self.box.to_list(),
        }
        if self.valid is not None:
            out["valid"] = self.valid
        return out


def load_template(path: Path) -> FormTemplate:
    """Read a template file.

    The JSON object holds ``name``, ``reference`` (an image path, relative to the template
    file), ``width``/``height`` of that image, and ``fields``: a list of objects with
    ``name``, ``box`` (``[x0, y0, x1, y1]`` in reference pixels), optional ``charset`` (as
    ``--charset``: ``digits``, ``upper``, ``letters``, ``alnum`` or explicit characters) and
    optional ``pattern`` (a regular expression for the whole text).

    Raises
    ------
    TemplateError
        Unreadable file, bad JSON, a missing or malformed entry, duplicate field names, a box
        outside the reference, a bad charset or pattern, or a missing reference image.
    """
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise TemplateError(f"{path}: cannot read the template ({err})") from err
    try:
        width, height = int(raw["width"]), int(raw["height"])
        reference = (Path(path).parent / str(raw["reference"])).resolve()
        entries = list(raw["fields"])
    except (KeyError, TypeError, ValueError) as err:
        raise TemplateError(f"{path}: needs width, height, reference and fields ({err})") from err
    if not reference.is_file():
        raise TemplateError(f"{path}: reference image {reference} not found")
    fields = []
    for k, entry in enumerate(entries):
        where = f"{path}: field {k + 1}"
        try:
            name = str(entry["name"])
            x0, y0, x1, y1 = (int(v) for v in entry["box"])
            box = Box(x0, y0, x1, y1)
        except (KeyError, TypeError, ValueError) as err:
            raise TemplateError(f"{where}: needs a name and a box [x0, y0, x1, y1]") from err
        if box.width <= 0 or box.height <= 0 or x1 > width or y1 > height or x0 < 0 or y0 < 0:
            raise TemplateError(f"{where} ({name}): box {box.to_list()} not inside the form")
        charset = None
        if entry.get("charset"):
            try:
                charset = Charset.parse(str(entry["charset"]))
            except (OptionError, ValueError) as err:
                raise TemplateError(f"{where} ({name}): {err}") from err
        pattern = entry.get("pattern")
        if pattern is not None:
            try:
                re.compile(str(pattern))
            except re.error as err:
                raise TemplateError(f"{where} ({name}): bad pattern ({err})") from err
        fields.append(Field(name, box, charset, None if pattern is None else str(pattern)))
    names = [f.name for f in fields]
    if len(set(names)) != len(names):
        raise TemplateError(f"{path}: field names must be unique")
    return FormTemplate(
        str(raw.get("name", Path(path).stem)), reference, width, height, tuple(fields)
    )


def _keypoints(image: NDArray[np.uint8]) -> tuple[Any, Any, float]:
    import cv2

    scale = min(1.0, REGISTER_SIDE / max(image.shape))
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    orb = cv2.ORB_create(nfeatures=4000)  # type: ignore[attr-defined]
    kp, desc = orb.detectAndCompute(small, None)
    return kp, desc, scale


def register(page: NDArray[np.uint8], reference: NDArray[np.uint8]) -> NDArray[np.float64]:
    """Return the similarity transform that maps page pixels onto reference pixels.

    Parameters
    ----------
    page, reference : ndarray of uint8, shape (H, W)
        Gray images.

    Returns
    -------
    ndarray of float64, shape (2, 3)
        ``[x_ref, y_ref] = M @ [x, y, 1]``.

    Raises
    ------
    RegistrationError
        Too few keypoints, matches or RANSAC inliers (:data:`MIN_INLIERS`): the page is not
        (a scan of) this form.
    """
    import cv2

    kp_p, d_p, s_p = _keypoints(page)
    kp_r, d_r, s_r = _keypoints(reference)
    if d_p is None or d_r is None or len(kp_p) < MIN_INLIERS or len(kp_r) < MIN_INLIERS:
        raise RegistrationError("too few keypoints to register the page to the template")
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    good = [
        m[0]
        for m in matcher.knnMatch(d_p, d_r, k=2)
        if len(m) == 2 and m[0].distance < 0.75 * m[1].distance
    ]
    if len(good) < MIN_INLIERS:
        raise RegistrationError(f"only {len(good)} keypoint matches with the template's form")
    src = np.array([kp_p[m.queryIdx].pt for m in good], np.float32) / s_p
    dst = np.array([kp_r[m.trainIdx].pt for m in good], np.float32) / s_r
    matrix, inliers = cv2.estimateAffinePartial2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=3.0 / s_r
    )
    if matrix is None or inliers is None or int(inliers.sum()) < MIN_INLIERS:
        raise RegistrationError("the page does not line up with the template's form")
    return matrix.astype(np.float64)


def read_form(
    recognizer: Recognizer,
    page: NDArray[np.uint8],
    template: FormTemplate,
    *,
    reference: NDArray[np.uint8] | None = None,
) -> dict[str, FieldReading]:
    """Register a page to the template and read every field with its charset.

    Parameters
    ----------
    recognizer : Recognizer
        Its options apply, but for each field's charset.
    page : ndarray of uint8, shape (H, W)
        A gray scan of the form.
    template : FormTemplate
    reference : ndarray of uint8, optional
        The reference image, if already loaded (else read from ``template.reference``).

    Returns
    -------
    dict of str to FieldReading
        In the template's field order.

    Raises
    ------
    RegistrationError
        The page does not line up with the form.
    InputImageError
        The reference image cannot be read.
    """
    import cv2

    from handocr.io import load_pages
    from handocr.preprocess import map_box

    if reference is None:
        (reference,) = load_pages(template.reference)
    matrix = register(page, reference)
    warped: NDArray[np.uint8] = np.asarray(
        cv2.warpAffine(
            page,
            matrix,
            (template.width, template.height),
            flags=cv2.INTER_LINEAR,
            borderValue=255,
        ),
        np.uint8,
    )
    inverse = cv2.invertAffineTransform(matrix).astype(np.float64)
    by_charset: dict[Charset | None, list[Field]] = {}
    for f in template.fields:
        by_charset.setdefault(f.charset, []).append(f)
    out: dict[str, FieldReading] = {}
    for charset, fields in by_charset.items():
        crops: list[NDArray[np.uint8]] = []
        for f in fields:
            m = round(FIELD_MARGIN * f.box.height)
            x0, y0 = max(0, f.box.x0 - m), max(0, f.box.y0 - m)
            x1, y1 = min(template.width, f.box.x1 + m), min(template.height, f.box.y1 + m)
            crops.append(np.ascontiguousarray(warped[y0:y1, x0:x1]))
        reader = recognizer.with_options(charset=charset, deskew=False)
        for f, record in zip(fields, reader.read_images(crops), strict=True):
            read = record.unwrap()
            chars = [c for line in read.lines for c in line.all_chars()]
            text = " ".join(w.text for line in read.lines for w in line.words)
            conf = float(np.mean([c.confidence for c in chars])) if chars else 0.0
            bare = "".join(text.split())
            valid = None if f.pattern is None else re.fullmatch(f.pattern, bare) is not None
            box = map_box(f.box, inverse, page.shape[1], page.shape[0])
            out[f.name] = FieldReading(text, conf, box, valid)
    return {f.name: out[f.name] for f in template.fields}


@dataclass(frozen=True, slots=True)
class FormResult:
    """One page of one input read by template: its fields, or the error that stopped it.

    Attributes
    ----------
    source : str
        The input's label (file name).
    page : int
        The page's own 1-based number within the input (as ``handocr batch`` rows; kept under
        a page selection). For an input that could not be read, the page it stopped on.
    fields : dict of str to FieldReading, or None
    error : HandocrError or None
    """

    source: str
    page: int
    fields: dict[str, FieldReading] | None = None
    error: HandocrError | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form: ``{"source", "page", "fields": {name: ...}}`` or an ``error``."""
        out: dict[str, Any] = {"source": self.source, "page": self.page}
        if self.fields is not None:
            out["fields"] = {k: v.to_dict() for k, v in self.fields.items()}
        if self.error is not None:
            out["error"] = str(self.error)
        return out


def read_forms(
    recognizer: Recognizer, sources: Sequence[str], template: FormTemplate
) -> Iterator[FormResult]:
    """Read every page of every input by template, reporting failures instead of raising.

    Parameters
    ----------
    recognizer : Recognizer
        Its ``dpi`` and ``pages`` options choose what is rendered of PDFs and multi-page files.
    sources : sequence of str
        Input files (``handocr.io.expand_inputs``).
    template : FormTemplate

    Yields
    ------
    FormResult
        Per page, in input order; an input that cannot be read, or a page that does not line
        up with the form, is one result with its ``error`` and the rest are still read.

    Raises
    ------
    InputImageError
        The template's reference image cannot be read.
    """
    from handocr.io import load_pages
    from handocr.pagestream import load_records

    (reference,) = load_pages(template.reference)
    for record, _, _ in load_records(sources, recognizer.options, raise_errors=False):
        if record.error is not None:
            yield FormResult(record.source, record.number, error=record.error)
        elif record.image is not None:
            try:
                fields = read_form(recognizer, record.image, template, reference=reference)
            except RegistrationError as err:
                yield FormResult(record.source, record.number, error=err)
                continue
            yield FormResult(record.source, record.number, fields)


def forms_to_csv(results: Iterable[FormResult], template: FormTemplate) -> str:
    """Return one CSV row per page: ``source``, ``page``, each field's text, ``error``."""
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    names = [f.name for f in template.fields]
    writer.writerow(["source", "page", *names, "error"])
    for r in results:
        texts = [r.fields[n].text if r.fields else "" for n in names]
        writer.writerow([r.source, r.page, *texts, "" if r.error is None else str(r.error)])
    return buf.getvalue()
