"""Training augmentation: shapes, ranges, seeds, and the low-resolution re-rendering."""

from __future__ import annotations

import torch

from handocr.train.augment import AugmentConfig, augment_batch


def test_augmentation_keeps_shape_and_range() -> None:
    x = torch.rand(16, 1, 28, 28)
    out = augment_batch(x, AugmentConfig(), torch.Generator().manual_seed(0))
    assert out.shape == x.shape and float(out.min()) >= 0 and float(out.max()) <= 1
    same = augment_batch(x, AugmentConfig(), torch.Generator().manual_seed(0))
    assert torch.equal(out, same)
    other = augment_batch(x, AugmentConfig(), torch.Generator().manual_seed(1))
    assert not torch.equal(out, other)


def test_low_resolution_rendering_makes_thin_strokes_blocky_and_thick() -> None:
    x = torch.zeros(8, 1, 28, 28)
    x[:, 0, 4:24, 13:15] = 1.0  # a thin vertical bar, 2 px wide
    cfg = AugmentConfig(
        rotate_deg=0, shear=0, scale=0, translate_px=0, stroke_p=0, lowres_p=1.0, lowres_px=(9, 9)
    )
    out = augment_batch(x, cfg, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and float(out.min()) >= 0 and float(out.max()) <= 1
    width_in = (x[0, 0, 14] > 0.5).sum()
    width_out = (out[:, 0, 14] > 0.5).sum(1)
    assert (width_out > width_in).all()  # one low-res pixel is 3 px wide at 28 px
    untouched = augment_batch(
        x, AugmentConfig(lowres_p=0.0, stroke_p=0, rotate_deg=0, shear=0, scale=0, translate_px=0)
    )
    assert torch.allclose(untouched, x, atol=1e-5)
