"""Decode and MATLAB-resize the training images once per test run (used by ``conftest.py``).

Every training test builds a ``PatchSampler`` on the embedded ``samples-train`` set (twelve images, up to
1410 px a side) and validates on ``samples``; each build MATLAB-resizes every image again, seconds on two
cores. ``ImageCache`` stands in for ``make_lr`` where training and evaluation call it, and for
``load_training_images`` on the embedded sets:

- the LR cache is keyed by content (the HR's bytes, shape, dtype and the scale with its type: ``make_lr``
  treats 2 and 2.0 differently), so a cached LR is exactly what ``make_lr`` returns for that image;
- only the embedded scikit-image sets are kept decoded: a folder under a data root can change between
  two calls (tests write their own), the package's sample images cannot;
- everything it hands out is a clone, so no caller can change what the next one gets.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import torch

from bench import BenchError
from bench.data import benchmarks, training

EMBEDDED = ("samples", "samples-train")
# The functions the cache stands in for, as the package defines them (read before anything is installed).
MAKE_LR = benchmarks.make_lr
LOAD_TRAINING_IMAGES = training.load_training_images


def _lr_key(hr: torch.Tensor, scale: float) -> tuple[Any, ...]:
    data = hr.detach().cpu().contiguous()
    digest = hashlib.blake2b(data.numpy().tobytes(), digest_size=16).hexdigest()
    return digest, tuple(data.shape), str(data.dtype), type(scale).__name__, scale


class ImageCache:
    def __init__(self, lrs: dict | None = None):
        self.lrs: dict[tuple, torch.Tensor] = {} if lrs is None else lrs
        self.images: dict[tuple, list[torch.Tensor]] = {}
        self.hits = self.misses = 0

    def make_lr(self, hr: torch.Tensor, scale: float) -> torch.Tensor:
        key = _lr_key(hr, scale)
        if key in self.lrs:
            self.hits += 1
        else:
            self.misses += 1
            self.lrs[key] = MAKE_LR(hr, scale)
        return self.lrs[key].clone()

    def load_training_images(self, names: list[str], scale: int = 1, data_root=None) -> list[torch.Tensor]:
        try:
            sets = tuple(benchmarks.canonical_name(name) for name in names)
        except BenchError:  # a training set (DIV2K-train, DF2K ...): read from its folder every time
            sets = ()
        if not sets or not set(sets) <= set(EMBEDDED):
            return LOAD_TRAINING_IMAGES(names, scale, data_root)
        key = (sets, type(scale).__name__, scale)
        if key not in self.images:
            self.images[key] = LOAD_TRAINING_IMAGES(names, scale, data_root)
        return [image.clone() for image in self.images[key]]

    def install(self, setattr_: Callable[[Any, str, Any], None] = setattr) -> None:
        """Put the cache where training and evaluation look ``make_lr`` and ``load_training_images`` up
        (``monkeypatch.setattr`` to undo it after a test)."""
        from bench import evaluate

        setattr_(training, "make_lr", self.make_lr)
        setattr_(training, "load_training_images", self.load_training_images)
        setattr_(evaluate, "make_lr", self.make_lr)
