"""handocr's own line recognizer: a CRNN read with CTC (the line member).

A whole text line, resized to 32 px high, goes through a small timm ResNet adapted to one
channel whose strides collapse the height to 1 and divide the width by 4, a bidirectional LSTM
over the resulting column features, and a linear layer to ``1 + len(ALPHABET)`` classes per
frame, index 0 being the CTC blank. This is the architecture of Shi, Bai and Yao, "An
End-to-End Trainable Neural Network for Image-based Sequence Recognition and Its Application to
Scene Text Recognition" (IEEE TPAMI 39(11), 2017; arXiv:1507.05717, 2015), trained with the
connectionist temporal classification loss of Graves, Fernandez, Gomez and Schmidhuber,
"Connectionist Temporal Classification: Labelling Unsegmented Sequence Data with Recurrent
Neural Networks" (ICML 2006).

The line member has its own small table (:data:`LINE_ARCHS`) rather than an entry in
:mod:`handocr.models.registry`, whose members map ``(N, 1, 28, 28)`` crops to ``(N, 47)``
logits: a line model has another input, another output and another alphabet.

The input convention (:func:`line_input`) and greedy CTC decoding (:func:`greedy_decode`) are
plain numpy, so ONNX Runtime callers need neither torch nor timm; torch and timm are imported
only when a network is built.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from handocr.errors import UnknownModelError

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "ALPHABET",
    "BLANK",
    "LINE_ARCHS",
    "LINE_HEIGHT",
    "NUM_LINE_CLASSES",
    "STRIDE",
    "build_line_model",
    "crnn",
    "encode_text",
    "frames",
    "greedy_decode",
    "line_input",
    "normalise_text",
]

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ -/.,':"
"""The line member's characters: output index ``i + 1`` is ``ALPHABET[i]`` (0 is the blank).
Case-folded: letters are read in upper case (EMNIST merges the case of most letters)."""

BLANK = 0
"""Index of the CTC blank in the output."""

NUM_LINE_CLASSES = 1 + len(ALPHABET)  # 45
LINE_HEIGHT = 32
"""Height in pixels of every line image the network reads."""
STRIDE = 4
"""Horizontal downsampling: a line ``W`` px wide gives ``ceil(W / 4)`` frames."""

_INDEX = {ch: i + 1 for i, ch in enumerate(ALPHABET)}


def frames(width_px: int) -> int:
    """Return the number of output frames ``T`` of a line ``width_px`` wide: ``ceil(W / 4)``.

    Examples
    --------
    >>> frames(1), frames(4), frames(5), frames(130)
    (1, 1, 2, 33)
    """
    return math.ceil(width_px / STRIDE)


def normalise_text(text: str) -> str:
    """Fold a transcription onto :data:`ALPHABET`, or return ``""`` when it cannot be.

    Letters are upper-cased and accents removed (Unicode NFKD); runs of whitespace become one
    space and the ends are stripped. A text with any other character gives ``""`` (the caller
    drops such a line rather than train on a wrong target).

    Examples
    --------
    >>> normalise_text("  Jean-Rene  d'Arc "), normalise_text("Émile"), normalise_text("a+b")
    ("JEAN-RENE D'ARC", 'EMILE', '')
    """
    import unicodedata

    folded = unicodedata.normalize("NFKD", text.upper())
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    folded = " ".join(folded.replace("\u2019", "'").split())
    return folded if all(ch in _INDEX for ch in folded) else ""


def encode_text(text: str) -> list[int]:
    """Map a normalised text to output indices (1-based; 0 is the blank).

    Raises
    ------
    KeyError
        A character outside :data:`ALPHABET` (normalise with :func:`normalise_text` first).
    """
    return [_INDEX[ch] for ch in text]


def line_input(gray: NDArray[np.uint8], *, height: int = LINE_HEIGHT) -> NDArray[np.float32]:
    """Turn a line image into the network's input: ``(1, height, W)`` float32, ink bright.

    The image is resized to ``height`` px keeping its aspect ratio (``W = max(1,
    round(w * height / h))``; OpenCV ``INTER_AREA`` when shrinking, ``INTER_LINEAR`` when
    growing), then mapped to ``x = (255 - gray) / 255``: paper near 0, ink near 1. Batches are
    right-padded with 0 to their widest line.

    Parameters
    ----------
    gray : ndarray of uint8, shape (h, w)
        Dark ink on light paper, 0 = black (as :func:`handocr.io.load_pages` gives).
    height : int

    Returns
    -------
    ndarray of float32, shape (1, height, W)
    """
    import cv2

    h, w = gray.shape[:2]
    width = max(1, round(w * height / max(h, 1)))
    interp = cv2.INTER_AREA if h > height else cv2.INTER_LINEAR
    small = cv2.resize(gray, (width, height), interpolation=interp)
    return ((255.0 - small.astype(np.float32)) / 255.0)[None]


def greedy_decode(log_probs: NDArray[np.floating[Any]], frame_count: int | None = None) -> str:
    """Best-path CTC decoding: the most likely class per frame, repeats merged, blanks dropped.

    Parameters
    ----------
    log_probs : ndarray, shape (T, V)
        One line's output, ``V = 1 + len(ALPHABET)``.
    frame_count : int, optional
        Frames that belong to the line (``frames(width)``); the padding's frames are ignored.

    Returns
    -------
    str

    Examples
    --------
    >>> lp = np.log(np.eye(NUM_LINE_CLASSES)[[2, 2, 0, 2, 11, 0]] + 1e-9)
    >>> greedy_decode(lp)
    '11A'
    """
    best = np.asarray(log_probs)[:frame_count].argmax(-1)
    out: list[str] = []
    prev = BLANK
    for k in best.tolist():
        if k != prev and k != BLANK:
            out.append(ALPHABET[k - 1])
        prev = k
    return "".join(out)


def _height_only_stride(stage: nn.Module) -> None:
    """Make the first block of a timm ResNet stage halve the height only (stride ``(2, 1)``)."""
    from torch import nn

    block = stage[0]  # type: ignore[index]
    block.conv1.stride = (2, 1)
    down = block.downsample
    if down is None:
        return
    for i, layer in enumerate(down):
        if isinstance(layer, nn.AvgPool2d):  # avg_down variants (resnet10t, resnet26d, ...)
            down[i] = nn.AvgPool2d((2, 1), (2, 1), ceil_mode=True, count_include_pad=False)
        elif isinstance(layer, nn.Conv2d) and layer.stride != (1, 1):
            layer.stride = (2, 1)


def crnn(
    *,
    num_classes: int = NUM_LINE_CLASSES,
    timm_name: str = "resnet10t",
    channels: tuple[int, int, int, int] = (32, 64, 128, 256),
    stem_width: int = 16,
    hidden: int = 128,
    dropout: float = 0.2,
) -> nn.Module:
    """Build the CRNN line member (Shi, Bai and Yao 2015) for CTC.

    The trunk is timm's ``timm_name`` ResNet with ``in_chans=1`` and the given stage widths;
    its stem (stride 2, then the max-pool) takes a ``(32, W)`` line to ``(8, W/4)``, and the
    first blocks of stages 2-4 are changed to stride ``(2, 1)``, so the height falls to 1
    while the width stays at ``ceil(W / 4)`` frames. A one-layer bidirectional LSTM (``hidden``
    units each way) reads the frames, and a linear layer gives ``num_classes`` scores each.

    Parameters
    ----------
    num_classes : int
        ``1 + len(ALPHABET)``; index 0 is the CTC blank.
    timm_name : str
        A timm ResNet with a deep (stride-2, three-convolution) stem, e.g. ``"resnet10t"``
        (the default: 1 block per stage) or ``"resnet14t"``.
    channels : tuple of int
        Widths of the four stages.
    stem_width : int
        Width of the stem convolutions (their output is ``2 * stem_width`` channels).
    hidden : int
        LSTM units per direction.
    dropout : float
        Dropout before the output layer (training only).

    Returns
    -------
    torch.nn.Module
        Maps ``(N, 1, 32, W)`` float32 (ink 1, paper 0, right-padded with 0) to
        ``(N, ceil(W / 4), num_classes)`` float32 log-probabilities (log-softmax over the last
        axis); randomly initialised. Default size: about 1.6 M parameters.

    Raises
    ------
    UnknownModelError
        timm has no ResNet of that name.
    """
    import timm
    import torch
    from timm.models.resnet import ResNet
    from torch import nn

    try:
        trunk = timm.create_model(
            timm_name,
            pretrained=False,
            in_chans=1,
            num_classes=0,
            global_pool="",
            channels=channels,
            stem_width=stem_width,
        )
    except RuntimeError:  # timm: "Unknown model"
        trunk = None
    if not isinstance(trunk, ResNet):
        raise UnknownModelError(timm_name, ["resnet10t", "resnet14t"])
    for name in ("layer2", "layer3", "layer4"):
        _height_only_stride(getattr(trunk, name))

    class CRNN(nn.Module):
        """CNN trunk + BiLSTM + linear, log-softmax over the classes of each frame."""

        def __init__(self) -> None:
            super().__init__()
            self.trunk: Any = trunk
            self.rnn = nn.LSTM(channels[-1], hidden, batch_first=True, bidirectional=True)
            self.drop = nn.Dropout(dropout)
            self.head = nn.Linear(2 * hidden, num_classes)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            f = self.trunk.forward_features(x).mean(2)  # (N, C, 1, T) -> (N, C, T)
            seq, _ = self.rnn(f.transpose(1, 2))  # (N, T, 2 * hidden)
            return torch.log_softmax(self.head(self.drop(seq)), -1)

    return CRNN()


LINE_ARCHS: dict[str, Callable[..., nn.Module]] = {"crnn": crnn}
"""Line members by name (``handocr train --arch crnn``); apart from the crop registry."""


def build_line_model(arch: str, **kwargs: Any) -> nn.Module:
    """Build a line member of :data:`LINE_ARCHS` by name.

    Raises
    ------
    UnknownModelError
        ``arch`` is not a line member.
    """
    if arch not in LINE_ARCHS:
        raise UnknownModelError(arch, list(LINE_ARCHS))
    return LINE_ARCHS[arch](**kwargs)
