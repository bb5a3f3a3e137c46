"""PSNR and SSIM under the evaluation conventions SR papers use, as named protocols.

Every protocol starts from the model output clamped to [0, 1] and the uint8 ground truth, and
differs in four choices:

* ``basicsr`` (default): SR rounded to uint8, float Y (BT.601 studio range, MATLAB
  ``rgb2ycbcr``) without rounding, shave = scale. BasicSR, SwinIR, KAIR and RCAN's MATLAB script.
* ``matlab``: the MATLAB-era (VDSR) evaluation behind the published bicubic rows: the ground truth
  is ``round(rgb2ycbcr(uint8 HR))`` (a grayscale image is its own Y), the LR is made from that Y in
  double precision, and only the Y channel goes through the model. Y of the output rounded.
* ``div2k-rgb``: LIIF/EDSR validation on DIV2K: RGB, no rounding of SR, shave = scale + 6.
* ``liif-y``: LIIF/MSIT benchmark tables: Y without rounding of SR, shave = scale.
* ``selfexsr``: Huang et al.'s SelfExSR evaluation code (``quant_eval``, CVPR 2015), which CARN's authors used
  (their answers in nmhkahn/CARN-pytorch issues #30 and #46): the set's uint8 RGB LR goes in; Y rounded (MATLAB
  ``rgb2ycbcr`` of the uint8 output and of the HR), shave = scale.
* ``lapsrn-gray-y``: as ``lapsrn``, but a grayscale image is its own Y (its one plane is the model's input and the
  ground truth): the re-evaluation of FSRCNN whose x2 row MSTN's Table I prints (Set14's grayscale ``bridge`` is
  what tells the two apart).
* ``lapsrn``: LapSRN's MATLAB test code (CVPR 2017, ``evaluate_LapSRN_dataset.m``/``SR_LapSRN.m``): the LR is
  bicubic of the double RGB HR, not quantised; a Y network sees the LR's Y and its output Y is joined with the
  bicubic-upsampled CbCr of the LR, back to RGB. Measured as ``basicsr`` (float Y of the uint8 RGB output).

Besides what is measured, a protocol says how the LR is made (``lr``) and how a channel-agnostic (Y)
network's output becomes an image (``y_cbcr``): see ``bench.evaluate.model_input``.

All arithmetic is float64, on any device; SSIM is Wang et al.'s reference (11x11 Gaussian,
sigma 1.5, K1 = 0.01, K2 = 0.03, L = 255, 'valid' filtering, mean over the map and channels).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch

from bench import BenchError

__all__ = [
    "Protocol", "PROTOCOLS", "get_protocol", "rgb_to_y", "rgb_to_ycbcr", "ycbcr_to_rgb", "psnr", "ssim",
    "measured_planes", "reference_planes", "score",
]

_Y_WEIGHTS = (65.481, 128.553, 24.966)
# MATLAB rgb2ycbcr: [Y; Cb; Cr] = (offset + T * [R; G; B]) / 255 for RGB in [0, 1]
_YCBCR_T = ((65.481, 128.553, 24.966), (-37.797, -74.203, 112.0), (112.0, -93.786, -18.214))
_YCBCR_OFFSET = (16.0, 128.0, 128.0)
LR_SOURCES = ("files", "y-double", "rgb-double")


@dataclass(frozen=True)
class Protocol:
    name: str
    space: str  # "y" or "rgb"
    quantize_sr: bool  # round the clamped output to 8-bit levels before measuring
    round_y: bool  # round Y to 8-bit levels (MATLAB rgb2ycbcr on uint8 input)
    extra_shave: int  # border shaved = scale + extra_shave
    # How the LR is made: "files" (the set's LR_bicubic files, else our uint8 imresize), "y-double" (bicubic of
    # the rounded Y of the HR in float64; the model sees Y only), "rgb-double" (bicubic of the RGB HR in float64,
    # not quantised).
    lr: str
    y_cbcr: bool  # a channel-agnostic (Y) network sees the LR's Y; its Y + the LR's bicubic CbCr -> RGB output
    # A grayscale image is its own Y (MATLAB scripts that convert only when size(im, 3) > 1), else it is RGB with
    # equal channels (cv2/BasicSR loading) and its Y is rgb2ycbcr's.
    gray_is_y: bool
    description: str

    def __post_init__(self) -> None:
        if self.lr not in LR_SOURCES:
            raise ValueError(f"protocol {self.name}: lr must be one of {LR_SOURCES}, got {self.lr!r}")

    def shave(self, scale: float) -> int:
        return math.ceil(scale) + self.extra_shave

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (
        Protocol("basicsr", "y", True, False, 0, "files", False, False,
                 "Y (float, unrounded) of the uint8-rounded output, shave = scale (BasicSR/SwinIR)"),
        Protocol("matlab", "y", True, True, 0, "y-double", False, True,
                 "VDSR-era MATLAB: rounded Y, bicubic on Y in double, shave = scale"),
        Protocol("div2k-rgb", "rgb", False, False, 6, "files", False, False,
                 "RGB of the clamped output, shave = scale + 6 (LIIF/EDSR DIV2K validation)"),
        Protocol("liif-y", "y", False, False, 0, "files", False, False,
                 "Y of the clamped, unrounded output, shave = scale (LIIF/MSIT benchmarks)"),
        Protocol("selfexsr", "y", True, True, 0, "files", False, False,
                 "SelfExSR's quant_eval: rounded Y of the uint8 output and HR, the set's LR, shave = scale (CARN)"),
        Protocol("lapsrn", "y", True, False, 0, "rgb-double", True, False,
                 "LapSRN's MATLAB test: LR bicubic of the double RGB (unquantised), a Y network's Y joined with "
                 "bicubic CbCr; Y (float) of the uint8 RGB output, shave = scale"),
        Protocol("lapsrn-gray-y", "y", True, False, 0, "rgb-double", True, True,
                 "as lapsrn, but a grayscale image is its own Y; the re-evaluation of FSRCNN that MSTN's Table I "
                 "copies at x2"),
    )
}
DEFAULT_PROTOCOL = "basicsr"


def get_protocol(name: str) -> Protocol:
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise BenchError(f"unknown protocol {name!r}; choose one of: {', '.join(PROTOCOLS)}") from None


def round_half_up(x: torch.Tensor) -> torch.Tensor:
    """MATLAB's uint8() rounding for non-negative values (torch.round rounds half to even)."""
    return torch.floor(x + 0.5)


def rgb_to_y(rgb: torch.Tensor) -> torch.Tensor:
    """MATLAB ``rgb2ycbcr`` luma of ``[..., 3, H, W]`` RGB in [0, 1]: Y in [16, 235], float64."""
    if rgb.shape[-3] != 3:
        raise ValueError(f"rgb_to_y needs 3 channels in dim -3, got shape {tuple(rgb.shape)}")
    weights = torch.tensor(_Y_WEIGHTS, dtype=torch.float64, device=rgb.device).view(3, 1, 1)
    return 16.0 + (rgb.double() * weights).sum(dim=-3, keepdim=True)


def _ycbcr_matrix(x: torch.Tensor) -> torch.Tensor:
    return torch.tensor(_YCBCR_T, dtype=torch.float64, device=x.device)


def rgb_to_ycbcr(rgb: torch.Tensor) -> torch.Tensor:
    """MATLAB ``rgb2ycbcr`` of double ``[..., 3, H, W]`` RGB in [0, 1]: YCbCr on [0, 1] (Y in [16, 235] / 255)."""
    if rgb.shape[-3] != 3:
        raise ValueError(f"rgb_to_ycbcr needs 3 channels in dim -3, got shape {tuple(rgb.shape)}")
    offset = torch.tensor(_YCBCR_OFFSET, dtype=torch.float64, device=rgb.device).view(3, 1, 1)
    return (offset + torch.einsum("ij,...jhw->...ihw", _ycbcr_matrix(rgb), rgb.double())) / 255


def ycbcr_to_rgb(ycbcr: torch.Tensor) -> torch.Tensor:
    """MATLAB ``ycbcr2rgb`` of double ``[..., 3, H, W]`` YCbCr on [0, 1]: RGB (unclipped), float64."""
    if ycbcr.shape[-3] != 3:
        raise ValueError(f"ycbcr_to_rgb needs 3 channels in dim -3, got shape {tuple(ycbcr.shape)}")
    offset = torch.tensor(_YCBCR_OFFSET, dtype=torch.float64, device=ycbcr.device).view(3, 1, 1)
    inverse = torch.linalg.inv(_ycbcr_matrix(ycbcr))
    return torch.einsum("ij,...jhw->...ihw", inverse, ycbcr.double() * 255 - offset)


def _gaussian_window(device: torch.device) -> torch.Tensor:
    coords = torch.arange(11, dtype=torch.float64, device=device) - 5
    g = torch.exp(-(coords**2) / (2 * 1.5**2))
    g = g / g.sum()
    return g


def _valid_filter(x: torch.Tensor, taps: list[float], dim: int) -> torch.Tensor:
    """Correlate ``x`` with a 1-D kernel along ``dim``, keeping only fully covered positions."""
    length = x.shape[dim] - len(taps) + 1
    out = x.narrow(dim, 0, length) * taps[0]
    for k in range(1, len(taps)):
        out.add_(x.narrow(dim, k, length), alpha=taps[k])
    return out


def _crop(x: torch.Tensor, shave: int) -> torch.Tensor:
    if shave <= 0:
        return x
    return x[..., shave:-shave, shave:-shave]


def psnr(a: torch.Tensor, b: torch.Tensor, shave: int = 0, peak: float = 255.0) -> float:
    """PSNR in dB of two images on the 0..peak scale (any shape ``[..., H, W]``), float64."""
    mse = (_crop(a.double(), shave) - _crop(b.double(), shave)).pow(2).mean().item()
    return math.inf if mse == 0 else 10 * math.log10(peak * peak / mse)


def ssim(a: torch.Tensor, b: torch.Tensor, shave: int = 0, peak: float = 255.0) -> float:
    """Wang et al. SSIM of ``[C, H, W]`` (or ``[H, W]``) images on 0..peak, averaged over channels."""
    a = _crop(a.double(), shave)
    b = _crop(b.double(), shave)
    if a.dim() == 2:
        a, b = a[None], b[None]
    if min(a.shape[-2:]) < 11:
        raise BenchError(f"SSIM needs at least 11x11 pixels after shaving, got {tuple(a.shape[-2:])}")
    g = _gaussian_window(a.device).tolist()
    # The five maps (a, b, a², b², ab) of every channel, filtered at once, separably, 'valid' like
    # MATLAB's filter2: eleven shifted multiply-adds per axis beat a float64 grouped conv2d by ~10x.
    maps = torch.stack([a, b, a * a, b * b, a * b])
    maps = _valid_filter(_valid_filter(maps, g, dim=-2), g, dim=-1)
    mu_a, mu_b, e_aa, e_bb, e_ab = maps.unbind(0)
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    var_a, var_b, cov = e_aa - mu_a**2, e_bb - mu_b**2, e_ab - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return ssim_map.mean().item()


def measured_planes(sr: torch.Tensor, protocol: Protocol) -> torch.Tensor:
    """The planes a protocol measures, on 0..255 float64, from a ``[C, H, W]`` output in [0, 1].

    ``C`` is 3 (RGB) or, under protocols whose LR is ``y-double``, 1 (already Y on [0, 1])."""
    x = sr.double().clamp(0, 1) * 255
    if protocol.quantize_sr:
        # MATLAB's uint8() under the MATLAB protocol, numpy's half-to-even otherwise (BasicSR).
        x = round_half_up(x) if protocol.round_y else torch.round(x)
    if protocol.space == "rgb" or x.shape[-3] == 1:
        return x
    y = rgb_to_y(x / 255)
    return round_half_up(y) if protocol.round_y else y


def reference_planes(hr: torch.Tensor, protocol: Protocol) -> torch.Tensor:
    """The ground-truth planes of a uint8 ``[C, H, W]`` image (C = 1 for grayscale), 0..255 float64.

    A grayscale image counts as RGB with equal channels (cv2/BasicSR loading), except under protocols whose
    scripts take a single-channel image as its own Y (``gray_is_y``: the MATLAB one)."""
    if hr.dtype != torch.uint8:
        raise TypeError(f"reference_planes takes a uint8 image, got {hr.dtype}")
    x = hr.double()
    if protocol.gray_is_y and x.shape[-3] == 1:
        return x
    if x.shape[-3] == 1:
        x = x.expand(3, *x.shape[-2:])
    if protocol.space == "rgb":
        return x
    y = rgb_to_y(x / 255)
    return round_half_up(y) if protocol.round_y else y


def score(sr: torch.Tensor, hr_planes: torch.Tensor, scale: float, protocol: Protocol) -> tuple[float, float]:
    """(PSNR, SSIM) of one ``[C, H, W]`` output against the ground-truth planes of ``hr_planes``."""
    planes = measured_planes(sr, protocol)
    if planes.shape != hr_planes.shape:
        raise BenchError(f"output planes {tuple(planes.shape)} do not match ground truth {tuple(hr_planes.shape)}")
    shave = protocol.shave(scale)
    return psnr(planes, hr_planes, shave), ssim(planes, hr_planes, shave)
