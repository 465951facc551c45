"""Reading inputs: multi-page PDF/TIFF order, page ranges, bytes, directories, limits, writes."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays
from PIL import Image

from handocr.errors import InputImageError, OutputError
from handocr.io import (
    as_sources,
    atomic_path,
    expand_inputs,
    file_mode,
    iter_pages,
    load_pages,
    source_label,
    write_bytes_atomic,
    write_text_atomic,
)
from handocr.options import parse_pages
from tests.helpers import png_claiming


def _ink(pages: list[np.ndarray]) -> list[int]:
    return [int((p < 128).sum()) for p in pages]


def test_pdf_and_tiff_pages_come_in_order(pdf20: Path, tiff5: Path) -> None:
    pdf = list(iter_pages(pdf20, pdf_dpi=72))
    assert [p.source for p in pdf] == [f"twenty.pdf#{k}" for k in range(1, 21)]
    ink = _ink([p.image for p in pdf])
    assert ink == sorted(ink) and len(set(ink)) == 20  # page k has k strokes
    tif = list(iter_pages(tiff5))
    assert [p.source for p in tif] == [f"five.tif#{k}" for k in range(1, 6)]
    assert [p.image.shape[1] for p in tif] == [40 + 14 * k for k in range(1, 6)]


def test_page_ranges_select_pages(pdf20: Path, tiff5: Path) -> None:
    got = list(iter_pages(pdf20, pdf_dpi=72, pages=parse_pages("1-3,7,25")))
    assert [p.source for p in got] == [f"twenty.pdf#{k}" for k in (1, 2, 3, 7)]
    assert [p.number for p in got] == [1, 2, 3, 7]  # each page's own number, not its count
    got = list(iter_pages(tiff5, pages=parse_pages("2,4-5")))
    assert [p.source for p in got] == ["five.tif#2", "five.tif#4", "five.tif#5"]
    assert [p.number for p in got] == [2, 4, 5]
    assert [p.number for p in iter_pages(np.zeros((4, 4), np.uint8))] == [1]


def test_pdf_dpi_scales_the_rendering(pdf20: Path) -> None:
    small = next(iter(iter_pages(pdf20, pdf_dpi=72))).image
    big = next(iter(iter_pages(pdf20, pdf_dpi=144))).image
    assert big.shape == (2 * small.shape[0], 2 * small.shape[1])
    with pytest.raises(ValueError, match="pdf_dpi"):
        next(iter_pages(pdf20, pdf_dpi=0))


def test_bytes_and_pil_images_are_pages(tiff5: Path, pdf20: Path) -> None:
    from_bytes = list(iter_pages(tiff5.read_bytes()))
    assert len(from_bytes) == 5 and from_bytes[0].source == "bytes 0#1"
    assert len(list(iter_pages(pdf20.read_bytes(), pdf_dpi=72))) == 20
    rgba = Image.new("RGBA", (30, 20), (0, 0, 0, 0))  # transparent -> white paper
    (page,) = iter_pages(rgba)
    assert page.image.shape == (20, 30) and page.image.min() == 255
    with pytest.raises(InputImageError, match="empty"):
        list(iter_pages(b""))
    with pytest.raises(InputImageError, match="unsupported type"):
        list(iter_pages([3.5]))  # type: ignore[list-item]


def test_first_numbers_the_sources(tiff5: Path) -> None:
    arrays_ = [np.zeros((4, 4), np.uint8)] * 2
    with pytest.raises(InputImageError, match="array 7"):
        list(iter_pages([*arrays_, np.zeros((4, 4), np.float32)], first=5))
    (page,) = iter_pages(tiff5.read_bytes(), pages=frozenset({2}), first=3)
    assert page.source == "bytes 3#2"


def test_sources_and_their_labels() -> None:
    arr = np.zeros((2, 2), np.uint8)
    assert len(as_sources(arr)) == 1 and as_sources("a.png") == ["a.png"]
    assert as_sources(b"xy") == [b"xy"] and as_sources(Path("p.png")) == [Path("p.png")]
    assert as_sources(("a.png", "b.png")) == ["a.png", "b.png"]
    assert source_label(Path("dir/a.png"), 0) == os.fspath(Path("dir/a.png"))
    assert source_label("-", 1) == "-"
    assert source_label(b"x", 2) == "bytes 2" and source_label(arr, 3) == "array 3"
    assert source_label(Image.new("L", (2, 2)), 4) == "image 4"
    assert [p.shape for p in load_pages([arr, arr])] == [(2, 2), (2, 2)]


def test_directories_expand_in_name_order(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    for name in ("b.png", "a.jpg", "notes.txt", ".hidden.png", "sub/c.pdf"):
        (tmp_path / name).write_bytes(b"x")
    assert [Path(p).name for p in expand_inputs([tmp_path])] == ["a.jpg", "b.png"]
    deep = [
        Path(p).relative_to(tmp_path).as_posix() for p in expand_inputs([tmp_path], recursive=True)
    ]
    assert deep == ["a.jpg", "b.png", "sub/c.pdf"]
    assert expand_inputs(["-", str(tmp_path / "missing.png")]) == [
        "-",
        str(tmp_path / "missing.png"),
    ]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputImageError, match="no images"):
        expand_inputs([empty])


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    arr = np.full((40, 80), 255, np.uint8)
    arr[:, :10] = 0  # ink on the left edge
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    path = tmp_path / "rotated.jpg"
    img.save(path, exif=exif.tobytes(), quality=95)
    (page,) = iter_pages(path)
    assert page.image.shape == (80, 40)
    assert page.image[:10].mean() < 128  # the left edge is now the top


def test_pixel_limit_is_checked_from_the_header_and_configurable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.png"
    path.write_bytes(png_claiming(12000, 12000))  # 144 Mpx: over the default 100 Mpx
    with pytest.raises(InputImageError, match="over the limit of 100,000,000"):
        load_pages(path)
    monkeypatch.setenv("HANDOCR_MAX_PIXELS", "1000")
    small = tmp_path / "small.png"
    Image.fromarray(np.full((40, 40), 255, np.uint8)).save(small)  # 1,600 px
    with pytest.raises(InputImageError, match="over the limit of 1,000"):
        load_pages(small)


def test_write_text_atomic_replaces_whole_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "out.txt"
    write_text_atomic(target, "first")
    write_text_atomic(target, "second\n€")
    assert target.read_text(encoding="utf-8") == "second\n€"
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="cannot write"):
        write_text_atomic(blocker / "r.txt", "y")


@pytest.fixture
def umask() -> Iterator[Callable[[int], None]]:
    """Set the process umask for one test, restoring it afterwards."""
    before = os.umask(0o022)
    try:
        yield os.umask
    finally:
        os.umask(before)


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_every_atomic_write_gets_the_mode_open_would_give(
    tmp_path: Path, umask: Callable[[int], None], mask: int, mode: int
) -> None:
    umask(mask)
    reference = tmp_path / "by-open.txt"
    reference.write_text("x")  # what open() gives under this umask
    assert file_mode() == mode == reference.stat().st_mode & 0o777
    write_bytes_atomic(tmp_path / "a.bin", b"a")
    write_text_atomic(tmp_path / "b.txt", "b")
    with atomic_path(tmp_path / "c.bin") as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_TRUNC)  # keeps mkstemp's 0600, as safetensors does
        os.write(fd, b"c")
        os.close(fd)
    for name in ("a.bin", "b.txt", "c.bin"):
        assert (tmp_path / name).stat().st_mode & 0o777 == mode, name


def test_atomic_path_leaves_the_target_alone_when_the_block_fails(tmp_path: Path) -> None:
    target = tmp_path / "w.safetensors"
    target.write_bytes(b"old")

    def write(error: Exception) -> None:
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise error

    with pytest.raises(RuntimeError):
        write(RuntimeError("writer failed"))
    assert target.read_bytes() == b"old" and sorted(tmp_path.iterdir()) == [target]
    with pytest.raises(OutputError, match=r"w\.safetensors: cannot write \(Permission denied\)"):
        write(PermissionError(13, "Permission denied"))
    assert target.read_bytes() == b"old" and sorted(tmp_path.iterdir()) == [target]


DTYPES = st.sampled_from([np.uint8, np.uint16, np.int32, np.float32, np.bool_])


@pytest.mark.property
@given(arrays(DTYPES, array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=12)))
def test_any_array_is_a_page_or_an_input_error(arr: np.ndarray) -> None:
    try:
        pages = list(iter_pages(arr))
    except InputImageError:
        return
    assert len(pages) == 1
    img = pages[0].image
    assert img.dtype == np.uint8 and img.ndim == 2 and min(img.shape) >= 1


@pytest.mark.property
@given(st.binary(max_size=300))
def test_any_bytes_are_pages_or_an_input_error(data: bytes) -> None:
    try:
        pages = list(iter_pages(data))
    except InputImageError:
        return
    for p in pages:
        assert p.image.dtype == np.uint8 and p.image.ndim == 2


@pytest.mark.property
@given(
    arrays(np.uint8, st.tuples(st.integers(1, 40), st.integers(1, 40))),
    st.sampled_from(["PNG", "TIFF", "BMP", "JPEG"]),
    st.integers(0, 400),
)
def test_truncated_encodings_are_pages_or_an_input_error(
    arr: np.ndarray, fmt: str, cut: int
) -> None:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt)
    data = buf.getvalue()[: max(1, len(buf.getvalue()) - cut)]
    try:
        pages = list(iter_pages(data))
    except InputImageError:
        return
    for p in pages:
        assert p.image.shape[0] >= 1 and p.image.dtype == np.uint8


def test_a_pdf_page_over_the_pixel_limit_is_refused_before_rendering() -> None:
    """A 553-byte PDF of a 200-inch page would be 3.6 gigapixels at 300 dpi."""
    import io as stdio

    import pypdfium2 as pdfium

    from handocr.errors import InputImageError
    from handocr.io import load_pages

    pdf = pdfium.PdfDocument.new()
    pdf.new_page(14400, 14400)  # points: 200 x 200 inches
    buf = stdio.BytesIO()
    pdf.save(buf)
    with pytest.raises(InputImageError, match="60000x60000 pixels at 300 dpi"):
        load_pages(buf.getvalue())  # refused from the page size: 3.6 GB never allocated
    (small,) = load_pages(buf.getvalue(), pdf_dpi=1)  # 200 x 200 px at 1 dpi
    assert small.shape == (200, 200)
