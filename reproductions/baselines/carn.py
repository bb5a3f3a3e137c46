"""CARN and CARN-M: cascading residual networks (Ahn, Kang and Sohn, ECCV 2018).

Built from the paper and the authors' public code (nmhkahn/CARN-pytorch, ``carn/model/carn.py``,
``carn_m.py`` and ``ops.py``) so that their releases load strictly, in their own format:

* three cascading blocks, each of three residual units; after every unit (and every block) the outputs so far
  are concatenated and fused by a 1x1 conv + ReLU (the "cascading" connections);
* CARN's unit is a plain residual block (3x3, ReLU, 3x3, + input, ReLU); CARN-M's is the efficient residual
  block (group 3x3, ReLU, group 3x3, ReLU, 1x1, + input, ReLU), and one such unit is *shared* by the three
  steps of its block (recursive: the block holds a single ``b1``);
* the upsampler is (conv to 4C or 9C, ReLU, pixel shuffle) once for x2 and x3, twice for x4, with CARN-M's
  group convolution; one 3x3 exit conv to RGB.

Input range: the authors' test code feeds ``ToTensor()`` RGB in [0, 1]; inside the network a frozen 1x1 conv
(``sub_mean``) subtracts the DIV2K mean (0.4488, 0.4371, 0.4040) and ``add_mean`` adds it back at the end. Both
are in the released state_dicts, so the model takes and returns RGB in [0, 1] (the harness's range) with no
other scaling. (Their ``sample.py`` stores ``sr.mul(255).clamp(0, 255).byte()``, truncating; the harness
rounds.)

The releases are multi-scale: one network with an upsampler per scale (``upsample.up2/up3/up4``). ``carn``
builds only the asked scale's upsampler, under the authors' name ``upsample.up<scale>``, and ``remap_official``
drops the other scales' keys; the ``multi-scale`` variant (``carn.multi-scale``, ``carn-m.multi-scale``) builds
all three, as the authors do. The paper's parameter counts (CARN 1,592K, CARN-M 412K) are of that network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from bench.registry import Variant, option, register

__all__ = ["CARN", "remap_official", "DIV2K_MEAN"]

DIV2K_MEAN = (0.4488, 0.4371, 0.4040)  # RGB in [0, 1], the authors' MeanShift constants


class MeanShift(nn.Module):
    """A frozen 1x1 conv adding ``sign * mean`` per channel (kept as a conv: its weights are in the release)."""

    def __init__(self, mean: tuple[float, float, float], sign: int):
        super().__init__()
        self.shifter = nn.Conv2d(3, 3, 1)
        with torch.no_grad():
            self.shifter.weight.copy_(torch.eye(3).view(3, 3, 1, 1))
            self.shifter.bias.copy_(sign * torch.tensor(mean))
        self.shifter.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shifter(x)


class Fuse(nn.Module):
    """1x1 conv + ReLU over a concatenation (the authors' ``BasicBlock(in, out, 1, 1, 0)``)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class ResidualUnit(nn.Module):
    """CARN's unit: relu(conv3(relu(conv3(x))) + x)."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(inplace=True),
                                  nn.Conv2d(channels, channels, 3, padding=1))
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + x)


class EfficientResidualUnit(nn.Module):
    """CARN-M's unit: relu(conv1(relu(gconv3(relu(gconv3(x))))) + x), group convolution in the 3x3s."""

    def __init__(self, channels: int, group: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1, groups=group), nn.ReLU(inplace=True),
                                  nn.Conv2d(channels, channels, 3, padding=1, groups=group), nn.ReLU(inplace=True),
                                  nn.Conv2d(channels, channels, 1))
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + x)


def cascade(x: torch.Tensor, steps: list[nn.Module], fusers: list[nn.Module]) -> torch.Tensor:
    """The cascading pattern of the network and of each block: after step i, fuse [x, out_1 .. out_i]."""
    concat, out = x, x
    for step, fuse in zip(steps, fusers, strict=True):
        concat = torch.cat([concat, step(out)], dim=1)
        out = fuse(concat)
    return out


class CascadingBlock(nn.Module):
    """Three residual units with 1x1 fusions c1..c3; CARN-M's three steps share one unit (``b1``)."""

    def __init__(self, channels: int, mobile: bool, group: int):
        super().__init__()
        if mobile:
            self.b1 = EfficientResidualUnit(channels, group)
        else:
            self.b1, self.b2, self.b3 = (ResidualUnit(channels) for _ in range(3))
        self.mobile = mobile
        self.c1, self.c2, self.c3 = (Fuse(channels * k, channels) for k in (2, 3, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        steps = [self.b1] * 3 if self.mobile else [self.b1, self.b2, self.b3]
        return cascade(x, steps, [self.c1, self.c2, self.c3])


class Upsampler(nn.Module):
    """(conv to r^2 C, ReLU, pixel shuffle r): r = 3 once, r = 2 log2(scale) times (the authors' body.0/body.3)."""

    def __init__(self, channels: int, scale: int, group: int):
        super().__init__()
        factors = [3] if scale == 3 else [2] * {2: 1, 4: 2, 8: 3}[scale]
        layers: list[nn.Module] = []
        for r in factors:
            layers += [nn.Conv2d(channels, r * r * channels, 3, padding=1, groups=group), nn.ReLU(inplace=True),
                       nn.PixelShuffle(r)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class UpsampleBranch(nn.Module):
    """Upsamplers as ``up<s>`` (the authors' multi-scale module names): the built scale's, or with
    ``multi_scale`` the authors' three (x2, x3, x4), of which the forward pass uses the built scale's."""

    def __init__(self, channels: int, scale: int, group: int, multi_scale: bool = False):
        super().__init__()
        self.scale = scale
        for s in (2, 3, 4) if multi_scale else (scale,):
            self.add_module(f"up{s}", Upsampler(channels, s, group))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return getattr(self, f"up{self.scale}")(x)


class CARN(nn.Module):
    """CARN (``mobile=False``, group 1) or CARN-M (``mobile=True``, group 4); RGB in [0, 1] in and out."""

    def __init__(self, scale: int, channels: int = 64, mobile: bool = False, group: int = 1,
                 multi_scale: bool = False):
        super().__init__()
        self.scale = scale
        self.sub_mean = MeanShift(DIV2K_MEAN, -1)
        self.add_mean = MeanShift(DIV2K_MEAN, +1)
        self.entry = nn.Conv2d(3, channels, 3, padding=1)
        self.b1, self.b2, self.b3 = (CascadingBlock(channels, mobile, group) for _ in range(3))
        self.c1, self.c2, self.c3 = (Fuse(channels * k, channels) for k in (2, 3, 4))
        self.upsample = UpsampleBranch(channels, scale, group, multi_scale)
        self.exit = nn.Conv2d(channels, 3, 3, padding=1)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        x = self.entry(self.sub_mean(lr))
        x = cascade(x, [self.b1, self.b2, self.b3], [self.c1, self.c2, self.c3])
        return self.add_mean(self.exit(self.upsample(x)))


def remap_official(state: dict[str, Any], model: nn.Module) -> dict[str, Any]:
    """The authors' keys -> ours. Equal but for the upsampler: a multi-scale release (CARN-M's ``carn_m.pth``,
    CARN's ``carn.pth``) holds ``upsample.up2/up3/up4``; a model built for one scale holds one branch, so the
    branches it lacks are dropped here (the ``multi-scale`` variant keeps all three). A single-scale training of
    theirs (``multi_scale=False``) names it ``upsample.up``: renamed to ``upsample.up<scale>``. A DataParallel
    ``module.`` prefix is dropped."""
    remapped = {}
    for key, value in state.items():
        key = key.removeprefix("module.")
        key = re.sub(r"^upsample\.up\.", f"upsample.up{model.scale}.", key)
        branch = re.match(r"^upsample\.(up\d+)\.", key)
        if branch and not hasattr(model.upsample, branch.group(1)):
            continue  # another scale's upsampler of the multi-scale release
        remapped[key] = value
    return remapped


MULTI_SCALE = "code: multi_scale=False builds one scale's upsampler; the releases and the paper's sizes are multi-scale"
VARIANTS = {"multi-scale": Variant(
    {"multi_scale": True},
    "the authors' multi-scale network (x2, x3 and x4 upsamplers): the form of their releases and of the params "
    "the paper prints (CARN 1,592K, CARN-M 412K); it runs the built scale's branch")}


@dataclass(frozen=True)
class CARNConfig:
    channels: int = option(64, "paper Sec. 3 / code: 64 features throughout")
    group: int = option(1, "code: carn.py, group 1 (plain convolution)")
    multi_scale: bool = option(False, MULTI_SCALE)


@dataclass(frozen=True)
class CARNMConfig:
    channels: int = option(64, "paper Sec. 3 / code: 64 features throughout")
    group: int = option(4, "paper Sec. 4.3 / release: group 4 (carn_m.pth's 3x3 weights are 64x16)")
    multi_scale: bool = option(False, MULTI_SCALE)


@register("carn", paper="CARN (ECCV 2018)", scales=(2, 3, 4), config=CARNConfig, remap_weights=remap_official,
          variants=VARIANTS,
          description="CARN, the authors' configuration (64 features, 3 cascading blocks of 3 residual units)")
def carn(scale: int, channels: int = 64, group: int = 1, multi_scale: bool = False) -> CARN:
    return CARN(scale, channels, mobile=False, group=group, multi_scale=multi_scale)


@register("carn-m", paper="CARN (ECCV 2018)", scales=(2, 3, 4), config=CARNMConfig, remap_weights=remap_official,
          variants=VARIANTS,
          description="CARN-M, the mobile CARN (efficient residual units shared within a block, group 4)")
def carn_m(scale: int, channels: int = 64, group: int = 4, multi_scale: bool = False) -> CARN:
    return CARN(scale, channels, mobile=True, group=group, multi_scale=multi_scale)
