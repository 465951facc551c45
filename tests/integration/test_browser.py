"""The service's page in a real browser: Debian's chromium driven by Playwright (issue #16)."""

from __future__ import annotations

import shutil

import pytest

from tests.helpers import EXAMPLE_FORM, running_server, stroke_on_pad

pytestmark = [pytest.mark.slow, pytest.mark.weights]


@pytest.fixture(scope="module")
def server():  # type: ignore[no-untyped-def]
    pytest.importorskip("fastapi")
    with running_server() as url:
        yield url


def test_the_page_reads_an_uploaded_form_and_the_writing_pad(server: str) -> None:
    sync = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed")
    with sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(server)
            page.set_input_files("#file", str(EXAMPLE_FORM))
            page.wait_for_function("document.querySelector('#text').textContent.length > 0")
            text = "".join(page.inner_text("#text").split())
            for digits in ("0123456789", "403875", "625502", "676687"):  # handwritten fields
                assert digits in text
            assert "characters" in page.inner_text("#status")
            # hovering over a character shows its reading and alternatives
            box = page.locator("#page").bounding_box()
            assert box is not None and box["width"] > 100
            first = page.evaluate(
                "({b: boxes[0], s: scale, w: document.getElementById('page').width})"
            )
            b = first["b"]
            s = first["s"] * box["width"] / first["w"]  # page pixels -> CSS pixels
            x, y = box["x"] + (b["x0"] + b["x1"]) / 2 * s, box["y"] + (b["y0"] + b["y1"]) / 2 * s
            page.mouse.move(x - 1, y)
            page.mouse.move(x, y)
            page.wait_for_function("document.getElementById('tip').style.display === 'block'")
            tip = page.inner_text("#tip")
            assert page.is_visible("#tip") and b["char"]["text"] in tip and "%" in tip
            # each word is outlined in its kind's colour; the kind filter reads the scan again
            kinds = page.evaluate("[...new Set(words.map((w) => w.kind))]")
            assert "handwritten" in kinds and set(kinds) <= {"handwritten", "printed"}
            for kind in ("printed", "handwritten"):
                page.select_option("#kind", kind)
                page.wait_for_function(
                    f"words.length > 0 && words.every((w) => w.kind === '{kind}')"
                )
            assert "403875" in "".join(page.inner_text("#text").split())
            # the writing pad: a vertical stroke reads as one character with the members' votes
            stroke_on_pad(page)
            page.wait_for_function("document.querySelectorAll('#votes tbody tr').length > 0")
            assert page.inner_text("#padtext").strip()
        finally:
            browser.close()
