"""``handocr serve`` lets in only its users (issue #22): the API key in the service and the CLI."""

from __future__ import annotations

import hmac
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import running_server, stroke_on_pad

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient
from handocr_cli.app import app as cli
from handocr_cli.serve import is_loopback
from typer.testing import CliRunner

from handocr import Document, ExitCode, OptionError, recognize
from handocr.service import ServiceConfig, create_app

KEY = "k3y-0f-the-s3rvice_" + "x" * 24


@pytest.fixture
def keyed(use_tiny_weights: Path):  # type: ignore[no-untyped-def]
    with TestClient(create_app(ServiceConfig(max_upload_mb=1.0, api_key=KEY))) as c:
        yield c


def upload(client, data: bytes, headers: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    return client.post("/v1/read", files={"file": ("page.png", data)}, headers=headers or {})


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def assert_401(res: Any, challenge: str) -> None:
    assert res.status_code == 401, res.text
    assert res.headers["content-type"] == "application/json"
    assert res.headers["www-authenticate"] == challenge
    body = res.json()
    assert set(body) == {"code", "message"} and body["code"] == "UNAUTHORIZED" and body["message"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer"}, {"Authorization": f"Basic {KEY}"}, {"Authorization": KEY}],
)
def test_a_request_without_the_key_is_401_json(keyed, page_file: Path, headers) -> None:  # type: ignore[no-untyped-def]
    assert_401(upload(keyed, page_file.read_bytes(), headers), "Bearer")
    assert_401(keyed.get("/v1/models", headers=headers), "Bearer")
    assert_401(keyed.get("/v1/no-such-route", headers=headers), "Bearer")  # guarded by default


@pytest.mark.parametrize("key", [KEY + "x", KEY[:-1], "x" * len(KEY), KEY.upper(), "é" * 8])
def test_a_wrong_key_is_401(keyed, page_file: Path, key: str) -> None:  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {key}".encode()}  # bytes: UTF-8 "é" reaches the server
    assert_401(upload(keyed, page_file.read_bytes(), headers), 'Bearer error="invalid_token"')
    assert_401(keyed.get("/v1/models", headers=headers), 'Bearer error="invalid_token"')


def test_the_right_key_reads_as_usual(keyed, page_file: Path) -> None:  # type: ignore[no-untyped-def]
    res = upload(keyed, page_file.read_bytes(), bearer(KEY))
    assert res.status_code == 200 and res.headers["content-type"] == "application/json"
    assert Document.from_json(res.text).text == recognize(page_file).text
    res = keyed.get("/v1/models", headers={"Authorization": f"bearer   {KEY}"})
    assert res.status_code == 200 and res.json()["models"]


def test_the_key_is_checked_before_the_body_is_read(keyed) -> None:  # type: ignore[no-untyped-def]
    assert_401(upload(keyed, b"x" * 1_100_000), "Bearer")  # not 413
    res = keyed.post("/v1/read", content=iter([b"x"]), headers={"content-type": "text/plain"})
    assert_401(res, "Bearer")  # not 411
    res = upload(keyed, b"x" * 1_100_000, bearer(KEY))
    assert res.status_code == 413 and res.json()["code"] == "TOO_LARGE"


def test_health_the_page_and_the_api_description_stay_open(keyed) -> None:  # type: ignore[no-untyped-def]
    assert keyed.get("/healthz").json()["status"] == "ok"
    page = keyed.get("/")
    assert page.status_code == 200 and 'id="key"' in page.text and "sessionStorage" in page.text
    assert "localStorage.setItem" not in page.text
    assert keyed.get("/docs").status_code == 200
    spec = keyed.get("/openapi.json").json()
    scheme = spec["components"]["securitySchemes"]["HTTPBearer"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    paths = spec["paths"]
    assert paths["/v1/read"]["post"]["security"] == [{"HTTPBearer": []}]
    assert paths["/v1/models"]["get"]["security"] == [{"HTTPBearer": []}]
    assert "security" not in paths["/healthz"]["get"]


def test_without_a_key_the_service_is_open_as_before(
    use_tiny_weights: Path, page_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HANDOCR_API_KEY", raising=False)
    with TestClient(create_app()) as c:
        res = upload(c, page_file.read_bytes())
        assert res.status_code == 200 and Document.from_json(res.text).text
        assert c.get("/v1/models").status_code == 200
        assert "securitySchemes" not in c.get("/openapi.json").json().get("components", {})


def test_keys_are_compared_in_constant_time(
    keyed, page_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    calls: list[tuple[object, object]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr("handocr.service.hmac.compare_digest", spy)
    assert keyed.get("/v1/models", headers=bearer("nope")).status_code == 401
    assert keyed.get("/v1/models", headers=bearer(KEY)).status_code == 200
    assert calls == [(b"nope", KEY.encode()), (KEY.encode(), KEY.encode())]


def test_the_config_reads_the_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANDOCR_API_KEY", KEY)
    cfg = ServiceConfig.from_env()
    assert cfg.api_key == KEY and KEY not in repr(cfg)
    monkeypatch.setenv("HANDOCR_API_KEY", "")
    assert ServiceConfig.from_env().api_key is None
    monkeypatch.setenv("HANDOCR_API_KEY", "two words")
    with pytest.raises(OptionError, match="printable ASCII"):
        ServiceConfig.from_env()
    with pytest.raises(OptionError):
        ServiceConfig(api_key="clé-non-ascii")


# --- the command: refuses to serve a non-loopback address open unless told so ----------------


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """uvicorn.run replaced by a recorder of its arguments and the key it would serve with."""
    import uvicorn

    monkeypatch.setattr(os, "environ", dict(os.environ))  # the command sets HANDOCR_* variables
    os.environ.pop("HANDOCR_API_KEY", None)
    runs: list[dict[str, Any]] = []

    def run(target: str, **kwargs: Any) -> None:
        runs.append({"target": target, "key": os.environ.get("HANDOCR_API_KEY"), **kwargs})

    monkeypatch.setattr(uvicorn, "run", run)
    return runs


def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli, ["serve", *args], env=env)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "ocr.example.org"])
def test_serve_refuses_a_non_loopback_host_without_a_key(served, host: str) -> None:  # type: ignore[no-untyped-def]
    res = invoke("--host", host)
    assert res.exit_code == ExitCode.USAGE and not served
    for hint in ("--api-key-file", "HANDOCR_API_KEY", "--no-auth", "Authorization: Bearer"):
        assert hint in res.output


def test_serve_on_loopback_without_a_key_is_open_as_before(served) -> None:  # type: ignore[no-untyped-def]
    res = invoke()
    assert res.exit_code == 0, res.output
    assert served == [
        {
            "target": "handocr.service:create_app",
            "key": None,
            "factory": True,
            "host": "127.0.0.1",
            "port": 8000,
            "workers": 1,
            "log_level": "warning",
        }
    ]
    assert "WARNING" not in res.output


def test_serve_no_auth_serves_open_with_a_loud_warning(served) -> None:  # type: ignore[no-untyped-def]
    res = invoke("--host", "0.0.0.0", "--no-auth", env={"HANDOCR_API_KEY": KEY})
    assert res.exit_code == 0, res.output
    assert served[0]["host"] == "0.0.0.0" and served[0]["key"] is None
    assert "WARNING" in res.output and "NO API KEY" in res.output


def test_serve_passes_the_key_to_the_app(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert invoke("--host", "0.0.0.0", env={"HANDOCR_API_KEY": KEY}).exit_code == 0
    assert invoke("--host", "0.0.0.0", "--api-key", KEY).exit_code == 0
    path = tmp_path / "key"
    path.write_text(f"{KEY}\n")
    # the file beats the environment
    assert (
        invoke(
            "--host", "::", "--api-key-file", str(path), env={"HANDOCR_API_KEY": "old"}
        ).exit_code
        == 0
    )
    assert invoke("--api-key", KEY).exit_code == 0  # a key on loopback is required too
    assert [r["key"] for r in served] == [KEY] * 4
    assert KEY not in invoke("--help", env={"HANDOCR_API_KEY": KEY}).output


@pytest.mark.parametrize(
    "args",
    [
        ("--api-key", KEY, "--no-auth"),
        ("--api-key", KEY, "--api-key-file", __file__),
        ("--api-key-file", __file__, "--no-auth"),
        ("--api-key", "two words"),
        ("--api-key", ""),
        ("--api-key-file", os.devnull),
    ],
)
def test_serve_refuses_unclear_or_bad_keys(served, args: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    res = invoke("--host", "0.0.0.0", *args)
    assert res.exit_code == ExitCode.USAGE and not served, res.output


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.1", False),
        ("", False),
        ("myhost", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


# --- the page in a real browser: asks for the key on 401, sends it, keeps it per tab -----------


@pytest.mark.slow
@pytest.mark.weights
def test_the_page_asks_for_the_key_and_sends_it(tmp_path: Path) -> None:
    sync = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed")
    path = tmp_path / "key"
    path.write_text(KEY)
    server = running_server("--api-key-file", str(path), drop_env=("HANDOCR_API_KEY",))
    with server as url, sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(url)
            page.wait_for_function("document.getElementById('authmsg').textContent.length > 0")
            assert page.is_visible("#key") and "needs an API key" in page.inner_text("#authmsg")

            page.fill("#key", "wrong")
            stroke_on_pad(page)
            page.wait_for_function("document.getElementById('padtext').textContent.length > 0")
            assert "not accepted" in page.inner_text("#padtext")
            page.fill("#key", KEY)
            page.click("#clear")
            stroke_on_pad(page)
            page.wait_for_function("document.querySelectorAll('#votes tbody tr').length > 0")
            stored = page.evaluate(
                "[sessionStorage.getItem('handocr.apiKey'), localStorage.length]"
            )
            assert stored == [KEY, 0]
            page.reload()  # the same tab keeps the key
            assert page.input_value("#key") == KEY and page.is_visible("#key")
        finally:
            browser.close()
