"""``handocr serve``: the HTTP API through FastAPI's TestClient, limits and errors as JSON."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient

from handocr import Document, recognize
from handocr.service import ServiceConfig, create_app


@pytest.fixture
def client(use_tiny_weights: Path):  # type: ignore[no-untyped-def]
    with TestClient(create_app(ServiceConfig(max_upload_mb=1.0, timeout=30, concurrency=2))) as c:
        yield c


def upload(client, data: bytes, name: str = "page.png", **form):  # type: ignore[no-untyped-def]
    return client.post("/v1/read", files={"file": (name, data)}, data=form)


def test_read_returns_the_library_s_reading_in_each_format(client, page_file: Path) -> None:  # type: ignore[no-untyped-def]
    data = page_file.read_bytes()
    res = upload(client, data)
    assert res.status_code == 200 and res.headers["content-type"] == "application/json"
    doc = Document.from_json(res.text)
    assert doc.text == recognize(page_file).text
    assert upload(client, data, format="text").text == recognize(page_file).text + "\n"
    res = upload(client, data, format="pdf")
    assert res.status_code == 200 and res.content.startswith(b"%PDF")
    res = upload(client, data, format="alto")
    assert res.status_code == 200 and b"alto" in res.content[:400]
    res = upload(client, data, charset="digits", format="text")
    assert set(res.text.strip().replace(" ", "").replace("\n", "")) <= set("0123456789")


def test_the_kind_field_chooses_the_words_read(client, page_file: Path) -> None:  # type: ignore[no-untyped-def]
    data = page_file.read_bytes()
    every = Document.from_json(upload(client, data).text)
    kinds = {w.kind for p in every.pages for line in p.lines for w in line.words}
    assert kinds == {"handwritten"}  # no classifier yet: every word is handwritten
    hand = Document.from_json(upload(client, data, kind="handwritten").text)
    assert hand.text == every.text
    printed = Document.from_json(upload(client, data, kind="printed").text)
    assert printed.text == "" and printed.pages[0].lines == ()
    assert Document.from_json(upload(client, data, kind="all").text).text == every.text


def test_models_health_docs_and_page(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/healthz").json()["status"] == "ok"
    models = client.get("/v1/models").json()
    assert models["models"] and {"name", "tag", "sha256"} <= set(models["models"][0])
    assert "/v1/read" in client.get("/openapi.json").json()["paths"]
    page = client.get("/")
    assert page.status_code == 200 and 'id="pad"' in page.text and "/v1/read" in page.text


@pytest.mark.parametrize(
    ("payload", "form", "status", "code"),
    [
        (b"", {}, 400, "BAD_INPUT"),
        (b"not an image at all", {}, 415, "BAD_INPUT"),
        (b"x" * 1_100_000, {}, 413, "TOO_LARGE"),
        (None, {"format": "docx"}, 422, "USAGE"),
        (None, {"charset": "\u20ac"}, 422, "USAGE"),
        (None, {"kind": "typed"}, 422, "USAGE"),
        (None, {"lexicon": "/etc/hostname"}, 422, "USAGE"),  # a server file: refused
    ],
)
def test_bad_requests_are_json_errors_with_their_status(
    client, page_file: Path, payload, form, status, code
) -> None:  # type: ignore[no-untyped-def]
    res = upload(client, page_file.read_bytes() if payload is None else payload, **form)
    assert res.status_code == status, res.text
    body = res.json()
    assert body["code"] == code and body["message"]


def test_an_image_over_the_pixel_limit_is_413(client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    monkeypatch.setenv("HANDOCR_MAX_PIXELS", "10000")
    buf = io.BytesIO()
    Image.new("L", (200, 200), 255).save(buf, format="PNG")
    res = upload(client, buf.getvalue())
    assert res.status_code == 413 and "over the limit" in res.json()["message"]


def test_a_reading_over_the_time_limit_is_503(
    use_tiny_weights: Path, page_file: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    import time

    from handocr.api import Recognizer

    class Slow(Recognizer):
        def read_inputs(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            time.sleep(2.0)
            return super().read_inputs(*args, **kwargs)

        def with_options(self, **changes):  # type: ignore[no-untyped-def]
            return self

    app = create_app(ServiceConfig(timeout=0.2), recognizer=Slow())
    with TestClient(app) as c:
        res = upload(c, page_file.read_bytes())
    assert res.status_code == 503 and res.json()["code"] == "TIMEOUT"
    assert json.loads(res.text)["message"].startswith("the request took longer")


def test_the_service_stays_healthy_after_bad_uploads(client, page_file: Path) -> None:  # type: ignore[no-untyped-def]
    for bad in (b"", b"junk", b"%PDF-1.4 junk", b"x" * 1_100_000):
        assert upload(client, bad).status_code in (400, 413, 415)
    assert client.get("/healthz").status_code == 200
    res = upload(client, page_file.read_bytes(), format="text")
    assert res.status_code == 200 and res.text == recognize(page_file).text + "\n"


def test_an_upload_without_content_length_is_411(client) -> None:  # type: ignore[no-untyped-def]
    def chunks():  # type: ignore[no-untyped-def]
        yield b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
        yield b"x" * 100 + b"\r\n--x--\r\n"

    res = client.post(
        "/v1/read", content=chunks(), headers={"content-type": "multipart/form-data; boundary=x"}
    )
    assert res.status_code == 411 and res.json()["code"] == "LENGTH_REQUIRED"
