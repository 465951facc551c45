"""Batched augmentation matched to handocr's crop normalisation (``handocr.crops``).

Inference crops are framed the EMNIST way (bounding box centred, longer side filling the frame
less a thin border), so segmentation jitter shows up as small shifts, scale changes, slant and
stroke-width changes. These are what is sampled here; nothing flips or rotates far, since that
would change the class (6/9, M/W, b/q).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F  # noqa: N812 - torch convention

__all__ = ["AugmentConfig", "augment_batch"]


@dataclass(frozen=True, slots=True, kw_only=True)
class AugmentConfig:
    """Ranges of the random transforms (uniform in ``[-x, x]`` unless stated).

    Attributes
    ----------
    rotate_deg : float
        Rotation in degrees.
    shear : float
        Horizontal shear (tan of the slant angle).
    scale : float
        Relative scale change, e.g. 0.1 for ``[0.9, 1.1]``.
    translate_px : float
        Shift in pixels of the 28x28 crop.
    stroke_p : float
        Probability of thickening (half of it) or thinning (other half) the strokes by a 3x3
        grey-level dilation or erosion blended 50 %.
    lowres_p : float
        Probability of re-rendering a crop as a small, binarised scan would come out of
        :func:`handocr.crops.normalise_glyph`: area-downsampled to ``lowres_px`` pixels,
        thresholded, bilinearly upsampled, lightly blurred and rescaled to a peak of 1. Real
        handprint is often written 10-20 px high (e.g. names on forms), far below the 128 px
        NIST scans EMNIST came from; its crops have blocky, relatively thick strokes.
    lowres_px : tuple of int
        Range of the side, in pixels, of the downsampled crop (the glyph spans ~85 % of it).
    """

    rotate_deg: float = 10.0
    shear: float = 0.25
    scale: float = 0.12
    translate_px: float = 2.0
    stroke_p: float = 0.3
    lowres_p: float = 0.0
    lowres_px: tuple[int, int] = (10, 20)


def augment_batch(
    x: torch.Tensor, cfg: AugmentConfig, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Apply random affine and stroke-width changes to a batch.

    Parameters
    ----------
    x : Tensor, float32, shape (N, 1, 28, 28)
        Crops in ``[0, 1]``, ink 1.0.
    cfg : AugmentConfig
    generator : torch.Generator, optional
        Source of randomness (for reproducible runs).

    Returns
    -------
    Tensor, float32, shape (N, 1, 28, 28), values in ``[0, 1]``.
    """
    n = x.shape[0]

    def u(lo: float, hi: float) -> torch.Tensor:
        return torch.rand(n, generator=generator) * (hi - lo) + lo

    ang = u(-cfg.rotate_deg, cfg.rotate_deg) * math.pi / 180
    sh = u(-cfg.shear, cfg.shear)
    sc = 1.0 + u(-cfg.scale, cfg.scale)
    tx = u(-cfg.translate_px, cfg.translate_px) * 2 / x.shape[-1]
    ty = u(-cfg.translate_px, cfg.translate_px) * 2 / x.shape[-2]
    cos, sin = torch.cos(ang), torch.sin(ang)
    # inverse map (output -> input coordinates): rotation @ shear, divided by scale
    a = (cos + sin * sh) / sc
    b = (-sin + cos * sh) / sc
    c = sin / sc
    d = cos / sc
    theta = torch.stack([torch.stack([a, b, tx], 1), torch.stack([c, d, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if cfg.stroke_p > 0:
        r = torch.rand(n, generator=generator)
        thick = (r < cfg.stroke_p / 2).view(n, 1, 1, 1)
        thin = ((r >= cfg.stroke_p / 2) & (r < cfg.stroke_p)).view(n, 1, 1, 1)
        dil = F.max_pool2d(out, 3, 1, 1)
        ero = -F.max_pool2d(-out, 3, 1, 1)
        out = torch.where(thick, 0.5 * (out + dil), out)
        out = torch.where(thin, 0.5 * (out + ero), out)
    if cfg.lowres_p > 0:
        out = _low_resolution(out.clamp(0.0, 1.0), cfg, generator)
    return out.clamp_(0.0, 1.0)


def _low_resolution(
    x: torch.Tensor, cfg: AugmentConfig, generator: torch.Generator | None
) -> torch.Tensor:
    """Re-render a random share of the batch at low resolution (see ``lowres_p``)."""
    n, _, h, w = x.shape
    pick = torch.rand(n, generator=generator) < cfg.lowres_p
    if not pick.any():
        return x
    out = x.clone()
    idx = torch.nonzero(pick).flatten()
    lo, hi = cfg.lowres_px
    sizes = torch.randint(lo, hi + 1, (len(idx),), generator=generator)
    thresholds = torch.rand(len(idx), generator=generator) * 0.3 + 0.3
    blur = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 16.0
    for side in sizes.unique().tolist():
        sel = idx[sizes == side]
        t = thresholds[sizes == side].view(-1, 1, 1, 1)
        small = F.interpolate(x[sel], size=(side, side), mode="area")
        peak = small.amax(dim=(2, 3), keepdim=True).clamp_min(1e-6)
        binary = (small / peak > t).float()
        up = F.interpolate(binary, size=(h, w), mode="bilinear", align_corners=False)
        up = F.conv2d(up, blur.view(1, 1, 3, 3).to(up), padding=1)
        out[sel] = up / up.amax(dim=(2, 3), keepdim=True).clamp_min(1e-6)
    return out
