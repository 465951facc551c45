"""``handocr read -f pdf|alto|page``: searchable PDFs and archive XML from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from handocr_cli.app import app
from PIL import Image
from typer.testing import CliRunner

from handocr import ExitCode, recognize

runner = CliRunner()
SCHEMAS = Path(__file__).parents[1] / "data" / "schemas"
etree = pytest.importorskip("lxml.etree")


def test_pdf_of_a_multi_page_tiff_is_one_pdf_with_its_pages_and_words(
    use_tiny_weights: Path, tiff5: Path, tmp_path: Path
) -> None:
    pdfium = pytest.importorskip("pypdfium2")
    out = tmp_path / "out" / "five.pdf"
    res = runner.invoke(app, ["read", str(tiff5), "-f", "pdf", "-o", str(out), "--dpi", "150"])
    assert res.exit_code == 0, res.output
    pdf = pdfium.PdfDocument(out.read_bytes())
    assert len(pdf) == 5
    doc = recognize(tiff5)
    with Image.open(tiff5) as im:
        for k, page in enumerate(pdf):
            im.seek(k)
            w, h = page.get_size()
            assert (round(w * 150 / 72), round(h * 150 / 72)) == im.size
            text = page.get_textpage().get_text_range().split()
            assert text == doc.pages[k].text.split()
    assert oct(out.stat().st_mode & 0o777) != oct(0o600)  # not mkstemp's private mode


def test_pdf_to_stdout_and_per_input_files(
    use_tiny_weights: Path, page_file: Path, tiff5: Path, tmp_path: Path
) -> None:
    res = runner.invoke(app, ["read", str(page_file), "-f", "pdf"])
    assert res.exit_code == 0 and res.stdout_bytes.startswith(b"%PDF")
    res = runner.invoke(
        app, ["read", str(page_file), str(tiff5), "-f", "pdf", "--output-dir", str(tmp_path)]
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "page.png.pdf").is_file() and (tmp_path / "five.tif.pdf").is_file()


def test_alto_of_a_multi_page_pdf_validates(use_tiny_weights: Path, tmp_path: Path) -> None:
    from tests.helpers import frames

    pdf = tmp_path / "three.pdf"
    pages = frames(3)
    pages[0].save(pdf, save_all=True, append_images=pages[1:], resolution=72)
    schema = etree.XMLSchema(etree.parse(str(SCHEMAS / "alto" / "alto-4-4.xsd")))
    res = runner.invoke(app, ["read", str(pdf), "-f", "alto", "--dpi", "72"])
    assert res.exit_code == 0, res.output
    root = etree.fromstring(res.stdout_bytes)
    schema.assertValid(root)
    assert len(root.findall(".//{*}Page")) == 3


def test_page_xml_is_one_file_per_page_and_validates(
    use_tiny_weights: Path, tiff5: Path, tmp_path: Path
) -> None:
    schema = etree.XMLSchema(etree.parse(str(SCHEMAS / "page" / "pagecontent-2019-07-15.xsd")))
    res = runner.invoke(app, ["read", str(tiff5), "-f", "page", "--output-dir", str(tmp_path)])
    assert res.exit_code == 0, res.output
    files = sorted(tmp_path.glob("*.page.xml"))
    assert [f.name for f in files] == [f"five.tif.{k}.page.xml" for k in range(1, 6)]
    for f in files:
        schema.assertValid(etree.parse(str(f)))
    res = runner.invoke(app, ["read", str(tiff5), "-f", "page"])
    assert res.exit_code == ExitCode.USAGE and "one page" in res.stderr
