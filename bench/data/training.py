"""Training patches: HR crops and their MATLAB-bicubic LR, with the 8 dihedral augmentations.

Two samplers:

- ``PatchSampler``: fixed integer scale; (LR, HR) patch pairs for networks with an upsampler.
- ``ArbitraryScaleSampler``: LIIF-style training at any scale; an LR patch plus random HR pixels
  queried by coordinate (LIIF, LTE, CLIT, MSIT).

Sampling is driven by one explicit ``torch.Generator`` whose state is saved in every checkpoint, so a
resumed run draws exactly the batches the uninterrupted run would have drawn. Under DDP every rank
draws the *global* batch's random numbers from the same generator and builds only its own slice:
N processes see, together, exactly the batch one process would see.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from bench import BenchError
from bench.data.benchmarks import find_dataset, is_embedded, load_image, load_test_set, make_lr, mod_crop
from bench.data.imresize import imresize, output_length

__all__ = ["ArbitraryScaleSampler", "PatchSampler", "QueryBatch", "ScaleDraw", "TRAINING_SETS", "UNIONS",
           "batch_stream", "expand_set_names", "load_training_images", "pixel_centres", "training_images"]

# Training-only sets (HR folders under a data root, see bench.data.catalog), canonical name -> spellings.
TRAINING_SETS: dict[str, tuple[str, ...]] = {
    "DIV2K-train": ("div2k-train", "div2k_train"),
    "Flickr2K": ("flickr2k",),
    "T91": ("t91", "91-image"),
    "BSD200": ("bsd200", "bsds200"),
}
# Names the papers give to unions of sets.
UNIONS: dict[str, tuple[str, ...]] = {
    "DF2K": ("DIV2K-train", "Flickr2K"),  # DIV2K 0001-0800 + Flickr2K: 3450 images
    "291": ("T91", "BSD200"),  # Yang et al.'s 91 + BSDS300's 200 training images (VDSR era; AMMS)
}


@dataclass
class _Image:
    hr: np.ndarray  # uint8 [3, H, W], mod-cropped
    lr: np.ndarray  # uint8 [3, H/s, W/s], MATLAB bicubic of hr


def expand_set_names(names: list[str]) -> list[str]:
    """Canonical set names, unions (``DF2K``) split into their parts, each set once, in order."""
    expanded: list[str] = []
    for name in names:
        union = next((parts for key, parts in UNIONS.items() if key.lower() == name.lower()), None)
        for part in union or (name,):
            canonical = next((key for key, spellings in TRAINING_SETS.items()
                              if part.lower() == key.lower() or part.lower() in spellings), part)
            if canonical not in expanded:
                expanded.append(canonical)
    return expanded


def _load_hr_folder(name: str, scale: int, data_root) -> list[torch.Tensor]:
    folder = find_dataset(name, data_root) / "HR"
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp"))
    if not paths:
        raise BenchError(f"{folder} holds no images")
    # PNG decoding releases the GIL: a few threads roughly halve the load time.
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        return [mod_crop(hr, scale) for hr in pool.map(load_image, paths)]


def load_training_images(names: list[str], scale: int = 1, data_root=None) -> list[torch.Tensor]:
    """HR images (uint8 [C, H, W], mod-cropped to ``scale``) of the named sets, in order.

    Names: the training sets ``DIV2K-train`` (0001-0800) and ``Flickr2K`` (2650 images), read from
    ``<data root>/<name>/HR``; ``DF2K``, the papers' name for their union (3450 images); or any test set
    ``bench.data.benchmarks`` knows, e.g. ``["B100", "Urban100"]`` or ``["samples-train"]``. Each set is
    loaded once even if named twice (``["DF2K", "DIV2K-train"]`` is DF2K). Use ``scale=1`` (no
    mod-crop) for arbitrary-scale training.
    """
    images = []
    for name in expand_set_names(names):
        if name in TRAINING_SETS:
            images += _load_hr_folder(name, scale, data_root)
        else:
            images += [pair.hr for pair in load_test_set(name, scale, data_root, lr="generated").pairs]
    return images


def training_images(names: list[str], scale: int, data_root=None) -> list:
    """The training images of the named sets for ``PatchSampler``: each set's prepared arrays
    (``bench.data.prepared``, memory-mapped) where it has them at ``scale``, else its HR tensors (the
    sampler then makes each LR in this process, with a note saying how to prepare the set once)."""
    from bench.data.prepared import open_prepared

    images: list = []
    for name in expand_set_names(names):
        folder = training_folder(name, data_root)
        prepared = open_prepared(folder, scale) if folder is not None else None
        if prepared is not None:
            images += prepared.images
            continue
        hrs = load_training_images([name], scale, data_root)
        if not is_embedded(name):
            print(f"note: {name} is not prepared at x{scale}: decoding and resizing its {len(hrs)} images in this "
                  f"process; `python -m bench data prepare {name} --scale {scale}` does it once for every run",
                  file=sys.stderr)
        images += hrs
    return images


def training_folder(name: str, data_root=None, required: bool = False):
    """The folder of a set under the data roots (a training set, or a test set used for training), or None for
    the embedded sets. A training set that is missing raises its download hint; a missing test set too when
    ``required``, else None (load_training_images then says what is missing)."""
    from bench.data.benchmarks import canonical_name

    if name in TRAINING_SETS:
        return find_dataset(name, data_root)
    if is_embedded(name):
        return None
    try:
        return find_dataset(canonical_name(name), data_root)
    except BenchError:
        if required:
            raise
        return None


class PatchSampler:
    """(LR, HR) patch pairs at a fixed scale. ``images``: HR tensors (uint8 ``[C, H, W]``; the LR of each is
    made here) or prepared images (``.hr``/``.lr`` uint8 arrays, e.g. memory-mapped ``PreparedImage``s)."""

    def __init__(self, images: list, scale: int, lr_patch: int, augment: bool = True):
        if not images:
            raise BenchError("no training images")
        self.scale, self.lr_patch, self.augment = scale, lr_patch, augment
        self.images = []
        for image in images:
            if isinstance(image, torch.Tensor):
                hr = image.expand(3, *image.shape[-2:]) if image.shape[0] == 1 else image
                hr = mod_crop(hr, scale)
                if min(hr.shape[-2:]) < lr_patch * scale:
                    continue  # too small for one patch: not worth its LR
                image = _Image(hr.numpy(), make_lr(hr, scale).numpy())
            if min(image.hr.shape[-2:]) >= lr_patch * scale:
                self.images.append(image)
        if not self.images:
            raise BenchError(f"no training image is at least {lr_patch * scale} px on each side")

    def draw(self, generator: torch.Generator, batch: int) -> torch.Tensor:
        """The random numbers of one global batch: [batch, 4] = (image, top, left, dihedral)."""
        index = torch.randint(len(self.images), (batch,), generator=generator)
        unit = torch.rand(batch, 2, generator=generator, dtype=torch.float64)
        dihedral = torch.randint(8, (batch,), generator=generator)
        rows = []
        for i, (u, v), d in zip(index.tolist(), unit.tolist(), dihedral.tolist(), strict=True):
            height, width = self.images[i].lr.shape[-2:]
            top = int(u * (height - self.lr_patch + 1))
            left = int(v * (width - self.lr_patch + 1))
            rows.append((i, top, left, d if self.augment else 0))
        return torch.tensor(rows)

    def build_uint8(self, draws: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(LR, HR) uint8 batches for the given draws: what a loader hands to the device (a quarter of the
        bytes of float), which converts them (``x.float() / 255``)."""
        p, s = self.lr_patch, self.scale
        rows = draws.tolist()
        lrs = np.empty((len(rows), 3, p, p), np.uint8)
        hrs = np.empty((len(rows), 3, p * s, p * s), np.uint8)
        for j, (i, top, left, d) in enumerate(rows):
            image = self.images[i]
            lr = image.lr[:, top: top + p, left: left + p]
            hr = image.hr[:, top * s: (top + p) * s, left * s: (left + p) * s]
            if d & 4:
                lr, hr = lr[..., ::-1], hr[..., ::-1]
            lrs[j] = np.rot90(lr, d & 3, axes=(-2, -1))
            hrs[j] = np.rot90(hr, d & 3, axes=(-2, -1))
        return torch.from_numpy(lrs), torch.from_numpy(hrs)

    def build(self, draws: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(LR, HR) float batches in [0, 1] for the given draws."""
        return tuple(x.float() / 255 for x in self.build_uint8(draws))

    def batch(self, generator: torch.Generator, batch: int, rank: int = 0, world: int = 1
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """This rank's share of the next global batch of ``batch`` patches."""
        return self.build(_share(self.draw(generator, _splits(batch, world)), rank, world))


def _splits(batch: int, world: int) -> int:
    if batch % world:
        raise BenchError(f"global batch {batch} does not split over {world} processes")
    return batch


def _share(draws, rank: int, world: int):
    """Rank ``rank``'s contiguous slice of a global batch's draws: the DDP slicing contract."""
    share = len(draws) // world
    return draws[rank * share: (rank + 1) * share]


# ---- arbitrary scale (LIIF-style) ----------------------------------------------------------------------------

def pixel_centres(n: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The n pixel centres of one axis in [-1, 1]: pixel ``i`` at ``-1 + (2 i + 1) / n``.

    The convention of LIIF's ``make_coord`` (``reproductions.baselines.liif.make_coord``), computed in
    float64 and rounded once; coordinates are (row, column) pairs of these.
    """
    return (-1 + (2 * torch.arange(n, dtype=torch.float64) + 1) / n).to(dtype)


class QueryBatch(NamedTuple):
    """One batch of arbitrary-scale training samples; unpacks as ``lr, coord, cell, rgb, scale``.

    - ``lr``: float32 [B, 3, p, p] in [0, 1], MATLAB bicubic (8-bit passes) of each HR crop;
    - ``coord``: float32 [B, Q, 2], (row, column) pixel centres of the queried HR pixels in [-1, 1];
    - ``cell``: float32 [B, Q, 2], one HR pixel's size ``(2 / H, 2 / W)`` for every query;
    - ``rgb``: float32 [B, Q, 3] in [0, 1], the HR pixels at ``coord`` (ground truth);
    - ``scale``: float64 [B], the drawn scale s; the HR crop is ``round(p * s)`` pixels, so the true
      ratio is ``round(p * s) / p`` (which ``cell`` encodes).
    """

    lr: torch.Tensor
    coord: torch.Tensor
    cell: torch.Tensor
    rgb: torch.Tensor
    scale: torch.Tensor


class ScaleDraw(NamedTuple):
    """The random numbers of one sample: where its HR crop is, how big, how turned, which pixels are queried."""

    image: int  # index into the sampler's images
    top: int  # HR crop origin in the image
    left: int
    size: int  # HR crop side, round(lr_patch * scale)
    dihedral: int  # 0..7: bit 2 = flip left-right, bits 0-1 = quarter turns (as PatchSampler)
    seed: int  # seeds the choice of the queried pixels
    scale: float  # the drawn scale


class ArbitraryScaleSampler:
    """LIIF-style training samples at random scales (LIIF ``sr-implicit-downsampled``, MSIT, LTE, CLIT).

    For each sample: a scale ``s ~ U(min_scale, max_scale)`` (one per sample, ``per="sample"`` as LIIF,
    or one for the whole global batch, ``per="batch"`` as MSIT/CLIT); an HR crop of ``round(lr_patch *
    s)`` pixels a side from a random image, turned by one of the 8 dihedral transforms; its LR, the
    MATLAB-bicubic resize of the (turned) crop to ``lr_patch`` x ``lr_patch`` with 8-bit passes, as
    ``make_lr``; and ``queries`` HR pixels drawn without replacement, returned as a ``QueryBatch``.

    Differences from the reference code, on purpose: the LR is MATLAB bicubic, not PIL bicubic, as
    every LR in this harness; the crop is turned before it is resized, so the LR is exactly the resize of
    the HR the queries read (LIIF resizes, then turns both; MATLAB's 8-bit passes are not
    rotation-equivariant, so the two orders differ by a level here and there); images smaller than
    the largest crop, ``round(lr_patch * max_scale)``, are left out (MSIT shrinks the batch's scale
    instead).

    Randomness: per global batch the generator gives, in this order, the scale(s), the image indices,
    the crop positions, the dihedral transforms and one 62-bit seed per sample for its query pixels
    (a generator of its own, so a rank builds its slice without drawing the others' pixels). That is
    a fixed amount of the generator per batch, whatever the scales and the image sizes.
    """

    def __init__(self, images: list[torch.Tensor], lr_patch: int = 48, queries: int = 2304,
                 min_scale: float = 1.0, max_scale: float = 4.0, per: str = "sample", augment: bool = True):
        if per not in ("sample", "batch"):
            raise BenchError(f"per must be 'sample' or 'batch', got {per!r}")
        if not 1 <= min_scale <= max_scale:
            raise BenchError(f"scales must satisfy 1 <= min_scale <= max_scale, got {min_scale} and {max_scale}")
        if lr_patch < 1:
            raise BenchError(f"lr_patch must be positive, got {lr_patch}")
        smallest = round(lr_patch * min_scale)
        if not 1 <= queries <= smallest * smallest:
            raise BenchError(f"queries must be between 1 and the smallest HR crop's {smallest}x{smallest} pixels, "
                             f"got {queries}")
        if not images:
            raise BenchError("no training images")
        self.lr_patch, self.queries, self.augment, self.per = lr_patch, queries, augment, per
        self.min_scale, self.max_scale = float(min_scale), float(max_scale)
        largest = round(lr_patch * max_scale)
        self.images = []  # HR tensors, or prepared images' memory-mapped HR arrays (3 channels)
        for image in images:
            hr = image if isinstance(image, torch.Tensor) else image.hr
            if min(hr.shape[-2:]) >= largest:
                self.images.append(hr.expand(3, *hr.shape[-2:]) if hr.shape[0] == 1 else image)
        if not self.images:
            raise BenchError(f"no training image is at least {largest} px on each side, the HR crop of an "
                             f"{lr_patch} px LR patch at the largest scale x{max_scale:g}")
        self.skipped = len(images) - len(self.images)  # too small for the largest crop

    def draw(self, generator: torch.Generator, batch: int) -> list[ScaleDraw]:
        """The random numbers of one global batch of ``batch`` samples."""
        unit_scale = torch.rand(batch if self.per == "sample" else 1, generator=generator, dtype=torch.float64)
        index = torch.randint(len(self.images), (batch,), generator=generator)
        unit = torch.rand(batch, 2, generator=generator, dtype=torch.float64)
        dihedral = torch.randint(8, (batch,), generator=generator)
        seeds = torch.randint(2**62, (batch,), generator=generator)
        scales = (self.min_scale + (self.max_scale - self.min_scale) * unit_scale).expand(batch)
        draws = []
        for s, i, (u, v), d, seed in zip(scales.tolist(), index.tolist(), unit.tolist(), dihedral.tolist(),
                                         seeds.tolist(), strict=True):
            size = round(self.lr_patch * s)
            image = self.images[i]
            height, width = (image if isinstance(image, torch.Tensor) else image.hr).shape[-2:]
            top, left = int(u * (height - size + 1)), int(v * (width - size + 1))
            draws.append(ScaleDraw(i, top, left, size, d if self.augment else 0, seed, s))
        return draws

    def crop(self, draw: ScaleDraw) -> torch.Tensor:
        """The uint8 [3, size, size] HR crop of a draw, turned by its dihedral transform."""
        image = self.images[draw.image]
        if not isinstance(image, torch.Tensor):  # a prepared image: copy the crop out of its mapped HR
            image = torch.from_numpy(np.ascontiguousarray(
                image.hr[:, draw.top: draw.top + draw.size, draw.left: draw.left + draw.size]))
            top = left = 0
        else:
            top, left = draw.top, draw.left
        hr = image[:, top: top + draw.size, left: left + draw.size]
        if draw.dihedral & 4:
            hr = hr.flip(-1)
        return hr.rot90(draw.dihedral & 3, dims=(-2, -1))

    def build(self, draws: list[ScaleDraw]) -> QueryBatch:
        """The samples of the given draws."""
        p = self.lr_patch
        lrs, coords, cells, rgbs = [], [], [], []
        for draw in draws:
            hr = self.crop(draw).float() / 255
            size = draw.size
            if output_length(size, p / size) != p:  # imresize takes a scale: make sure it lands on p
                raise BenchError(f"internal: resizing {size} px by {p}/{size} does not give {p} px")
            lr = imresize(hr, p / size, uint8_passes=True)
            lrs.append(torch.round(lr * 255) / 255)  # exact 8-bit levels, as make_lr stores them
            picked = torch.randperm(size * size, generator=torch.Generator().manual_seed(draw.seed))[: self.queries]
            rows, cols = picked // size, picked % size
            axis = pixel_centres(size)
            coords.append(torch.stack([axis[rows], axis[cols]], dim=-1))
            cells.append(torch.tensor([2 / size, 2 / size]).expand(self.queries, 2))
            rgbs.append(hr[:, rows, cols].t())
        scale = torch.tensor([draw.scale for draw in draws], dtype=torch.float64)
        return QueryBatch(torch.stack(lrs), torch.stack(coords), torch.stack(cells), torch.stack(rgbs), scale)

    def batch(self, generator: torch.Generator, batch: int, rank: int = 0, world: int = 1) -> QueryBatch:
        """This rank's share of the next global batch of ``batch`` samples."""
        return self.build(_share(self.draw(generator, _splits(batch, world)), rank, world))


# ---- the loader: batches built in worker processes, the random numbers drawn here ------------------------------

class _Draws:
    """The global batches' random numbers, drawn in the training process, each with the generator state after
    it: a checkpoint saves the state after the last batch *trained on*, however far the loader read ahead."""

    def __init__(self, sampler, generator: torch.Generator, batch: int):
        self.sampler, self.generator, self.batch = sampler, generator, batch

    def __iter__(self) -> Iterator:
        while True:
            draws = self.sampler.draw(self.generator, self.batch)
            yield draws, self.generator.get_state()


class _Shares(torch.utils.data.Dataset):
    """Builds one rank's share of a global batch from its draws (in a DataLoader worker, or in place)."""

    def __init__(self, sampler, rank: int, world: int):
        self.sampler, self.rank, self.world = sampler, rank, world

    def __getitem__(self, item):
        draws, state = item
        share = _share(draws, self.rank, self.world)
        built = self.sampler.build_uint8(share) if hasattr(self.sampler, "build_uint8") else self.sampler.build(share)
        return built, state


def _one_thread(_: int) -> None:
    torch.set_num_threads(1)  # a worker builds batches; the training process has the cores


def batch_stream(sampler, generator: torch.Generator, batch: int, rank: int = 0, world: int = 1, workers: int = 0,
                 pin_memory: bool = False) -> Iterator:
    """This rank's shares of the global batches, in order, as ``(batch, generator state after it)``.

    Exactly the batches ``sampler.batch(generator, batch, rank, world)`` gives one call after another (a
    ``PatchSampler``'s as uint8: convert on the device), built in ``workers`` DataLoader processes (0: here)
    that read ahead while the model trains. Only this process draws random numbers, so the batches do not
    depend on the number of workers. The generator runs ahead of the training: resume from the state that
    comes with the last batch trained on."""
    loader = torch.utils.data.DataLoader(
        _Shares(sampler, rank, world), batch_size=None, sampler=_Draws(sampler, generator, _splits(batch, world)),
        num_workers=workers, pin_memory=pin_memory, worker_init_fn=_one_thread if workers else None,
        prefetch_factor=4 if workers else None, persistent_workers=False)
    return iter(loader)
