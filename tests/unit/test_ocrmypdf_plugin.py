"""The OCRmyPDF plugin's OcrElement tree and hooks (OCRmyPDF imported only when installed)."""

from __future__ import annotations

import pytest

from tests.helpers import sample_document, two_block_document

pytest.importorskip("ocrmypdf")

from handocr import ocrmypdf as plugin


def test_the_ocr_element_tree_holds_lines_words_and_characters() -> None:
    page = sample_document().pages[0]
    root = plugin.to_ocr_element(page, dpi=300.0, page_number=3)
    assert root.ocr_class == "ocr_page" and root.dpi == 300.0 and root.page_number == 3
    assert (root.bbox.right, root.bbox.bottom) == (page.width, page.height)
    (par,) = root.children
    words = [w for line in par.children for w in line.children]
    assert [w.text for w in words] == ["AB", "12", "Z"]
    assert [c.text for c in words[0].children] == ["A", "B"]
    assert words[0].confidence == page.lines[0].words[0].confidence
    assert (words[1].bbox.left, words[1].bbox.top) == (40, 0)
    empty = plugin.to_ocr_element(sample_document().pages[1])
    assert empty.children == []


def test_each_reading_block_is_a_paragraph_of_its_lines_with_their_baselines() -> None:
    page = two_block_document().pages[0]
    root = plugin.to_ocr_element(page)
    left, right = root.children
    assert [p.ocr_class for p in root.children] == ["ocr_par", "ocr_par"]
    assert [line.get_text_recursive() for line in left.children] == ["AB 12", "CD"]
    assert [line.get_text_recursive() for line in right.children] == ["Z"]
    assert (left.bbox.left, left.bbox.top, left.bbox.right, left.bbox.bottom) == (0, 0, 48, 32)
    assert (right.bbox.left, right.bbox.right) == (60, 68)
    first = left.children[0]  # baseline ((0, 12), (48, 11)) over the box (0, 0, 48, 12)
    assert first.baseline.slope == pytest.approx(-1 / 48)
    assert first.baseline.intercept == pytest.approx(0.0)
    assert (
        plugin.to_ocr_element(sample_document().pages[0]).children[0].children[0].baseline is None
    )


def test_the_engine_is_chosen_unless_another_is_asked_for() -> None:
    class Options:
        ocr_engine = "tesseract"

    assert isinstance(plugin.get_ocr_engine(None), plugin.HandocrEngine)
    assert plugin.get_ocr_engine(Options()) is None
    engine = plugin.HandocrEngine()
    assert engine.supports_generate_ocr() and "handocr" in str(engine)
    assert engine.languages(None) == set()


def test_tesseract_s_plugin_is_blocked_only_without_the_program(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    blocked = []

    class Manager:
        def set_blocked(self, name: str) -> None:
            blocked.append(name)

    monkeypatch.setattr(plugin.shutil, "which", lambda prog: "/usr/bin/tesseract")
    plugin.initialize(Manager())
    assert blocked == [] and plugin.register_options() is None
    monkeypatch.setattr(plugin.shutil, "which", lambda prog: None)
    plugin.initialize(Manager())
    assert blocked == [plugin.TESSERACT_PLUGIN]
    assert set(plugin.register_options()) == {"tesseract"}  # OCRmyPDF's validation reads it
