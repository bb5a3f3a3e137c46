"""Training patches: HR crops and their MATLAB-bicubic LR, with the 8 dihedral augmentations.

Sampling is driven by one explicit ``torch.Generator`` whose state is saved in every checkpoint, so a
resumed run draws exactly the batches the uninterrupted run would have drawn. Under DDP every rank
draws the *global* batch's random numbers from the same generator and builds only its own slice:
N processes see, together, exactly the batch one process would see.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from bench import BenchError
from bench.data.benchmarks import load_test_set, make_lr, mod_crop

__all__ = ["PatchSampler", "load_training_images"]


@dataclass
class _Image:
    hr: torch.Tensor  # uint8 [3, H, W], mod-cropped
    lr: torch.Tensor  # uint8 [3, H/s, W/s], MATLAB bicubic of hr (computed once)


def load_training_images(names: list[str], scale: int, data_root=None) -> list[torch.Tensor]:
    """HR images (uint8 [C, H, W]) of the named sets, e.g. ``["B100", "Urban100"]`` or ``["samples-train"]``."""
    images = []
    for name in names:
        images += [pair.hr for pair in load_test_set(name, scale, data_root, lr="generated").pairs]
    return images


class PatchSampler:
    def __init__(self, images: list[torch.Tensor], scale: int, lr_patch: int, augment: bool = True):
        if not images:
            raise BenchError("no training images")
        self.scale, self.lr_patch, self.augment = scale, lr_patch, augment
        self.images = []
        for hr in images:
            hr = hr.expand(3, *hr.shape[-2:]) if hr.shape[0] == 1 else hr
            hr = mod_crop(hr, scale)
            if min(hr.shape[-2:]) < lr_patch * scale:
                continue  # too small for one patch
            self.images.append(_Image(hr, make_lr(hr, scale)))
        if not self.images:
            raise BenchError(f"no training image is at least {lr_patch * scale} px on each side")

    def draw(self, generator: torch.Generator, batch: int) -> torch.Tensor:
        """The random numbers of one global batch: [batch, 4] = (image, top, left, dihedral)."""
        index = torch.randint(len(self.images), (batch,), generator=generator)
        unit = torch.rand(batch, 2, generator=generator, dtype=torch.float64)
        dihedral = torch.randint(8, (batch,), generator=generator)
        rows = []
        for i, (u, v), d in zip(index.tolist(), unit.tolist(), dihedral.tolist(), strict=True):
            lr = self.images[i].lr
            top = int(u * (lr.shape[-2] - self.lr_patch + 1))
            left = int(v * (lr.shape[-1] - self.lr_patch + 1))
            rows.append((i, top, left, d if self.augment else 0))
        return torch.tensor(rows)

    def build(self, draws: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(LR, HR) float batches in [0, 1] for the given draws."""
        p, s = self.lr_patch, self.scale
        lrs, hrs = [], []
        for i, top, left, d in draws.tolist():
            image = self.images[i]
            lr = image.lr[:, top: top + p, left: left + p]
            hr = image.hr[:, top * s: (top + p) * s, left * s: (left + p) * s]
            if d & 4:
                lr, hr = lr.flip(-1), hr.flip(-1)
            lrs.append(lr.rot90(d & 3, dims=(-2, -1)))
            hrs.append(hr.rot90(d & 3, dims=(-2, -1)))
        return torch.stack(lrs).float() / 255, torch.stack(hrs).float() / 255

    def batch(self, generator: torch.Generator, batch: int, rank: int = 0, world: int = 1
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """This rank's share of the next global batch of ``batch`` patches."""
        if batch % world:
            raise BenchError(f"global batch {batch} does not split over {world} processes")
        draws = self.draw(generator, batch)
        share = batch // world
        return self.build(draws[rank * share: (rank + 1) * share])
