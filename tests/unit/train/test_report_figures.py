"""The report's figures: the samples grid names every row, look-alike classes sit together."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from handocr.labels import LABELS
from handocr.train import report_figures
from handocr.train.report_figures import class_order, samples_grid


def test_every_row_of_the_samples_grid_is_named_by_its_class(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from matplotlib.text import Text

    figures: list[Any] = []

    def keep(fig: Any, path: Path) -> str:
        figures.append(fig)
        return path.name

    monkeypatch.setattr(report_figures, "_save", keep)
    labels = np.repeat(np.arange(len(LABELS)), 2)[1:]  # the first class has one image only
    images = np.random.default_rng(0).integers(0, 256, (len(labels), 28, 28), dtype=np.uint8)
    samples_grid(tmp_path, images, labels, per=3)
    (fig,) = figures
    try:
        fig.canvas.draw()
        cells = [ax.get_window_extent() for ax in fig.axes]  # row-major, 3 per row
        texts = [  # the axes' own texts and titles, not their (hidden) tick labels
            t for ax in fig.axes for t in ax.get_children() if isinstance(t, Text) and t.get_text()
        ]
        for c, label in enumerate(LABELS):
            (named,) = [t for t in texts if t.get_text() == label]
            box = named.get_window_extent()
            row = cells[3 * c]
            assert row.y0 <= (box.y0 + box.y1) / 2 <= row.y1, label  # level with its row
            assert not any(box.overlaps(cell) for cell in cells), label  # under no image
    finally:
        report_figures._plt().close(fig)


def test_look_alike_classes_sit_together() -> None:
    order = class_order()
    assert sorted(order) == list(range(len(LABELS)))
    assert [LABELS[k] for k in order[:5]] == ["0", "O", "1", "I", "L"]
