"""PSNR/SSIM against independent float64 numpy/scipy definitions (Wang et al.; MATLAB rgb2ycbcr)."""

import math

import numpy as np
import pytest
import torch
from scipy.signal import correlate2d
from skimage.metrics import structural_similarity

from bench import BenchError
from bench.metrics import PROTOCOLS, get_protocol, psnr, reference_planes, rgb_to_y, score, ssim


def ref_y(rgb01: np.ndarray) -> np.ndarray:  # HWC in [0, 1]
    return 16 + rgb01[..., 0] * 65.481 + rgb01[..., 1] * 128.553 + rgb01[..., 2] * 24.966


def ref_psnr(a, b):
    return 10 * np.log10(255.0**2 / np.mean((a - b) ** 2))


def ref_ssim_plane(a, b):
    x = np.arange(11) - 5
    g = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * 1.5**2))
    window = g / g.sum()
    f = lambda m: correlate2d(m, window, mode="valid")  # noqa: E731  (MATLAB filter2 'valid')
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = f(a), f(b)
    sa, sb, sab = f(a * a) - mu_a**2, f(b * b) - mu_b**2, f(a * b) - mu_a * mu_b
    return np.mean(((2 * mu_a * mu_b + c1) * (2 * sab + c2)) / ((mu_a**2 + mu_b**2 + c1) * (sa + sb + c2)))


def ref_ssim(a, b):  # HW or HWC
    if a.ndim == 2:
        return ref_ssim_plane(a, b)
    return np.mean([ref_ssim_plane(a[..., c], b[..., c]) for c in range(a.shape[-1])])


@pytest.fixture(scope="module")
def pair():
    rng = np.random.default_rng(7)
    base = rng.random((3, 12, 10))
    hr = torch.nn.functional.interpolate(torch.from_numpy(base)[None], size=(60, 48), mode="bicubic")[0]
    hr = (hr.clamp(0, 1) * 255).round().to(torch.uint8)
    sr = hr.double() / 255 + torch.from_numpy(rng.normal(0, 0.03, (3, 60, 48)))  # strays outside [0, 1] too
    return hr, sr


def expected(hr, sr, protocol, scale):
    """Each protocol spelled out in numpy, without touching bench.metrics."""
    h = hr.permute(1, 2, 0).numpy().astype(np.float64) / 255
    s = np.clip(sr.permute(1, 2, 0).numpy(), 0, 1)
    if protocol in ("basicsr", "matlab", "lapsrn", "lapsrn-gray-y", "selfexsr"):  # lapsrn*: only their LR differs
        s = np.floor(s * 255 + 0.5) / 255 if protocol in ("matlab", "selfexsr") else np.round(s * 255) / 255
    if protocol == "div2k-rgb":
        a, b, border = s * 255, h * 255, scale + 6
    else:
        a, b, border = ref_y(s), ref_y(h), scale
        if protocol in ("matlab", "selfexsr"):
            a, b = np.floor(a + 0.5), np.floor(b + 0.5)
    a, b = a[border:-border, border:-border], b[border:-border, border:-border]
    return ref_psnr(a, b), ref_ssim(a, b)


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
@pytest.mark.parametrize("scale", [2, 4])
def test_protocols_match_reference(pair, protocol, scale):
    hr, sr = pair
    spec = get_protocol(protocol)
    ours = score(sr, reference_planes(hr, spec), scale, spec)
    want = expected(hr, sr, protocol, scale)
    assert abs(ours[0] - want[0]) < 1e-6
    assert abs(ours[1] - want[1]) < 1e-6


def test_ssim_equals_skimage_wang_settings(pair):
    hr, sr = pair
    a = hr[0].double()
    b = (sr[0].clamp(0, 1) * 255).round()
    theirs = structural_similarity(a.numpy(), b.numpy(), gaussian_weights=True, sigma=1.5,
                                   use_sample_covariance=False, data_range=255)
    assert abs(ssim(a, b) - theirs) < 1e-6


def test_y_is_matlab_rgb2ycbcr():
    rgb = torch.tensor([[[1.0]], [[1.0]], [[1.0]]]), torch.tensor([[[0.0]], [[0.0]], [[0.0]]])
    assert rgb_to_y(rgb[0]).item() == pytest.approx(235.0)
    assert rgb_to_y(rgb[1]).item() == pytest.approx(16.0)
    assert rgb_to_y(torch.tensor([1.0, 0, 0]).view(3, 1, 1)).item() == pytest.approx(16 + 65.481)


def test_grayscale_reference_depends_on_protocol():
    gray = torch.full((1, 20, 20), 200, dtype=torch.uint8)
    assert reference_planes(gray, get_protocol("matlab")).unique().item() == 200  # MATLAB: its own Y
    assert reference_planes(gray, get_protocol("basicsr")).unique().item() == pytest.approx(16 + 219 * 200 / 255)


def test_psnr_of_known_error():
    a = torch.zeros(10, 10, dtype=torch.float64)
    assert psnr(a, a + 1) == pytest.approx(20 * math.log10(255))
    assert psnr(a, a) == math.inf


def test_unknown_protocol_and_tiny_images_are_clear_errors():
    with pytest.raises(BenchError, match="unknown protocol 'rgb'.*basicsr"):
        get_protocol("rgb")
    with pytest.raises(BenchError, match="11x11"):
        ssim(torch.zeros(12, 12), torch.zeros(12, 12), shave=2)
