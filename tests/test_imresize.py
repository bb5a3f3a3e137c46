"""MATLAB imresize: against MATLAB's own LR files, and against a slow loop-by-loop reading of
MATLAB's algorithm for scales no test set has."""

import math

import numpy as np
import pytest
import torch

from bench.data.benchmarks import load_image, mod_crop
from bench.data.imresize import imresize, output_length


@pytest.mark.data
@pytest.mark.parametrize("dataset", ["Set5", "Set14"])
def test_matches_matlab_lr_files(data_root, dataset):
    total = identical = 0
    worst = 0
    for hr_path in sorted((data_root / dataset / "HR").glob("*.png")):
        for scale in (2, 3, 4):
            hr = mod_crop(load_image(hr_path), scale)
            matlab = load_image(data_root / dataset / "LR_bicubic" / f"X{scale}" / f"{hr_path.stem}x{scale}.png")
            ours = torch.round(imresize(hr.float() / 255, 1 / scale, uint8_passes=True) * 255).to(torch.uint8)
            assert ours.shape == matlab.shape, (hr_path.name, scale)
            diff = (ours.int() - matlab.int()).abs()
            total += diff.numel()
            identical += int((diff == 0).sum())
            worst = max(worst, int(diff.max()))
    assert identical / total >= 0.999
    assert worst <= 1


def _cubic(x):
    x = abs(x)
    if x <= 1:
        return 1.5 * x**3 - 2.5 * x**2 + 1
    if x <= 2:
        return -0.5 * x**3 + 2.5 * x**2 - 4 * x + 2
    return 0.0


def _reference_1d(signal: np.ndarray, scale: float) -> np.ndarray:
    """MATLAB's contributions() followed literally, one output sample at a time."""
    n = len(signal)
    width = 4 / scale if scale < 1 else 4
    out = []
    for x in range(1, output_length(n, scale) + 1):
        u = x / scale + 0.5 * (1 - 1 / scale)
        left = math.floor(u - width / 2)
        acc = norm = 0.0
        for j in range(left, left + math.ceil(width) + 2):
            w = scale * _cubic(scale * (u - j)) if scale < 1 else _cubic(u - j)
            k = (j - 1) % (2 * n)
            k = k if k < n else 2 * n - 1 - k
            acc += w * signal[k]
            norm += w
        out.append(acc / norm)
    return np.array(out)


@pytest.mark.parametrize("scale", [0.37, 0.5, 1 / 3, 1.0, 1.7, 2.5, 4.0])
def test_any_scale_matches_literal_algorithm(scale):
    rng = np.random.default_rng(0)
    img = rng.random((2, 13, 9))
    expected = np.stack([
        np.stack([_reference_1d(col, scale) for col in channel.T], axis=1) for channel in img
    ])  # height first ...
    expected = np.stack([
        np.stack([_reference_1d(row, scale) for row in channel], axis=0) for channel in expected
    ])  # ... then width
    ours = imresize(torch.from_numpy(img), scale)
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours.numpy(), expected, atol=1e-12)


def test_batched_equals_one_by_one():
    x = torch.rand(3, 3, 20, 17, dtype=torch.float64)
    batched = imresize(x, 1 / 3)
    for i in range(3):
        torch.testing.assert_close(batched[i], imresize(x[i], 1 / 3), rtol=0, atol=1e-13)


def test_constant_image_stays_constant_and_uint8_passes_stay_on_grid():
    flat = torch.full((3, 31, 45), 0.4)
    torch.testing.assert_close(imresize(flat, 0.25), torch.full((3, 8, 12), 0.4))
    ramp = torch.linspace(0, 1, 40 * 40).view(1, 40, 40)
    levels = imresize(ramp, 0.5, uint8_passes=True) * 255
    torch.testing.assert_close(levels, levels.round(), rtol=0, atol=1e-4)


def test_rejects_bad_input():
    with pytest.raises(TypeError):
        imresize(torch.zeros(3, 8, 8, dtype=torch.uint8), 0.5)
    with pytest.raises(ValueError):
        imresize(torch.zeros(8, 8), 0.5)
    with pytest.raises(ValueError):
        imresize(torch.zeros(3, 8, 8), 0)
