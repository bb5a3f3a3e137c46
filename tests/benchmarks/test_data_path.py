"""The training data path at paper size (issue 19, `nox -s bench`): batches per second of the MSRA-SR paper
recipe's patches from prepared arrays, and a rank's memory and start-up with a DF2K-shaped prepared set against
a small one and against the unprepared path (a first run, which prepares the set on the fly).

Sizes: ``BENCH_DF2K_IMAGES`` images of 2040x1356 (default 400) and a tenth of that; generated once into
``$BENCH_CACHE_DIR/df2k-shaped`` (minutes), smooth content with noise, as PNGs."""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bench.data.prepared import prepare
from bench.data.training import PatchSampler, batch_stream, training_images

LARGE = int(os.environ.get("BENCH_DF2K_IMAGES", "400"))


def _cache() -> Path:
    return Path(os.environ.get("BENCH_CACHE_DIR", "") or Path.home() / ".cache" / "sr-repro-bench")


def df2k_shaped(images: int) -> Path:
    """A data root with DIV2K-train of ``images`` 2040x1356 PNGs and a two-image Set5 (made once)."""
    root = _cache() / "df2k-shaped" / str(images)
    folder = root / "DIV2K-train" / "HR"
    if not (root / "complete").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        rows, cols = np.mgrid[0:1356, 0:2040]
        for i in range(images):
            rng = np.random.default_rng(i)
            waves = [np.sin(rows / rng.uniform(20, 200) + cols / rng.uniform(20, 200) + c) for c in range(3)]
            image = 127 + 100 * np.stack(waves, -1) + rng.normal(0, 8, (1356, 2040, 3))
            Image.fromarray(image.clip(0, 255).astype(np.uint8)).save(folder / f"{i:04d}.png", compress_level=1)
        (root / "Set5" / "HR").mkdir(parents=True, exist_ok=True)
        for i in range(2):
            Image.fromarray(np.full((48, 48, 3), 60 * i, np.uint8)).save(root / "Set5" / "HR" / f"{i}.png")
        (root / "complete").write_text("")
    return root


def test_paper_patch_batches_per_second_from_prepared_arrays(benchmark, tmp_path, monkeypatch):
    """MSRA-SR's paper batch: 64 LR patches of 64 px at x2 with the 8 dihedral augmentations, on one core."""
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path))
    torch.set_num_threads(1)
    root = tmp_path / "root"
    (root / "DIV2K-train" / "HR").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(16):
        image = rng.integers(0, 256, (512, 640, 3), dtype=np.uint8)
        Image.fromarray(image).save(root / "DIV2K-train" / "HR" / f"{i}.png")
    prepare("DIV2K-train", 2, root, workers=1, progress=False)
    sampler = PatchSampler(training_images(["DIV2K-train"], 2, root), 2, 64, augment=True)
    stream = batch_stream(sampler, torch.Generator().manual_seed(0), 64)
    next(stream)
    benchmark.pedantic(lambda: next(stream), rounds=200, iterations=1)
    rate = 1 / benchmark.stats.stats.mean
    benchmark.extra_info["batches_per_s"] = rate
    print(f"prepared arrays -> 64 x (3x64x64 LR, 3x128x128 HR) uint8 batches: {rate:.0f} batches/s on one core")
    assert rate >= 200


def _train_once(root: Path, tmp_path: Path, name: str) -> tuple[float, float]:
    """(peak resident MB of the rank, seconds from launch to the end of a 1-step run) of `bench train`."""
    run = tmp_path / name
    command = [sys.executable, "-c", (
        "import resource, sys, time; start = time.perf_counter(); from bench.__main__ import main; "
        "code = main(sys.argv[1:]); "
        "print('RESULT', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, time.perf_counter() - start); "
        "sys.exit(code)"),
        "train", "swinir-light", "--scale", "2", "--recipe", "smoke", "--iterations", "1", "--batch-size", "4",
        "--lr-patch", "48", "--train-sets", "DIV2K-train", "--val-set", "Set5", "--data-root", str(root),
        "--run-dir", str(run), "--quiet"]
    started = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT"))
    return float(line.split()[1]), time.perf_counter() - started


@pytest.mark.slow
def test_a_ranks_memory_and_start_up_do_not_grow_with_a_prepared_set(benchmark, tmp_path):
    small, large = df2k_shaped(LARGE // 10), df2k_shaped(LARGE)
    unprepared = {}
    for name, root in (("small", small), ("large", large)):
        bare = tmp_path / f"bare-{name}"  # the same images under another path: not prepared for it yet
        for folder in ("DIV2K-train", "Set5"):
            (bare / folder).mkdir(parents=True)
            (bare / folder / "HR").symlink_to(root / folder / "HR")
        unprepared[name] = _train_once(bare, tmp_path, f"unprepared-{name}")
    for root in (small, large):
        prepare("DIV2K-train", 2, root, progress=False)
    measured = benchmark.pedantic(lambda: {n: _train_once(r, tmp_path, n) for n, r in
                                           (("small", small), ("large", large))}, rounds=1, iterations=1)
    (small_mb, small_s), (large_mb, large_s) = measured["small"], measured["large"]
    print(f"peak RSS of a rank, 1-step run: prepared {LARGE // 10} images {small_mb:.0f} MB ({small_s:.1f} s), "
          f"prepared {LARGE} images {large_mb:.0f} MB ({large_s:.1f} s); unprepared: {LARGE // 10} images "
          f"{unprepared['small'][0]:.0f} MB ({unprepared['small'][1]:.1f} s), {LARGE} images "
          f"{unprepared['large'][0]:.0f} MB ({unprepared['large'][1]:.1f} s)")
    benchmark.extra_info.update(small_mb=small_mb, large_mb=large_mb, small_s=small_s, large_s=large_s,
                                unprepared={n: {"mb": m, "s": t} for n, (m, t) in unprepared.items()})
    assert large_mb - small_mb < 300 and large_s < 15
