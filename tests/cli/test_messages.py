"""What the command line says to a new user: the version, the help, and one line per mistake.

Each mistake is answered on stderr in one line, ``handocr: <option>: <what is wrong>; <what to
do>``, with its exit code, nothing on stdout and no library wording ("Invalid value for",
pydantic's "Value error", a traceback or a box drawn around it).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from handocr_cli.app import app
from typer.testing import CliRunner

from handocr import ExitCode
from handocr.formats import FORMATS
from handocr.version import __version__

runner = CliRunner()

FORMAT_NAMES = "text, json, hocr, tsv, alto, page, pdf"
LIBRARY_WORDING = ("Invalid value", "Value error", "Traceback", "Error", "│", "Usage:")


def _said(args: list[str], code: int) -> str:
    """Run ``handocr ARGS``; check the exit code and the one line on stderr; return it."""
    res = runner.invoke(app, args)
    assert res.exit_code == code, res.output
    assert res.stdout == ""
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    assert not any(w in lines[0] for w in LIBRARY_WORDING), lines[0]
    return lines[0]


def test_version_prints_the_installed_version() -> None:
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == ExitCode.OK
    assert res.stdout == f"handocr {__version__}\n" and res.stderr == ""
    assert re.fullmatch(r"handocr \d+\.\d+\.\d+\S*\n", res.stdout)


def test_unknown_format(page_file: Path) -> None:
    assert _said(["read", str(page_file), "--format", "docx"], ExitCode.USAGE) == (
        f"handocr: --format: 'docx' is not a format handocr writes; use one of {FORMAT_NAMES}, "
        "or csv with --template"
    )


def test_csv_without_a_template(use_tiny_weights: Path, page_file: Path) -> None:
    assert _said(["read", str(page_file), "-f", "csv"], ExitCode.USAGE) == (
        "handocr: --format csv writes a form's fields and needs --template FILE; without a "
        f"template, use one of {FORMAT_NAMES}"
    )


def test_a_template_with_a_page_format(use_tiny_weights: Path, page_file: Path) -> None:
    from tests.helpers import EXAMPLE_FORM

    template = EXAMPLE_FORM.parent / "hsf_template.json"
    args = ["read", str(page_file), "--template", str(template), "-f", "hocr"]
    assert _said(args, ExitCode.USAGE) == (
        "handocr: --template writes a form's fields as json, csv or text, not hocr; use -f json, "
        "-f csv or -f text"
    )


@pytest.mark.parametrize(
    ("pages", "message"),
    [
        ("5-2", "5-2 is reversed; write 2-5"),
        ("0", "there is no page 0; pages count from 1"),
        ("0-4", "0-4 has page 0, but pages count from 1; write 1-4"),
        ("1-x", "'1-x' is not a page number or range; write page numbers and ranges such as 1-3,7"),
    ],
)
def test_bad_page_selection(page_file: Path, pages: str, message: str) -> None:
    said = _said(["read", str(page_file), "--pages", pages], ExitCode.USAGE)
    assert said == f"handocr: --pages: {message}"


def test_missing_file(use_tiny_weights: Path, tmp_path: Path) -> None:
    missing = tmp_path / "scan.png"
    assert _said(["read", str(missing)], ExitCode.BAD_INPUT) == f"handocr: {missing}: no such file"


def test_a_folder_without_images(use_tiny_weights: Path, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no scans here")
    assert _said(["read", str(tmp_path)], ExitCode.BAD_INPUT) == (
        f"handocr: {tmp_path}: no images or PDFs in this directory "
        "(use --recursive for sub-directories)"
    )


def test_output_and_output_dir_together(page_file: Path, tmp_path: Path) -> None:
    args = ["read", str(page_file), "-o", str(tmp_path / "a.txt"), "--output-dir", str(tmp_path)]
    assert _said(args, ExitCode.USAGE) == (
        "handocr: --output and --output-dir were both given; use --output FILE for one file with "
        "every result, or --output-dir DIR for one file per input"
    )


@pytest.mark.parametrize(
    ("charset", "message"),
    [
        (
            "€",
            "character '€' of charset '€' is not one of the 47 EMNIST classes; use a name "
            "(digits, upper, letters, alnum) or characters from 0-9, A-Z, a-z",
        ),
        (
            "digitz",
            "'digitz' is not a charset name; did you mean digits? (the names are digits, upper, "
            "letters, alnum; anything else is read as the characters to allow)",
        ),
        (
            "DIGITS",
            "'DIGITS' is not a charset name; did you mean digits? (the names are digits, upper, "
            "letters, alnum; anything else is read as the characters to allow)",
        ),
        (
            "",
            "empty; use a name (digits, upper, letters, alnum) or the characters to allow, "
            "e.g. 0123456789ABCDEF",
        ),
    ],
)
def test_bad_charset(page_file: Path, charset: str, message: str) -> None:
    said = _said(["read", str(page_file), "--charset", charset], ExitCode.USAGE)
    assert said == f"handocr: --charset: {message}"


@pytest.mark.parametrize("charset", ["0123456789ABCDEF", "abc", "letters"])
def test_explicit_characters_are_still_a_charset(page_file: Path, charset: str) -> None:
    # parameters are checked in the order given: the charset passes, the format is refused
    args = ["read", str(page_file), "--charset", charset, "-f", "x"]
    assert _said(args, ExitCode.USAGE).startswith("handocr: --format: 'x'")


def test_unknown_model(use_tiny_weights: Path, page_file: Path) -> None:
    assert _said(["read", str(page_file), "-m", "resnet99"], ExitCode.USAGE) == (
        f"handocr: --model: there are no weights named 'resnet99' in {use_tiny_weights}; use one "
        "of cnn.tiny, cnn.tiny-b (arch or arch.tag), or set HANDOCR_WEIGHTS to a folder that "
        "has them"
    )


def test_unknown_line_member(use_tiny_weights: Path, page_file: Path) -> None:
    assert _said(["read", str(page_file), "--line-models", "crnn.x"], ExitCode.USAGE) == (
        f"handocr: --line-models: there are no line members named 'crnn.x' in {use_tiny_weights}; "
        "use none, or set HANDOCR_WEIGHTS to a folder that has them"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--voting", "most"], "--voting: 'most' is not a voting rule; use one of weighted, "
         "soft, hard"),
        (["--binarize", "otsuu"], "--binarize: 'otsuu' is not a binarisation method; did you mean "
         "otsu? use one of otsu, sauvola"),
        (["--kind", "typed"], "--kind: 'typed' is not a kind of word; use one of all, "
         "handwritten, printed"),
        (["--kind", "print"], "--kind: 'print' is not a kind of word; did you mean printed? "
         "use one of all, handwritten, printed"),
        (["--dpi", "high"], "--dpi: 'high' is not a whole number"),
        (["--dpi", "0"], "--dpi: 0 is out of range; use 1 or more"),
        (["--letter-prior", "-1"], "--letter-prior: -1 is out of range; use 0.0 or more"),
    ],
)  # fmt: skip
def test_bad_option_values(page_file: Path, args: list[str], message: str) -> None:
    assert _said(["read", str(page_file), *args], ExitCode.USAGE) == f"handocr: {message}"


def test_no_input() -> None:
    assert _said(["read"], ExitCode.USAGE) == (
        "handocr: handocr read needs INPUT... (image or PDF files, folders of them, or - for "
        "standard input); see 'handocr read --help'"
    )


def test_a_missing_required_option(tmp_path: Path) -> None:
    assert _said(["batch", str(tmp_path)], ExitCode.USAGE) == (
        "handocr: handocr batch needs --output-dir DIR (folder of rows, page results and "
        "summary); see 'handocr batch --help'"
    )


def test_batch_bad_kind(tmp_path: Path) -> None:
    args = ["batch", str(tmp_path), "--output-dir", str(tmp_path / "out"), "--kind", "typed"]
    assert _said(args, ExitCode.USAGE) == (
        "handocr: --kind: 'typed' is not a kind of word; use one of all, handwritten, printed"
    )


def test_unknown_option(page_file: Path) -> None:
    assert _said(["read", str(page_file), "--colour"], ExitCode.USAGE) == (
        "handocr: handocr read has no option --colour; see 'handocr read --help'"
    )


def test_an_option_without_its_value(page_file: Path) -> None:
    assert _said(["read", str(page_file), "-o"], ExitCode.USAGE) == (
        "handocr: Option '-o' requires an argument (see 'handocr read --help')"
    )


def test_unknown_command() -> None:
    assert _said(["rread"], ExitCode.USAGE) == (
        "handocr: No such command 'rread'. Did you mean 'read'? (see 'handocr --help')"
    )


# --- the help --------------------------------------------------------------------------------


def _help(*command: str) -> str:
    res = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == ExitCode.OK, res.output
    return res.stdout


COMMANDS = [
    "read", "batch", "serve", "report", "train", "calibrate", "fit-ensemble", "fit-verifier",
    "fit-fusion", "export-onnx", "eval", "eval-pages",
]  # fmt: skip


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_help_shows_values_by_name_not_by_python_type(command: str) -> None:
    text = _help(*filter(None, [command]))
    assert not re.search(r"<(bool|str|int|float|path|file|dir|list)\b", text), text
    assert "{" not in text.split("\n\n")[0] and "root" not in text  # usage: handocr ...


def test_read_help_names_its_inputs_values_and_every_format() -> None:
    text = _help("read")
    assert "Usage: handocr read [OPTIONS] INPUT..." in text
    for shown in ("INPUT...", "-f FORMAT", "-o FILE", "--output-dir DIR", "--pages RANGES"):
        assert re.search(r"\s+".join(map(re.escape, shown.split())), text), shown
    assert re.search(r"--recursive\s+-r\s+also read", text)  # a flag takes no value
    for spec in FORMATS.values():
        assert f"{spec.name}: {spec.description}" in " ".join(text.split())
    assert "csv: with --template" in text


def test_top_level_help_lists_version() -> None:
    assert re.search(r"--version\s+print the version and exit", _help())
