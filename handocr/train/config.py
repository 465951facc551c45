"""The training configuration: every option of a run, its default and its check, in one place."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from handocr.errors import OptionError

__all__ = ["PRECISIONS", "TrainConfig"]

PRECISIONS = ("auto", "fp32", "bf16")
"""Training precisions (:attr:`TrainConfig.precision`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainConfig:
    """Everything that defines a training run (saved beside the outputs and in the weights).

    Attributes
    ----------
    arch : str
        Registered architecture (``handocr.models.list_models()``).
    data : str or None
        EMNIST folder; ``None`` reads ``HANDOCR_DATA``.
    split : str
        EMNIST split name, e.g. ``pool47`` or ``balanced``.
    out_dir : str
        Folder for the checkpoint, history, curves and exported weights.
    tag : str
        Weight variant written into the file name (``<arch>.<tag>.safetensors``).
    epochs : int
        Maximum number of epochs (>= 1).
    batch_size : int
        Crops per step (>= 1).
    lr : float
        Peak learning rate of the OneCycle schedule (> 0).
    weight_decay : float
        AdamW decoupled weight decay (>= 0).
    label_smoothing : float
        In ``[0, 1)``.
    val_fraction : float
        Share of train carved out, stratified by class, for validation; in ``(0, 0.5]``.
    seed : int
        Seeds the split, shuffling, augmentation, dropout and initialisation.
    time_budget_s : float or None
        When set, the number of epochs is reduced so that the run fits this many seconds
        (measured from a short timing probe before training).
    device : str
        ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
    threads : int or None
        ``torch.set_num_threads``; ``None`` keeps torch's default.
    augment : bool
        Random affine and stroke-width changes (:mod:`handocr.train.augment`).
    logit_adjust : bool
        Logit-adjusted loss against class imbalance (Menon et al. 2021).
    max_train : int or None
        Use at most this many training images (stratified); for smoke tests.
    ema : float or None
        When set (e.g. ``0.999``), validate and export an exponential moving average of the
        weights with this decay per step (batch-norm statistics averaged too), Polyak averaging
        as in timm's ``ModelEmaV3``; ``None`` exports the trained weights.
    patience : int or None
        Early stopping: end the run when validation accuracy has not improved for this many
        epochs; the best epoch's weights are exported in every case.
    init : str or None
        Start from the weights of this safetensors file (fine-tuning; same architecture)
        instead of a random initialisation.
    lowres : float
        Probability of the low-resolution re-rendering augmentation
        (:attr:`handocr.train.augment.AugmentConfig.lowres_p`).
    real : tuple of str
        Folders of real handprint to train on besides EMNIST, in any layout of
        :mod:`handocr.train.realdata` (boxes, a folder per class, or weakly labelled fields).
    real_share : float
        Share of each epoch's training samples drawn from the real crops, in ``[0, 1)``; the
        real crops are repeated (or subsampled) to make it. The resolved counts are recorded in
        the weights' metrics (``real``).
    real_holdout : float
        Share of each real folder's images held out from training (by a hash of the file name)
        and scored after every epoch (``real_val_accuracy``), in ``[0, 0.5]``.
    min_agreement : float
        Forced alignment of weakly labelled images: least share of a line's glyphs whose label
        the classifier has among its top 3 (:func:`handocr.train.realdata.align_weak_labels`).
    synth_pages : int
        Pages of pipeline-matched synthetic crops (:mod:`handocr.train.synthdata`) made from the
        EMNIST training glyphs (never the validation ones) and drawn from with the real crops
        at ``real_share``; 0 for none.
    classes : str or None
        Train and test on these classes only, as a charset (``digits``, ``upper``, ...): a
        specialist member (it keeps the 47 outputs; the others never occur). None: all.
    precision : str
        ``auto``, ``fp32`` or ``bf16``: bfloat16 autocast for the training forward pass
        (weights and optimiser state stay float32). ``auto`` picks ``bf16`` on a CUDA device
        that supports it and on CPUs with AVX512-BF16 or AMX, where it measured 1.5-3x faster
        (docs/training.md); validation and export always run in float32.
    """

    arch: str = "cnn"
    data: str | None = None
    split: str = "pool47"
    out_dir: str = "runs/cnn"
    tag: str = "emnist47-v1"
    epochs: int = 10
    batch_size: int = 256
    lr: float = 3e-3
    weight_decay: float = 5e-4
    label_smoothing: float = 0.05
    val_fraction: float = 0.05
    seed: int = 0
    time_budget_s: float | None = None
    device: str = "auto"
    threads: int | None = None
    augment: bool = True
    logit_adjust: bool = True
    max_train: int | None = None
    ema: float | None = None
    patience: int | None = None
    precision: str = "auto"
    init: str | None = None
    lowres: float = 0.0
    real: tuple[str, ...] = ()
    real_share: float = 0.25
    real_holdout: float = 0.1
    min_agreement: float = 0.5
    synth_pages: int = 0
    classes: str | None = None
    command: str = field(default_factory=lambda: " ".join(sys.argv))

    def __post_init__(self) -> None:
        """Check value ranges.

        Raises
        ------
        OptionError
            A value is out of its documented range (a ``ValueError``; exit code 2).
        """
        if self.epochs < 1 or self.batch_size < 1:
            raise OptionError("epochs and batch_size must be >= 1")
        if not self.lr > 0 or self.weight_decay < 0:
            raise OptionError("lr must be > 0 and weight_decay >= 0")
        if not 0 <= self.label_smoothing < 1:
            raise OptionError("label_smoothing must be in [0, 1)")
        if not 0 < self.val_fraction <= 0.5:
            raise OptionError("val_fraction must be in (0, 0.5]")
        if self.time_budget_s is not None and self.time_budget_s <= 0:
            raise OptionError("time_budget_s must be > 0")
        if self.ema is not None and not 0 < self.ema < 1:
            raise OptionError("ema must be in (0, 1)")
        if self.patience is not None and self.patience < 1:
            raise OptionError("patience must be >= 1")
        if self.precision not in PRECISIONS:
            raise OptionError(f"precision must be one of {', '.join(PRECISIONS)}")
        if not 0 <= self.lowres <= 1:
            raise OptionError("lowres must be in [0, 1]")
        object.__setattr__(self, "real", tuple(str(r) for r in self.real))
        if not 0 <= self.real_share < 1:
            raise OptionError("real_share must be in [0, 1)")
        if not 0 <= self.real_holdout <= 0.5:
            raise OptionError("real_holdout must be in [0, 0.5]")
        if not 0 <= self.min_agreement <= 1:
            raise OptionError("min_agreement must be in [0, 1]")
        if self.synth_pages < 0:
            raise OptionError("synth_pages must be >= 0")
