"""The command line as a program: ``python -m handocr``, help without torch, Ctrl-C, defaults."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

from handocr import ExitCode, recognize
from handocr.options import ReadOptions


def test_python_dash_m_runs(use_tiny_weights: Path, page_file: Path) -> None:
    env = {**os.environ, "HANDOCR_WEIGHTS": str(use_tiny_weights)}
    res = subprocess.run(
        [sys.executable, "-m", "handocr", "read", str(page_file)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout == recognize(page_file).text + "\n"


def test_cli_help_does_not_import_torch() -> None:
    code = (
        "import sys; from handocr_cli.app import app; from typer.testing import CliRunner; "
        "r = CliRunner().invoke(app, ['read', '--help']); "
        "print(r.exit_code, 'torch' in sys.modules, 'timm' in sys.modules, "
        "'--letter-prior' in r.output)"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert res.stdout.split() == ["0", "False", "False", "True"]


def test_ctrl_c_is_exit_130(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    import handocr_cli.app as cli

    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "app", interrupted)
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == ExitCode.INTERRUPTED
    assert "interrupted" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("module", "command"), [("read", "read"), ("evaluate", "eval_pages"), ("evaluate", "eval_")]
)
def test_cli_defaults_come_from_read_options(module: str, command: str) -> None:
    # every reading option the command takes defaults to ReadOptions' own default
    import importlib

    cli = importlib.import_module(f"handocr_cli.{module}")
    defaults = ReadOptions()
    params = inspect.signature(getattr(cli, command)).parameters
    # (read's PAGES argument is its inputs; the page selection is --pages, page_ranges)
    shared = [n for n in params if hasattr(defaults, n) and n != "pages"]
    assert {"device", "backend", "voting", "cascade"} <= set(shared)
    for name in shared:
        default = params[name].default
        default = getattr(default, "value", default)  # enums (voting)
        expected = getattr(defaults, name)
        if name == "cascade":
            expected = str(expected)  # typed as text on the command line
        assert default == expected, name
    if command == "read":
        assert {"dpi", "deskew", "binarize", "letter_prior", "charset"} <= set(shared)
        assert params["page_ranges"].default is None and defaults.pages is None


def test_the_cli_module_is_loaded_once_under_its_package_name() -> None:
    import handocr_cli.app as cli

    assert cli.__name__ == "handocr_cli.app" and "cli.app" not in sys.modules
    assert Path(cli.__file__).resolve().parent.name == "cli"  # the folder, packaged as handocr_cli


def test_no_test_imports_the_cli_folder_as_a_module_of_its_own() -> None:
    # `import cli.app` would load the commands a second time, as another module object
    import ast

    from tests.helpers import HERE

    found = []
    for path in HERE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and node.level == 0
                else []
            )
            found += [f"{path.name}: {n}" for n in names if n == "cli" or n.startswith("cli.")]
    assert found == []
