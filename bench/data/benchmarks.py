"""Benchmark test sets: locate them, load HR (+ paired LR where a set ships it), mod-crop.

Layout under a data root (EDSR's "benchmark" layout)::

    <root>/<Set>/HR/<name>.png
    <root>/<Set>/LR_bicubic/X<s>/<name>x<s>.png     optional: MATLAB-made LR

Data roots, first match wins: ``--data-root``, else ``$BENCH_DATA_ROOT`` (``:``-separated, like
PATH), else ``./datasets``. Images keep the channels they are stored with: a grayscale PNG (Set14's
``bridge``) loads as one channel, as MATLAB's ``imread`` gives it; ``bench.metrics`` decides how
each protocol measures it.

``samples`` is the embedded default: images that scikit-image ships, so every command works on a
fresh machine with no download. No paper reports numbers on it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from bench import BenchError
from bench.data.imresize import imresize

__all__ = [
    "BENCHMARKS", "SAMPLES_TEST", "SAMPLES_TRAIN", "Pair", "TestSet",
    "data_roots", "find_dataset", "is_embedded", "load_image", "load_test_set", "make_lr", "mod_crop",
    "canonical_name",
]

# Canonical name -> accepted spellings (compared case-insensitively).
BENCHMARKS: dict[str, tuple[str, ...]] = {
    "Set5": ("set5",),
    "Set14": ("set14",),
    "B100": ("b100", "bsd100", "bsds100"),
    "Urban100": ("urban100",),
    "Manga109": ("manga109",),
    "DIV2K-val": ("div2k-val", "div2k", "div2k_valid"),
    "samples": ("samples", "samples-test"),
    "samples-train": ("samples-train",),
}

# The embedded default, from scikit-image's bundled images (skimage.data function names).
# Test: five images like Set5, one of them grayscale like Set14's bridge. Train: disjoint.
SAMPLES_TEST = ("astronaut", "coffee", "chelsea", "camera", "rocket")
SAMPLES_TRAIN = (
    "hubble_deep_field", "immunohistochemistry", "retina", "brick", "grass", "gravel",
    "moon", "coins", "clock", "cell", "page", "text",
)
SAMPLES_NOTE = "embedded scikit-image sample images; no paper reports numbers on this set"


@dataclass
class Pair:
    name: str
    hr: torch.Tensor  # uint8 [C, H, W], mod-cropped to the scale; C is 1 for grayscale
    lr: torch.Tensor | None  # uint8 [C, H/s, W/s] from the set's LR_bicubic files, or None


@dataclass
class TestSet:
    name: str
    scale: float  # an int for whole scales
    pairs: list[Pair]
    location: str  # folder it was read from, or "scikit-image"
    lr_source: str  # "paired LR_bicubic files" or "generated (MATLAB-compatible imresize)"
    note: str = ""


def canonical_name(name: str) -> str:
    lowered = name.lower()
    for canonical, spellings in BENCHMARKS.items():
        if lowered == canonical.lower() or lowered in spellings:
            return canonical
    raise BenchError(f"unknown dataset {name!r}; known: {', '.join(BENCHMARKS)}")


def is_embedded(name: str) -> bool:
    """Whether ``name`` is one of the embedded scikit-image sets (no folder under a data root)."""
    try:
        return canonical_name(name) in ("samples", "samples-train")
    except BenchError:
        return False


def data_roots(data_root: str | os.PathLike | None = None) -> list[Path]:
    if data_root:
        spec = str(data_root)
    else:
        spec = os.environ.get("BENCH_DATA_ROOT", "") or "datasets"
    return [Path(p).expanduser() for p in spec.split(os.pathsep) if p]


def find_dataset(name: str, data_root: str | os.PathLike | None = None) -> Path:
    """The folder holding ``<name>/HR`` under the first data root that has it."""
    roots = data_roots(data_root)
    for root in roots:
        if (root / name / "HR").is_dir():
            return root / name
    looked = "\n".join(f"  {(root / name / 'HR').resolve()}" for root in roots)
    raise BenchError(
        f"dataset {name} not found; looked for its HR folder in:\n{looked}\n"
        f"Download it with `python -m bench data download {name}`, or point --data-root / "
        f"BENCH_DATA_ROOT at a folder that holds {name}/HR/*.png."
    )


def load_image(path: Path) -> torch.Tensor:
    """A PNG/JPEG as uint8 ``[C, H, W]``: C = 1 for grayscale, else 3 (alpha and palettes dropped)."""
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode not in ("L", "RGB"):
                im = im.convert("L" if im.mode in ("1", "LA", "I", "I;16") else "RGB")
            array = np.asarray(im)
    except Image.DecompressionBombError as err:  # not an OSError: PIL's guard against huge pixel counts
        raise BenchError(f"refusing image {path}: {err}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise BenchError(f"cannot read image {path}: {err}") from None
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous()


def mod_crop(img: torch.Tensor, scale: float) -> torch.Tensor:
    """Crop ``[..., H, W]`` from the top-left to multiples of ``scale``. A non-integer scale keeps
    ``round(floor(H / s) * s)`` rows (LIIF's test-time rule), whose LR has ``floor(H / s)`` rows."""
    h, w = img.shape[-2:]
    if isinstance(scale, int):
        return img[..., : h - h % scale, : w - w % scale]
    return img[..., : round(math.floor(h / scale + 1e-9) * scale), : round(math.floor(w / scale + 1e-9) * scale)]


def _check_scale(scale: float) -> float:
    """The scale, as an int when it is whole (2.0 -> 2: paired LR folders are named X2)."""
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale >= 1:
        raise BenchError(f"scale must be a number of at least 1 for test sets, got {scale!r}")
    return int(scale) if float(scale).is_integer() else float(scale)


def _pair_up(name: str, hr: torch.Tensor, scale: float, where: str) -> torch.Tensor:
    if min(hr.shape[-2:]) < scale:
        raise BenchError(f"{where}: HR image {name} is {hr.shape[-1]}x{hr.shape[-2]}, smaller than scale x{scale}")
    return mod_crop(hr, scale)


def _load_folder(name: str, scale: float, data_root, lr: str) -> TestSet:
    folder = find_dataset(name, data_root)
    hr_paths = sorted(p for p in (folder / "HR").iterdir() if p.suffix.lower() in (".png", ".jpg", ".bmp"))
    if not hr_paths:
        raise BenchError(f"{folder / 'HR'} holds no images")
    lr_dir = folder / "LR_bicubic" / f"X{scale}"
    use_paired = lr == "paired" or (lr == "auto" and lr_dir.is_dir())
    if lr == "paired" and not lr_dir.is_dir():
        raise BenchError(f"{name} has no paired LR for x{scale}: {lr_dir} does not exist")

    def load_pair(path: Path) -> Pair:
        hr = _pair_up(path.name, load_image(path), scale, str(folder))
        if not use_paired:
            return Pair(path.stem, hr, None)
        lr_path = lr_dir / f"{path.stem}x{scale}{path.suffix}"
        if not lr_path.is_file():
            raise BenchError(f"{lr_dir} lacks {lr_path.name}: complete the folder, or pass --lr generated")
        lr_img = load_image(lr_path)
        expected = (hr.shape[-2] // scale, hr.shape[-1] // scale)
        if tuple(lr_img.shape[-2:]) != expected:
            raise BenchError(
                f"{lr_path} is {lr_img.shape[-1]}x{lr_img.shape[-2]}, expected "
                f"{expected[1]}x{expected[0]} for x{scale} of the mod-cropped {path.name}"
            )
        return Pair(path.stem, hr, lr_img)

    # PNG decoding releases the GIL: a few threads roughly halve the load time of a set.
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        pairs = list(pool.map(load_pair, hr_paths))
    source = "paired LR_bicubic files" if use_paired else "generated (MATLAB-compatible imresize)"
    return TestSet(name, scale, pairs, str(folder), source)


def _load_samples(names: Sequence[str], dataset: str, scale: float) -> TestSet:
    import skimage.data

    pairs = []
    for name in names:
        array = np.asarray(getattr(skimage.data, name)())
        array = array[:, :, None] if array.ndim == 2 else array[:, :, :3]
        hr = torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1).contiguous()
        pairs.append(Pair(name, _pair_up(name, hr, scale, dataset), None))
    return TestSet(dataset, scale, pairs, "scikit-image", "generated (MATLAB-compatible imresize)", SAMPLES_NOTE)


def load_test_set(name: str, scale: float, data_root=None, lr: str = "auto") -> TestSet:
    """Load a test set at ``scale`` (any scale >= 1 for arbitrary-scale models; paired files exist for whole
    scales only). ``lr``: ``auto`` (paired files if the set has them), ``paired`` (require them) or
    ``generated`` (always our MATLAB-compatible imresize)."""
    scale = _check_scale(scale)
    if lr not in ("auto", "paired", "generated"):
        raise BenchError(f"lr must be auto, paired or generated, got {lr!r}")
    canonical = canonical_name(name)
    if canonical == "samples":
        return _load_samples(SAMPLES_TEST, canonical, scale)
    if canonical == "samples-train":
        return _load_samples(SAMPLES_TRAIN, canonical, scale)
    return _load_folder(canonical, scale, data_root, lr)


def down_scale(hr: torch.Tensor, scale: float) -> float | tuple[float, float]:
    """The ``imresize`` scale that makes the LR of a ``mod_crop``-ped HR: ``1 / scale`` at whole scales, else
    ``round(H / s)`` x ``round(W / s)`` as a (rows, columns) pair, MATLAB's ``imresize(hr, [h w])``."""
    if isinstance(scale, int):
        return 1 / scale
    h, w = hr.shape[-2:]
    return round(h / scale) / h, round(w / scale) / w


def make_lr(hr: torch.Tensor, scale: float) -> torch.Tensor:
    """MATLAB ``imresize(hr, 1/scale, 'bicubic')`` of a uint8 image, as uint8 (8-bit passes); see ``down_scale``."""
    lr = imresize(hr.float() / 255, down_scale(hr, scale), uint8_passes=True)
    return torch.round(lr * 255).to(torch.uint8)
