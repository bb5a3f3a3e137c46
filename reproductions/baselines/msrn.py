"""MSRN: multi-scale residual network (Li et al., ECCV 2018), built for its size (no weights here).

From the paper and the authors' code (MIVRC/MSRN-PyTorch, ``MSRN/Train/model/msrn.py``), with their
module names:

* multi-scale residual block (MSRB): two branches from the input, 3x3 and 5x5 convs (C -> C, ReLU); their
  outputs concatenated feed a second 3x3 and 5x5 pair (2C -> 2C, ReLU); the four maps of the second stage
  concatenated (4C) are fused by a 1x1 conv back to C, + input;
* 8 MSRBs at 64 features; the head conv's output and all 8 block outputs concatenated (9C), fused by a 1x1
  bottleneck (the hierarchical feature fusion), then a 3x3 conv, EDSR's pixel-shuffle upsampler (no activation)
  and an output conv, inside EDSR's frozen DIV2K mean shift.

Size at x2: 5,930,307 trainable parameters (5,930,331 with the two frozen mean-shift convs). MSTN's Table II
prints 5.89M, which is 36,928 fewer: exactly one 64->64 3x3 conv of the tail (or, of the same size, the 1x1
9C->C bottleneck). The authors' code and every copy of it found hold both layers, so the count here is the
code's; the difference is stated in tests/test_compared_sizes.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from bench.registry import option, register
from reproductions.baselines.edsr import MeanShift, Upsampler, conv3x3

__all__ = ["MSRN", "MSRB"]


class MSRB(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv_3_1 = conv3x3(channels, channels)
        self.conv_3_2 = conv3x3(2 * channels, 2 * channels)
        self.conv_5_1 = nn.Conv2d(channels, channels, 5, padding=2)
        self.conv_5_2 = nn.Conv2d(2 * channels, 2 * channels, 5, padding=2)
        self.confusion = nn.Conv2d(4 * channels, channels, 1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first = torch.cat([self.relu(self.conv_3_1(x)), self.relu(self.conv_5_1(x))], dim=1)
        second = torch.cat([self.relu(self.conv_3_2(first)), self.relu(self.conv_5_2(first))], dim=1)
        return self.confusion(second) + x


class MSRN(nn.Module):
    """RGB in [0, 1] in and out (the authors' code runs at rgb_range 255; the mean shift scales with it)."""

    def __init__(self, scale: int, num_blocks: int = 8, channels: int = 64):
        super().__init__()
        self.scale = scale
        self.sub_mean = MeanShift(1.0, sign=-1)
        self.add_mean = MeanShift(1.0, sign=1)
        self.head = nn.Sequential(conv3x3(3, channels))
        self.body = nn.Sequential(*(MSRB(channels) for _ in range(num_blocks)))
        self.tail = nn.Sequential(nn.Conv2d(channels * (num_blocks + 1), channels, 1), conv3x3(channels, channels),
                                  Upsampler(scale, channels), conv3x3(channels, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        head = self.head(self.sub_mean(x))
        outputs, x = [], head
        for block in self.body:
            x = block(x)
            outputs.append(x)
        # the code's order: the block outputs first, the head's output last
        return self.add_mean(self.tail(torch.cat([*outputs, head], dim=1)))


@dataclass(frozen=True)
class MSRNConfig:
    num_blocks: int = option(8, "paper / code: n_blocks = 8 MSRBs")
    channels: int = option(64, "paper / code: n_feats = 64")


@register("msrn", paper="MSRN (ECCV 2018)", scales=(2, 3, 4), config=MSRNConfig, params_count="params_trainable",
          description="MSRN, the authors' configuration (8 multi-scale residual blocks, 64 features); size only")
def msrn(scale: int, num_blocks: int = 8, channels: int = 64) -> MSRN:
    return MSRN(scale, num_blocks, channels)
