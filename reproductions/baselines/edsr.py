"""EDSR and EDSR-baseline (Lim et al., CVPRW 2017); the baseline is also the encoder of LIIF, LTE, CLIT and MSIT.

Built to match the structure and module names of the public code (sanghyun-son/EDSR-PyTorch
``src/model/edsr.py``; yinboc/liif ``models/edsr.py``) so their state_dicts load unchanged:
head conv, 16 residual blocks (conv-ReLU-conv, no BN, res_scale 1), a body-closing conv with a
global skip, then a pixel-shuffle upsampler and an output conv. Input and output are RGB in [0, 1].

Parameter counts: the DIV2K mean shift is two frozen 1x1 convs (24 values). EDSR-PyTorch applies
them; LIIF builds them but never calls them. Both codes count them as parameters of the module, so
``model.parameters()`` holds them; the official EDSR-baseline counts (1,369,859 at x2) are the
trainable parameters, i.e. without those 24.

The full EDSR is the same code at 32 blocks, 256 features and residual scaling 0.1 (the paper and
EDSR-PyTorch's ``--n_resblocks 32 --n_feats 256 --res_scale 0.1``). Its size depends on the scale through the
upsampler only: 40,729,603 trainable parameters at x2 (MSTN's Table II "40.7 Mb"), 43,089,923 at x4 (the
"43M" of EDSR's own Table 1 matches the x4 model).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from bench.registry import option, register

__all__ = ["EDSR", "MeanShift", "ResBlock", "Upsampler"]

DIV2K_RGB_MEAN = (0.4488, 0.4371, 0.4040)


def conv3x3(in_channels: int, out_channels: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, padding=1)


class MeanShift(nn.Conv2d):
    """Adds ``sign * rgb_range * mean`` to each channel, as a frozen 1x1 conv (the released weights
    store it that way)."""

    def __init__(self, rgb_range: float, sign: int, mean: tuple[float, ...] = DIV2K_RGB_MEAN):
        super().__init__(3, 3, kernel_size=1)
        with torch.no_grad():
            self.weight.copy_(torch.eye(3).view(3, 3, 1, 1))
            self.bias.copy_(sign * rgb_range * torch.tensor(mean))
        self.requires_grad_(False)


class ResBlock(nn.Module):
    def __init__(self, channels: int, res_scale: float = 1.0):
        super().__init__()
        self.body = nn.Sequential(conv3x3(channels, channels), nn.ReLU(inplace=True), conv3x3(channels, channels))
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) * self.res_scale + x


class Upsampler(nn.Sequential):
    """x2 and x4: one or two (conv to 4C, pixel shuffle 2) steps; x3: conv to 9C, pixel shuffle 3."""

    def __init__(self, scale: int, channels: int):
        if scale in (2, 4):
            factors = [2] * (scale // 2)
        elif scale == 3:
            factors = [3]
        else:
            raise ValueError(f"the pixel-shuffle upsampler supports x2, x3 and x4, not x{scale}")
        layers: list[nn.Module] = []
        for factor in factors:
            layers += [conv3x3(channels, factor * factor * channels), nn.PixelShuffle(factor)]
        super().__init__(*layers)


class EDSR(nn.Module):
    def __init__(self, scale: int, num_blocks: int = 16, channels: int = 64, res_scale: float = 1.0,
                 no_upsampling: bool = False, mean_shift: bool = True, rgb_range: float = 1.0):
        super().__init__()
        self.scale = scale
        self.no_upsampling = no_upsampling
        self.mean_shift = mean_shift
        # Built even when not applied, so that LIIF-style checkpoints and parameter counts match.
        self.sub_mean = MeanShift(rgb_range, sign=-1)
        self.add_mean = MeanShift(rgb_range, sign=1)
        self.head = nn.Sequential(conv3x3(3, channels))
        self.body = nn.Sequential(*(ResBlock(channels, res_scale) for _ in range(num_blocks)),
                                  conv3x3(channels, channels))
        if no_upsampling:
            self.out_dim = channels
        else:
            self.out_dim = 3
            self.tail = nn.Sequential(Upsampler(scale, channels), conv3x3(channels, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mean_shift:
            x = self.sub_mean(x)
        x = self.head(x)
        x = self.body(x) + x
        if self.no_upsampling:
            return x
        x = self.tail(x)
        if self.mean_shift:
            x = self.add_mean(x)
        return x


@dataclass(frozen=True)
class EDSRConfig:
    no_upsampling: bool = option(False, "LIIF's encoder: the features, no tail")
    mean_shift: bool = option(True, "EDSR code: subtract and add the DIV2K mean (LIIF's copy does not)")


@register("edsr-baseline", paper="EDSR (CVPRW 2017)", scales=(2, 3, 4), config=EDSRConfig)
def edsr_baseline(scale: int, no_upsampling: bool = False, mean_shift: bool = True) -> EDSR:
    """EDSR-baseline: 16 residual blocks, 64 features (~1.4M params)

    ``no_upsampling`` drops the tail and returns the 64-channel features (the LIIF encoder, whose
    output size ignores ``scale``). ``mean_shift=False`` skips the DIV2K mean subtraction and
    re-addition, as LIIF's copy does (its inputs are already centred by ``(x - 0.5) / 0.5``).
    """
    return EDSR(scale, no_upsampling=no_upsampling, mean_shift=mean_shift)


@dataclass(frozen=True)
class EDSRFullConfig:
    num_blocks: int = option(32, "paper / code: --n_resblocks 32")
    channels: int = option(256, "paper / code: --n_feats 256")
    res_scale: float = option(0.1, "paper / code: --res_scale 0.1 (residual scaling at 256 features)")


@register("edsr", paper="EDSR (CVPRW 2017)", scales=(2, 3, 4), config=EDSRFullConfig,
          params_count="params_trainable")
def edsr(scale: int, num_blocks: int = 32, channels: int = 256, res_scale: float = 0.1) -> EDSR:
    """EDSR, the single-scale model: 32 residual blocks, 256 features, residual scaling 0.1 (~40.7M at x2)"""
    return EDSR(scale, num_blocks=num_blocks, channels=channels, res_scale=res_scale)
