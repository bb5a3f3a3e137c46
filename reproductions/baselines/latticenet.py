"""LatticeNet: lightweight SR with lattice blocks (Luo et al., "LatticeNet: Towards Lightweight Image
Super-resolution with Lattice Block", ECCV 2020).

Built from the paper and the authors' public code (github.com/ymff0592/super-resolution, an EDSR/RCAN-framework
``model/latticenet.py``: classes ``CC``, ``LatticeBlock`` and ``LatticeNet``) so that their releases
(``premodel/LatticeNet_x{2,3,4}.pt`` there) load strictly:

* head: two 3x3 convs of 64 features, no activation between them;
* four lattice blocks. Each holds two 3-conv branches (64 -> 48 -> 48 -> 64, LeakyReLU(0.05) after every
  conv) and four "combination coefficient" attentions (``CC``): per channel, a squeeze-excitation of the
  spatial mean (reduction 16, sigmoid) and one of the spatial standard deviation (``torch.std``: the unbiased
  estimate), averaged. With b1 the first branch, the analysis half forms ``p1 = x + cc(b1(x)) * b1(x)`` and
  ``q1 = b1(x) + cc(x) * x``; the synthesis half, with b2 = the second branch of p1, ``p2 = b2 + cc(q1) * q1``
  and ``q2 = q1 + cc(b2) * b2``; a 1x1 conv fuses [p2, q2] back to 64 channels;
* the backward fusion module: from the last block back, ``f = relu(conv1x1(f))`` (32 channels) concatenated
  with ``relu(conv1x1(block output))`` (32 channels) of the block before, three times; its 64 channels plus
  the head's output go to the tail;
* tail: a 3x3 conv (no activation), a 3x3 conv to 3 s^2 channels, pixel shuffle.

Input range: the authors' code runs EDSR's framework at ``rgb_range`` 255, with EDSR's ``MeanShift`` 1x1 convs
(``sub_mean``, ``add_mean``: identity weights, -/+ 255 x the DIV2K mean). Their ``common.py`` is not published,
but the releases hold trained values there (no longer the identity): the MeanShift parameters were trained,
and the published sizes count them (756K / 765K / 777K at x2 / x3 / x4 are every value in the files). Here
they are ordinary, trainable convs; the model takes RGB in [0, 1], multiplies by ``rgb_range`` on the way in
and divides on the way out.

The printed PSNR/SSIM (which MSRA-SR's Table 1 copies) are reproduced by these releases only with the x8
self-ensemble (``--self-ensemble``), although the authors' test script does not ask for it (EDSR's
``--self_ensemble``, off by default); without it they score about 0.1 dB less.

Module names are ours where the authors' are not Python-style; ``remap_official`` renames theirs
(``body_unit<n>`` -> ``blocks.<n-1>``, ``T_tdm<n>``/``L_tdm<n>`` -> ``fusion.top/lateral.<n-1>``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from bench.registry import option, register

__all__ = ["LatticeNet", "LatticeBlock", "CombinationCoefficient", "BackwardFusion", "remap_official", "DIV2K_MEAN"]

DIV2K_MEAN = (0.4488, 0.4371, 0.4040)  # RGB in [0, 1]; the MeanShift convs start from rgb_range x these


def mean_shift(rgb_range: float, sign: int) -> nn.Conv2d:
    """EDSR's MeanShift as the authors trained it: a 1x1 RGB conv starting at identity + sign x the mean,
    its parameters left trainable (the releases hold the trained values)."""
    conv = nn.Conv2d(3, 3, 1)
    with torch.no_grad():
        conv.weight.copy_(torch.eye(3).view(3, 3, 1, 1))
        conv.bias.copy_(sign * rgb_range * torch.tensor(DIV2K_MEAN))
    return conv


def squeeze_excite(channels: int, reduction: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(channels, channels // reduction, 1), nn.ReLU(inplace=True),
                         nn.Conv2d(channels // reduction, channels, 1), nn.Sigmoid())


class CombinationCoefficient(nn.Module):
    """The ``CC`` attention: (SE of the channel means + SE of the channel standard deviations) / 2."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        self.conv_mean = squeeze_excite(channels, reduction)
        self.conv_std = squeeze_excite(channels, reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(-2, -1), keepdim=True)
        std = x.flatten(2).std(dim=2).view(*x.shape[:2], 1, 1)  # unbiased, as torch.std in the authors' code
        return (self.conv_mean(mean) + self.conv_std(std)) / 2


def branch(channels: int, diff: int) -> nn.Sequential:
    """channels -> channels - diff -> channels - diff -> channels, 3x3 convs, LeakyReLU(0.05) after each."""
    inner = channels - diff
    layers: list[nn.Module] = []
    for c_in, c_out in ((channels, inner), (inner, inner), (inner, channels)):
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.LeakyReLU(0.05)]
    return nn.Sequential(*layers)


class LatticeBlock(nn.Module):
    """Two butterfly-combined residual branches; attribute names are the authors' (``conv_block0`` ...)."""

    def __init__(self, channels: int, diff: int, reduction: int):
        super().__init__()
        self.conv_block0 = branch(channels, diff)
        self.fea_ca1 = CombinationCoefficient(channels, reduction)
        self.x_ca1 = CombinationCoefficient(channels, reduction)
        self.conv_block1 = branch(channels, diff)
        self.fea_ca2 = CombinationCoefficient(channels, reduction)
        self.x_ca2 = CombinationCoefficient(channels, reduction)
        self.compress = nn.Conv2d(2 * channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.conv_block0(x)
        p1 = x + self.fea_ca1(b1) * b1
        q1 = b1 + self.x_ca1(x) * x
        b2 = self.conv_block1(p1)
        p2 = b2 + self.fea_ca2(q1) * q1
        q2 = q1 + self.x_ca2(b2) * b2
        return self.compress(torch.cat([p2, q2], dim=1))


def half_projection(channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(channels, channels // 2, 1), nn.ReLU())


class BackwardFusion(nn.Module):
    """The backward fusion module: from the deepest block's output back to the first block's, the running
    feature (``top``) and the earlier block's output (``lateral``) are each halved by 1x1 conv + ReLU and
    concatenated (the authors' ``T_tdm<n>`` / ``L_tdm<n>``)."""

    def __init__(self, channels: int, blocks: int):
        super().__init__()
        self.top = nn.ModuleList(half_projection(channels) for _ in range(blocks - 1))
        self.lateral = nn.ModuleList(half_projection(channels) for _ in range(blocks - 1))

    def forward(self, outputs: list[torch.Tensor]) -> torch.Tensor:
        fused = outputs[-1]
        for top, lateral, earlier in zip(self.top, self.lateral, reversed(outputs[:-1]), strict=True):
            fused = torch.cat([top(fused), lateral(earlier)], dim=1)
        return fused


class LatticeNet(nn.Module):
    """LatticeNet; RGB in [0, 1] in and out (``rgb_range`` inside, as the authors trained it)."""

    def __init__(self, scale: int, channels: int = 64, diff: int = 16, reduction: int = 16, blocks: int = 4,
                 rgb_range: float = 255.0):
        super().__init__()
        self.scale, self.rgb_range = scale, rgb_range
        self.sub_mean = mean_shift(rgb_range, -1)
        self.conv1 = nn.Conv2d(3, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.blocks = nn.ModuleList(LatticeBlock(channels, diff, reduction) for _ in range(blocks))
        self.fusion = BackwardFusion(channels, blocks)
        self.tail = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1),
                                  nn.Conv2d(channels, 3 * scale * scale, 3, padding=1), nn.PixelShuffle(scale))
        self.add_mean = mean_shift(rgb_range, +1)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        head = self.conv2(self.conv1(self.sub_mean(lr * self.rgb_range)))
        outputs, x = [], head
        for block in self.blocks:
            x = block(x)
            outputs.append(x)
        return self.add_mean(self.tail(self.fusion(outputs) + head)) / self.rgb_range


def remap_official(state: dict[str, Any]) -> dict[str, Any]:
    """The authors' keys -> ours: ``body_unit<n>.`` -> ``blocks.<n-1>.``, ``T_tdm<n>.`` -> ``fusion.top.<n-1>.``,
    ``L_tdm<n>.`` -> ``fusion.lateral.<n-1>.``; a DataParallel ``module.`` prefix is dropped; every other key
    (and ours) passes unchanged. The load that follows is strict: a key left over or lacking is named there."""
    renames = ((r"^body_unit(\d+)\.", "blocks.{}."), (r"^T_tdm(\d+)\.", "fusion.top.{}."),
               (r"^L_tdm(\d+)\.", "fusion.lateral.{}."))
    remapped = {}
    for key, value in state.items():
        key = key.removeprefix("module.")
        for pattern, target in renames:
            key = re.sub(pattern, lambda m, t=target: t.format(int(m.group(1)) - 1), key)
        remapped[key] = value
    return remapped


@dataclass(frozen=True)
class LatticeNetConfig:
    channels: int = option(64, "code: nFeat 64")
    diff: int = option(16, "code: nDiff 16 (the branches' inner convs have 64 - 16 = 48 channels)")
    reduction: int = option(16, "code: CC(channel, reduction=16)")
    blocks: int = option(4, "code: four lattice blocks (body_unit1..4); the fusion module takes one output of each")
    rgb_range: float = option(255.0, "code: EDSR framework, rgb_range 255 (the releases' MeanShift biases ~ -114)")


@register("latticenet", paper="LatticeNet (ECCV 2020)", scales=(2, 3, 4), config=LatticeNetConfig,
          remap_weights=remap_official,
          description="LatticeNet, the authors' configuration (64 features, 4 lattice blocks, backward fusion)")
def latticenet(scale: int, channels: int = 64, diff: int = 16, reduction: int = 16, blocks: int = 4,
               rgb_range: float = 255.0) -> LatticeNet:
    return LatticeNet(scale, channels, diff, reduction, blocks, rgb_range)
