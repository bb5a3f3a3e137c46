"""LapSRN: "Deep Laplacian Pyramid Networks for Fast and Accurate Super-Resolution" (Lai et al., CVPR 2017).

Loads the authors' MatConvNet DagNN releases ``LapSRN_x{2,4,8}.mat`` (github.com/phoenix104104/LapSRN, read with
``scipy.io.loadmat``: a struct ``net`` whose ``params`` hold name/value pairs and whose ``layers`` hold the graph)
and runs them as ``SR_LapSRN.m`` does: a Y network, one plane at a time (batch and channel axes folded, like
``reproductions.baselines.zoo``), in the weights' precision (MATLAB runs ``single``).

The graph, as the releases store it (the coarsest level is ``level<L>``, the finest ``level1``):

* ``input_conv``: 3x3 conv 1 -> 64, leaky ReLU (0.2), on the LR;
* per level, feature branch: ``depth`` 3x3 64 -> 64 convs, each with a leaky ReLU; ``upconv``, a stride-2
  transposed conv (3x3 in the releases) with a leaky ReLU; ``residual``, a 3x3 conv 64 -> 1; the next level's
  features start from the up-sampled features;
* per level, image branch: ``img_up``, a 4x4 stride-2 transposed conv without bias of the previous level's
  image (the LR at the first), plus that level's residual.

MatConvNet's layouts: ``vl_nnconv`` correlates with ``F(:, :, in, out)``, row index first, zero padding 1;
``vl_nnconvt`` scatters each input pixel's ``F(:, :, out, in)`` ``upsample`` apart and crops ``[top bottom left
right]`` off the full output (``crop = [0 1 0 1]`` for the 3x3 features, ``[1 1 1 1]`` for the 4x4 image), which
leaves exactly twice the input size. Both map to torch's weights by ``transpose(3, 2, 0, 1)``.

x3 has no release. The authors' test code (``SR_LapSRN.m``) resizes the network's output Y to the asked size
with MATLAB bicubic whenever the two differ; ``x3_from`` names the release run for x3 (the x4 one by default, the
model that gives LapSRN's printed x3 rows; see ``tests/test_lapsrn.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench import BenchError
from bench.data.imresize import imresize
from bench.registry import option, register
from reproductions.baselines.zoo import matconvnet_filters, matlab_vector, planes

__all__ = ["LapSRN", "remap_lapsrn", "transposed_crop"]


def transposed_crop(kernel: int) -> tuple[int, int]:
    """(top, bottom) rows a stride-2 transposed conv's full output ``2(h-1) + kernel`` loses to be ``2h``, as the
    releases store it: ``[0, 1]`` for 3x3, ``[1, 1]`` for 4x4."""
    extra = kernel - 2
    return extra // 2, extra - extra // 2


def _convt(layer: nn.ConvTranspose2d, x: torch.Tensor) -> torch.Tensor:
    top, bottom = transposed_crop(layer.kernel_size[0])
    y = layer(x)
    return y[..., top:y.shape[-2] - bottom, top:y.shape[-1] - bottom]


class _Level(nn.Module):
    def __init__(self, depth: int, features: int, upconv_kernel: int):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(features, features, 3, padding=1) for _ in range(depth))
        self.upconv = nn.ConvTranspose2d(features, features, upconv_kernel, stride=2)
        self.residual = nn.Conv2d(features, 1, 3, padding=1)
        self.img_up = nn.ConvTranspose2d(1, 1, 4, stride=2, bias=False)


class LapSRN(nn.Module):
    """log2(model scale) pyramid levels on the LR Y; any other scale resizes the output (MATLAB bicubic)."""

    def __init__(self, scale: int, depth: int = 10, features: int = 64, upconv_kernel: int = 3, leak: float = 0.2,
                 x3_from: int = 4):
        super().__init__()
        self.scale = scale
        self.model_scale = x3_from if scale == 3 else scale
        levels = round(np.log2(self.model_scale))
        if 2 ** levels != self.model_scale:
            raise BenchError(f"LapSRN upsamples by powers of two; x{self.model_scale} is not one")
        self.leak = leak
        self.input_conv = nn.Conv2d(1, features, 3, padding=1)
        self.levels = nn.ModuleList(_Level(depth, features, upconv_kernel) for _ in range(levels))

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        h, w = lr.shape[-2:]
        image, (n, c) = planes(lr.to(self.input_conv.weight.dtype))
        features = F.leaky_relu(self.input_conv(image), self.leak)
        for level in self.levels:
            for conv in level.convs:
                features = F.leaky_relu(conv(features), self.leak)
            features = F.leaky_relu(_convt(level.upconv, features), self.leak)
            image = _convt(level.img_up, image) + level.residual(features)
        if self.model_scale != self.scale:  # SR_LapSRN.m: imresize(y, [size(img_HR, 1), size(img_HR, 2)])
            image = imresize(image, (h * self.scale / image.shape[-2], w * self.scale / image.shape[-1]))
        return image.reshape(n, c, *image.shape[-2:])


def _text(value: Any) -> str:
    return str(np.asarray(value).reshape(-1)[0])


def _check_graph(net: np.ndarray) -> None:
    """The releases' layers are what ``LapSRN`` computes: leak 0.2, stride-2 transposed convs cropped to 2x."""
    for layer in net["layers"].reshape(-1):
        kind, name = _text(layer["type"]), _text(layer["name"])
        block = layer["block"].reshape(-1)[0]
        if kind == "dagnn.ReLU" and not np.isclose(float(np.asarray(block["leak"]).reshape(-1)[0]), 0.2):
            raise BenchError(f"LapSRN release: {name} has leak {block['leak']}, expected 0.2")
        if kind == "dagnn.ConvTranspose":
            size = np.asarray(block["size"]).reshape(-1)
            top, bottom = transposed_crop(int(size[0]))
            if list(np.asarray(block["upsample"]).reshape(-1)) != [2, 2] or \
                    list(np.asarray(block["crop"]).reshape(-1)) != [top, bottom, top, bottom]:
                raise BenchError(f"LapSRN release: {name} is not a stride-2 transposed conv cropped to twice the "
                                 f"input (upsample {block['upsample']}, crop {block['crop']})")


def remap_lapsrn(state: dict[str, Any]) -> dict[str, Any]:
    """``LapSRN_x*.mat`` (struct ``net``; ``params`` named ``input_conv_f``, ``level<k>_conv<j>_f``,
    ``level<k>_upconv_f``, ``level<k>_residual_conv_f``, ``level<k>_img_up_f`` and their ``_b`` biases) -> our
    keys, ``levels.0`` being the coarsest ``level<L>``. Our own keys pass through unchanged."""
    if "net" not in state:
        return state
    net = state["net"].reshape(-1)[0]
    _check_graph(net)
    params = {_text(p["name"]): np.asarray(p["value"]) for p in net["params"].reshape(-1)}
    levels = sorted({int(m.group(1)) for k in params if (m := re.fullmatch(r"level(\d+)_img_up_f", k))},
                    reverse=True)
    out: dict[str, Any] = {}
    for name, value in params.items():
        kind = "weight" if name.endswith("_f") else "bias"
        if name.startswith("input_conv_"):
            key = "input_conv"
        else:
            found = re.fullmatch(r"level(\d+)_(conv(\d+)|upconv|residual_conv|img_up)_[fb]", name)
            if found is None:
                raise BenchError(f"LapSRN release: unexpected parameter {name}")
            part = found.group(2)
            part = (f"convs.{int(found.group(3)) - 1}" if found.group(3) else
                    {"residual_conv": "residual"}.get(part, part))
            key = f"levels.{levels.index(int(found.group(1)))}.{part}"
        out[f"{key}.{kind}"] = matconvnet_filters(value) if kind == "weight" else matlab_vector(value)
    return out


@dataclass(frozen=True)
class LapSRNConfig:
    depth: int = option(10, "paper (CVPR 2017): d = 10 convs per level; LapSRN_x{2,4}.mat level*_conv1..10")
    features: int = option(64, "paper: 64 filters; release 3x3x64x64")
    upconv_kernel: int = option(3, "release: level*_upconv_f is 3x3, upsample 2, crop [0 1 0 1]")
    leak: float = option(0.2, "paper: leaky ReLU with slope 0.2; release dagnn.ReLU leak 0.2")
    x3_from: int = option(4, "authors' SR_LapSRN.m resizes a model's output to the asked size (no x3 release); "
                             "the x4 model gives LapSRN's printed x3 rows")


@register("lapsrn", paper="LapSRN (CVPR 2017)", scales=(2, 3, 4), channels="any", config=LapSRNConfig,
          remap_weights=remap_lapsrn)
def lapsrn(scale: int, **config: Any) -> LapSRN:
    """LapSRN (10 convs per pyramid level) on LR Y, from the authors' MatConvNet releases"""
    return LapSRN(scale, **config)
