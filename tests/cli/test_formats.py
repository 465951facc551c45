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


def test_template_reading_writes_json_lines_and_csv_rows(
    use_tiny_weights: Path, tmp_path: Path
) -> None:
    import json

    from tests.helpers import EXAMPLE_FORM

    template = EXAMPLE_FORM.parent / "hsf_template.json"
    res = runner.invoke(app, ["read", str(EXAMPLE_FORM), "--template", str(template), "-f", "json"])
    assert res.exit_code == 0, res.output
    (row,) = [json.loads(line) for line in res.stdout.splitlines()]
    assert row["page"] == 1 and len(row["fields"]) == 30  # the page's own 1-based number
    assert set(row["fields"]["03"]) >= {"text", "confidence", "box", "valid"}
    blank = tmp_path / "blank.png"
    Image.new("L", (300, 400), 255).save(blank)
    out = tmp_path / "rows.csv"
    args = [
        "read",
        str(EXAMPLE_FORM),
        str(blank),
        "--template",
        str(template),
        "-f",
        "csv",
        "-o",
        str(out),
    ]
    res = runner.invoke(app, args)
    assert res.exit_code == ExitCode.PARTIAL  # the blank page is not the form; the form was read
    rows = out.read_text().splitlines()
    assert len(rows) == 3 and rows[0].startswith("source,page,03")
    res = runner.invoke(app, ["read", str(EXAMPLE_FORM), "-f", "csv"])
    assert res.exit_code == ExitCode.USAGE
    bad = tmp_path / "bad.json"
    bad.write_text("{}", encoding="utf-8")
    res = runner.invoke(app, ["read", str(EXAMPLE_FORM), "--template", str(bad)])
    assert res.exit_code == ExitCode.USAGE and "width" in res.stderr


def test_inputs_of_the_same_name_get_distinct_output_files(
    use_tiny_weights: Path, page_file: Path, tmp_path: Path
) -> None:
    import shutil

    for year in ("2023", "2024"):
        (tmp_path / "scans" / year).mkdir(parents=True)
        shutil.copy(page_file, tmp_path / "scans" / year / "001.png")
    out = tmp_path / "out"
    res = runner.invoke(app, ["read", "-r", str(tmp_path / "scans"), "--output-dir", str(out)])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == ["001.png.txt", "001.png~2.txt"]
    assert "another input has its name" in res.stderr
