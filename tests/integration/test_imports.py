"""The package's imports: what ``import handocr`` loads, and no import cycles."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.helpers import REPO


def _modules_after(code: str) -> dict[str, bool]:
    probe = (
        f"{code}; import json, sys; "
        "print(json.dumps({m: m in sys.modules for m in ('torch', 'timm', 'cv2', 'onnxruntime')}))"
    )
    res = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(res.stdout)


def test_import_handocr_imports_no_torch_timm_or_cv2() -> None:
    loaded = _modules_after("import handocr")
    assert loaded == {"torch": False, "timm": False, "cv2": False, "onnxruntime": False}
    training = (
        "import handocr, sys; print([m for m in sys.modules if m.startswith('handocr.train')])"
    )
    res = subprocess.run(
        [sys.executable, "-c", training], capture_output=True, text=True, check=True, timeout=120
    )
    assert res.stdout.strip() == "[]"  # nor training code (the synthetic pages live there)
    # the probe does see a heavy import when there is one
    assert _modules_after("import handocr.models.factory, torch")["torch"] is True


def test_the_public_api_is_importable_without_torch() -> None:
    loaded = _modules_after(
        "from handocr import ReadOptions, Recognizer, recognize; "
        "from handocr.options import ReadOptions as R; R(charset='digits', pages='1-2')"
    )
    assert not loaded["torch"] and not loaded["timm"]


def test_import_graph_has_no_cycles_or_upward_imports() -> None:
    res = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "import_graph.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "cycles: none" in res.stdout
