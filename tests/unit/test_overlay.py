"""Overlays: boxes and characters drawn on the page, one PNG per page."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from handocr.errors import OutputError
from handocr.overlay import draw_overlay, overlay_path, write_overlay
from handocr.result import Page
from tests.helpers import sample_document


def test_overlay_is_a_colour_copy_of_the_page_with_the_boxes() -> None:
    page = sample_document().pages[0]
    image = np.full((page.height, page.width), 255, np.uint8)
    out = draw_overlay(image, page)
    assert out.shape == (page.height, page.width, 3) and out.dtype == np.uint8
    assert (out != 255).any() and (image == 255).all()  # drawn on a copy
    blank = draw_overlay(image, Page(0, page.width, page.height, ()))
    assert (blank == 255).all()


def test_overlay_files_are_named_after_the_source_page(tmp_path: Path) -> None:
    assert overlay_path(tmp_path, Page(0, 5, 5, (), "scan.pdf#3")) == tmp_path / "scan-p3.png"
    assert overlay_path(tmp_path, Page(0, 5, 5, (), "dir/a.tif")) == tmp_path / "a.png"
    assert overlay_path(tmp_path, Page(4, 5, 5, ())) == tmp_path / "page5.png"
    page = sample_document().pages[0]
    image = np.full((page.height, page.width), 255, np.uint8)
    written = write_overlay(tmp_path / "deep", image, page)
    assert written == tmp_path / "deep" / "a.png"
    assert cv2.imread(str(written)).shape == (page.height, page.width, 3)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="cannot write"):
        write_overlay(blocker, image, page)
