"""The MATLAB-era Y-channel networks the SR tables start with: SRCNN, FSRCNN, VDSR.

Each loads its authors' release in the authors' own format, a MATLAB ``.mat`` file (``bench.checkpoints``
reads it with ``scipy.io.loadmat``; this module's ``remap_*`` functions turn the arrays into our tensors),
and runs the way the authors' MATLAB test code runs it, so that the harness's ``matlab`` protocol (the LR is
bicubic of the rounded Y in double precision; only Y goes through the model) gives the published rows:

* SRCNN (Dong et al., TPAMI 2016; test package ``SRCNN.m``/``demo_SR.m``): 9-5-5 convs (64, 32 filters),
  ReLU, on the bicubic-upsampled Y. ``SRCNN.m`` filters with ``imfilter(..., 'same', 'replicate')``: a
  correlation with replicated borders. The module upsamples its LR input itself (MATLAB bicubic).
* FSRCNN (Dong et al., ECCV 2016; ``FSRCNN.m``/``deconv.m``): on the LR Y, 5x5 d=56 feature conv, 1x1
  shrink to s=12, m=4 3x3 mapping convs, 1x1 expand, each with a PReLU of one slope per layer; a 9x9
  deconvolution with stride = scale. The convs replicate borders; ``deconv.m`` pads the input by one
  replicated pixel, scatters each pixel's filter ``stride`` apart and crops so that LR pixel 1 lands on
  HR pixel 1. At x3 the authors' demo compares with ``shave_x3``, which takes the output one pixel up and
  left of the ground truth: the option ``x3_shift`` reproduces that by cropping the deconvolution's output
  one pixel earlier (the authors' network output, shifted; only the shaved border differs).
* VDSR (Kim et al., CVPR 2016; ``VDSR_Official.mat`` of huangzehao/caffe-vdsr, MatConvNet arrays): 20 3x3
  convs of 64 features, zero padding, ReLU, plus the bicubic-upsampled Y (global residual); one model
  for x2, x3 and x4.

The networks take any number of channels and run each plane on its own (the batch and channel axes are
folded), so on the ``matlab`` protocol they see exactly the Y plane, as in the authors' code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench import BenchError
from bench.data.imresize import imresize
from bench.registry import option, register

__all__ = ["SRCNN", "FSRCNN", "VDSR", "remap_srcnn", "remap_fsrcnn", "remap_vdsr", "matlab_filters",
           "matconvnet_filters", "matlab_vector", "planes"]


def planes(x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
    """``[N, C, h, w]`` -> ``[N*C, 1, h, w]`` (each plane on its own), and ``(N, C)`` to fold back."""
    n, c = x.shape[:2]
    return x.reshape(n * c, 1, *x.shape[-2:]), (n, c)


def _replicate_conv(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """MATLAB ``imfilter(x, w, 'same', 'replicate')`` summed over input channels, plus the bias."""
    k = conv.kernel_size[0]
    if k > 1:
        x = F.pad(x, [k // 2] * 4, mode="replicate")
    return conv(x)


class SRCNN(nn.Module):
    """SRCNN f1-f2-f3 (n1, n2 filters) on the MATLAB-bicubic-upsampled input, replicated borders."""

    def __init__(self, scale: int, n1: int = 64, n2: int = 32, f1: int = 9, f2: int = 5, f3: int = 5):
        super().__init__()
        self.scale = scale
        self.conv1 = nn.Conv2d(1, n1, f1)
        self.conv2 = nn.Conv2d(n1, n2, f2)
        self.conv3 = nn.Conv2d(n2, 1, f3)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        x, (n, c) = planes(lr)
        x = imresize(x, self.scale).to(self.conv1.weight.dtype)
        x = F.relu(_replicate_conv(self.conv1, x))
        x = F.relu(_replicate_conv(self.conv2, x))
        x = _replicate_conv(self.conv3, x)
        return x.reshape(n, c, *x.shape[-2:])


class FSRCNN(nn.Module):
    """FSRCNN(d, s, m) on the LR input: conv-PReLU layers with replicated borders, then ``deconv.m``."""

    def __init__(self, scale: int, d: int = 56, s: int = 12, m: int = 4, deconv_size: int = 9, x3_shift: bool = True):
        super().__init__()
        self.scale = scale
        self.shift = 1 if (x3_shift and scale == 3) else 0
        self.convs = nn.ModuleList([nn.Conv2d(1, d, 5), nn.Conv2d(d, s, 1),
                                    *(nn.Conv2d(s, s, 3) for _ in range(m)), nn.Conv2d(s, d, 1)])
        self.acts = nn.ModuleList(nn.PReLU(1) for _ in self.convs)  # one slope per layer, as released
        self.deconv = nn.ConvTranspose2d(d, 1, deconv_size, stride=scale)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        x, (n, c) = planes(lr.to(self.deconv.weight.dtype))
        h, w = x.shape[-2:]
        for conv, act in zip(self.convs, self.acts, strict=True):
            x = act(_replicate_conv(conv, x))
        # deconv.m: one replicated pixel around, each pixel's filter added at stride steps (a transposed
        # conv), then the window whose first pixel is LR pixel 1's filter centre.
        y = self.deconv(F.pad(x, [1] * 4, mode="replicate"))
        start = (self.deconv.kernel_size[0] - 1) // 2 + self.scale - self.shift
        y = y[..., start:start + h * self.scale, start:start + w * self.scale]
        return y.reshape(n, c, *y.shape[-2:])


class VDSR(nn.Module):
    """VDSR: ``depth`` 3x3 convs (zero padding, ReLU between) predicting the residual to bicubic."""

    def __init__(self, scale: int, depth: int = 20, features: int = 64):
        super().__init__()
        self.scale = scale
        self.convs = nn.ModuleList([nn.Conv2d(1, features, 3, padding=1),
                                    *(nn.Conv2d(features, features, 3, padding=1) for _ in range(depth - 2)),
                                    nn.Conv2d(features, 1, 3, padding=1)])

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        x, (n, c) = planes(lr)
        upsampled = imresize(x, self.scale).to(self.convs[0].weight.dtype)
        x = upsampled
        for i, conv in enumerate(self.convs):
            x = conv(F.relu(x) if i else x)
        x = x + upsampled
        return x.reshape(n, c, *x.shape[-2:])


def matlab_filters(weights: Any) -> torch.Tensor:
    """The Dong et al. test packages' filter bank ``[in, k*k, out]`` -> a conv weight ``[out, in, k, k]``.

    Their code takes filter ``(j, :, i)`` (input j, output i) as ``reshape(w, k, k)``, MATLAB's column-major
    reshape, and correlates with it (``imfilter``): element ``r + k*c`` is row r, column c."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 3 or round(w.shape[1] ** 0.5) ** 2 != w.shape[1]:
        raise BenchError(f"expected a MATLAB filter bank [in, k*k, out], got shape {w.shape}")
    k = round(w.shape[1] ** 0.5)
    grid = w.transpose(2, 0, 1).reshape(w.shape[2], w.shape[0], k, k)  # [out, in, c, r] (column-major)
    return torch.from_numpy(np.ascontiguousarray(grid.swapaxes(-1, -2)))


def matconvnet_filters(weights: Any) -> torch.Tensor:
    """MatConvNet's ``[h, w, in, out]`` (``vl_nnconv`` correlates, row index first; MATLAB drops trailing
    singletons) -> a conv weight ``[out, in, h, w]``."""
    w = np.asarray(weights, dtype=np.float64)
    w = w.reshape(*w.shape, *([1] * (4 - w.ndim)))
    return torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1)))


def matlab_vector(values: Any) -> torch.Tensor:
    return torch.from_numpy(np.asarray(values, dtype=np.float64).reshape(-1))


def _cells(array: Any) -> list[np.ndarray]:
    """A MATLAB cell array as ``loadmat`` returns it (an object array) -> its entries in order."""
    return [np.asarray(entry) for entry in np.asarray(array, dtype=object).reshape(-1, order="F")]


def remap_srcnn(state: dict[str, Any]) -> dict[str, Any]:
    """``SRCNN_x*.mat`` (``weights_conv1`` [81, 64], ``weights_conv2`` [64, 25, 32], ``weights_conv3``
    [32, 25], ``biases_conv*``) -> our keys. Our own keys pass through unchanged."""
    if "weights_conv1" not in state:
        return state
    w1 = np.asarray(state["weights_conv1"])
    w3 = np.asarray(state["weights_conv3"])
    return {
        "conv1.weight": matlab_filters(w1[None]), "conv1.bias": matlab_vector(state["biases_conv1"]),
        "conv2.weight": matlab_filters(state["weights_conv2"]), "conv2.bias": matlab_vector(state["biases_conv2"]),
        "conv3.weight": matlab_filters(w3[..., None]), "conv3.bias": matlab_vector(state["biases_conv3"]),
    }


def remap_fsrcnn(state: dict[str, Any]) -> dict[str, Any]:
    """``FSRCNN_x*.mat`` (cell arrays ``weights_conv``, ``biases_conv``, ``prelu_conv``: one entry per layer,
    the last the deconvolution ``[1, 81, d]``, whose PReLU entry is empty) -> our keys."""
    if "weights_conv" not in state:
        return state
    weights, biases, slopes = (_cells(state[k]) for k in ("weights_conv", "biases_conv", "prelu_conv"))
    out: dict[str, Any] = {}
    for i, (w, b, a) in enumerate(zip(weights[:-1], biases[:-1], slopes[:-1], strict=True)):
        out[f"convs.{i}.weight"] = matlab_filters(w)
        out[f"convs.{i}.bias"] = matlab_vector(b)
        out[f"acts.{i}.weight"] = matlab_vector(a)
    # FSRCNN.m reads the deconvolution as [1, k*k, channels] and takes filter i = weight(1, :, i)
    deconv = matlab_filters(weights[-1].transpose(2, 1, 0))  # -> [channels, k*k, 1] -> [1, channels, k, k]
    out["deconv.weight"] = deconv.transpose(0, 1).contiguous()  # ConvTranspose2d: [in, out, k, k]
    out["deconv.bias"] = matlab_vector(biases[-1])
    return out


def remap_vdsr(state: dict[str, Any]) -> dict[str, Any]:
    """``VDSR_Official.mat`` (struct ``model`` with cell arrays ``weight`` [3, 3, in, out] and ``bias``,
    MatConvNet's layout; ``vl_nnconv`` correlates, row index first) -> our keys."""
    if "model" not in state:
        return state
    model = state["model"].reshape(-1)[0]
    out: dict[str, Any] = {}
    for i, (w, b) in enumerate(zip(_cells(model["weight"]), _cells(model["bias"]), strict=True)):
        out[f"convs.{i}.weight"] = matconvnet_filters(w)
        out[f"convs.{i}.bias"] = matlab_vector(b)
    return out


@dataclass(frozen=True)
class SRCNNConfig:
    n1: int = option(64, "paper (TPAMI 2016): n1=64; SRCNN_x*.mat 9-5-5(ImageNet)")
    n2: int = option(32, "paper: n2=32")
    f1: int = option(9, "paper: 9-5-5, the released ImageNet model")
    f2: int = option(5, "paper: 9-5-5")
    f3: int = option(5, "paper: 9-5-5")


@dataclass(frozen=True)
class FSRCNNConfig:
    d: int = option(56, "paper (ECCV 2016): FSRCNN(56, 12, 4)")
    s: int = option(12, "paper: s=12")
    m: int = option(4, "paper: m=4")
    deconv_size: int = option(9, "paper: 9x9 deconvolution")
    x3_shift: bool = option(True, "authors' test_FSRCNN.m: at x3 shave_x3 compares the output one pixel off")


@dataclass(frozen=True)
class VDSRConfig:
    depth: int = option(20, "paper (CVPR 2016): 20 layers")
    features: int = option(64, "paper: 64 filters of 3x3")


@register("srcnn", paper="SRCNN (TPAMI 2016)", scales=(2, 3, 4), channels="any", config=SRCNNConfig,
          remap_weights=remap_srcnn)
def srcnn(scale: int, **config: Any) -> SRCNN:
    """SRCNN 9-5-5 on bicubic-upsampled Y, as the authors' MATLAB test code runs it"""
    return SRCNN(scale, **config)


@register("fsrcnn", paper="FSRCNN (ECCV 2016)", scales=(2, 3, 4), channels="any", config=FSRCNNConfig,
          remap_weights=remap_fsrcnn)
def fsrcnn(scale: int, **config: Any) -> FSRCNN:
    """FSRCNN(56, 12, 4) on LR Y with a 9x9 deconvolution, as the authors' MATLAB test code runs it"""
    return FSRCNN(scale, **config)


@register("vdsr", paper="VDSR (CVPR 2016)", scales=(2, 3, 4), channels="any", config=VDSRConfig,
          remap_weights=remap_vdsr)
def vdsr(scale: int, **config: Any) -> VDSR:
    """VDSR (20 layers, 64 features) on bicubic-upsampled Y; one model for x2/x3/x4"""
    return VDSR(scale, **config)
