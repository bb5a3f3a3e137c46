"""CLIT: cascaded local implicit transformer (Chen et al., CVPR 2023), on LIIF's encoders.

Follows jaroslaw1007/CLIT (``models/clit.py``, ``models/positionencoder.py``, ``models/mlp.py``,
``datasets/cascaded_wrappers.py``, ``configs/train/train_{edsr_baseline,rdn}_clit3.yaml``, ``configs/test``).
The encoder's 64 channels go to 256 through a 3x3 conv (``conv_ch``). Each of the three cascaded LIT branches
has its own 3x3 query, key and value convs (``conv_qs``, ``conv_ks``, ``conv_vs``) and MLP (``imnets``: four
hidden layers of 256, GELU). A branch's local attention, for a query at HR coordinate x:

- Q: its features bilinearly sampled at x; K and V: those of the 7x7 LR codes around the code nearest to x
  (zeros outside the image); 8 heads of 32 channels;
- logits ``q . k / sqrt(32)`` plus a positional bias of the offset d = x - code centre (in LR pixels): sines
  and cosines of ``(2^(10 i / 15) - 1) d`` per axis, i < 16, through ``Linear(64, 8)`` (``pb_encoder.proj``);
  softmax over the 49 codes, per head;
- the 49 values, each scaled by its weight, are concatenated (not summed), with the cell in LR pixels,
  into the MLP (49 x 256 + 2 inputs).

Cascade (the released test wrapper): the scale s is split into factors of at most 4, s = 4 x 4 x ... x rest;
branch i > 0 runs on the first branch's 256-channel features resampled bilinearly to the LR size times the
first i factors. Every branch is queried at the final HR pixels; branch i's prediction is its MLP's output
plus 0.75 times branch i - 1's, and the bilinear upsampling of the (normalised) input is added at the end.
The registered models are the three-branch CLIT of Table I's counts; a scale up to 4 runs the first branch
only, up to 16 two, up to 64 all three.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from bench import registry
from bench.registry import option, register
from reproductions.baselines.liif import MLP, ImplicitSR, make_coord, unwrap_liif_checkpoint
from reproductions.baselines.lte import bilinear_skip

__all__ = ["CLIT", "SinusoidBias", "cascade_factors"]


@dataclass(frozen=True)
class CLITConfig:
    dim: int = option(256, "CLIT clit3 configs: base_dim 256")
    heads: int = option(8, "CLIT clit3 configs: head 8")
    radius: int = option(3, "CLIT clit3 configs: r 3 (7x7 codes)")
    branches: int = option(3, "CLIT clit3 configs: imnet_num = conv_num = 3 (the cascade Table I counts)")
    hidden: tuple[int, ...] = option((256, 256, 256, 256), "CLIT clit3 configs: imnet hidden_list, act gelu")
    scale_base: int = option(4, "CLIT test configs: scale_base 4 (largest factor per branch)")


def cascade_factors(scale: float, base: float = 4) -> list[float]:
    """The released wrapper's split of ``scale`` into per-branch factors: 6 -> [4, 1.5], 18 -> [4, 4, 1.125]."""
    if scale <= base:
        return [scale]
    factors, rest = [base], scale / base
    while rest > 1:
        factors.append(min(rest, base))
        rest /= base
    return factors


class MLPGELU(MLP):
    """CLIT's ``mlp`` with ``act: gelu``: LIIF's layers with GELU in place of ReLU."""

    def __init__(self, in_dim: int, out_dim: int, hidden: tuple[int, ...]):
        super().__init__(in_dim, out_dim, hidden)
        self.layers = nn.Sequential(*(nn.GELU() if isinstance(m, nn.ReLU) else m for m in self.layers))


class SinusoidBias(nn.Module):
    """CLIT's ``posenc`` ('sinusoid', posenc_scale 10, enc_dims 64): a per-head bias from an offset (..., 2)."""

    def __init__(self, heads: int, enc_dims: int = 64, octaves: float = 10):
        super().__init__()
        freqs = 2.0 ** torch.linspace(0, octaves, enc_dims // 4) - 1
        zeros = torch.zeros_like(freqs)
        # rows: (f, 0) for every f, then (0, f): the row axis' frequencies, then the column axis'
        basis = torch.cat([torch.stack([freqs, zeros], -1), torch.stack([zeros, freqs], -1)])
        self.register_buffer("basis", basis, persistent=False)  # fixed, not in the release's state_dict
        self.proj = nn.Linear(enc_dims, heads)

    def forward(self, offset: torch.Tensor) -> torch.Tensor:
        angles = torch.matmul(offset, self.basis.t())
        return self.proj(torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1))


def sample(grid: torch.Tensor, coord: torch.Tensor, mode: str) -> torch.Tensor:
    """(B, Q, K, C) samples of the (B, C, h, w) ``grid`` at the (B, Q, K, 2) (row, column) ``coord``."""
    return F.grid_sample(grid, coord.flip(-1), mode=mode, align_corners=False).permute(0, 2, 3, 1)


class CLIT(ImplicitSR):
    def __init__(self, encoder: nn.Module, scale: float, dim: int = 256, heads: int = 8, radius: int = 3,
                 branches: int = 3, hidden: tuple[int, ...] = (256, 256, 256, 256), scale_base: int = 4,
                 chunk: int = 30000):
        super().__init__()
        self.scale = scale
        self.chunk = chunk
        self.heads = heads
        self.radius = radius
        self.scale_base = scale_base
        self.encoder = encoder
        self.conv_ch = nn.Conv2d(encoder.out_dim, dim, 3, padding=1)
        self.conv_vs = nn.ModuleList(nn.Conv2d(dim, dim, 3, padding=1) for _ in range(branches))
        self.conv_qs = nn.ModuleList(nn.Conv2d(dim, dim, 3, padding=1) for _ in range(branches))
        self.conv_ks = nn.ModuleList(nn.Conv2d(dim, dim, 3, padding=1) for _ in range(branches))
        self.pb_encoder = SinusoidBias(heads)
        self.imnets = nn.ModuleList(MLPGELU(dim * (2 * radius + 1) ** 2 + 2, 3, hidden) for _ in range(branches))

    def features(self, lr: torch.Tensor) -> tuple[torch.Tensor, list[tuple[torch.Tensor, ...]]]:
        """The normalised input and, per branch of the cascade at ``self.scale``, its (q, k, v) feature maps."""
        x = (lr - 0.5) / 0.5
        feat = self.conv_ch(self.encoder(x))
        b, _, h, w = feat.shape
        factors = cascade_factors(self.scale, self.scale_base)
        if len(factors) > len(self.imnets):
            raise ValueError(f"x{self.scale} needs {len(factors)} branches; this CLIT has {len(self.imnets)}")
        branches, grid = [], feat
        for i in range(len(factors)):
            if i > 0:  # the first branch's features, resampled to the LR size times the factors so far
                size = math.prod(factors[:i])
                coord = make_coord((round(int(h) * size), round(int(w) * size)), feat.device, feat.dtype)
                grid = sample(feat, coord.unsqueeze(0).expand(b, -1, -1, -1), "bilinear").permute(0, 3, 1, 2)
            branches.append((self.conv_qs[i](grid), self.conv_ks[i](grid), self.conv_vs[i](grid)))
        return x, branches

    def attend(self, i: int, q_map: torch.Tensor, k_map: torch.Tensor, v_map: torch.Tensor, coord: torch.Tensor,
               cell: torch.Tensor) -> torch.Tensor:
        """Branch ``i``'s MLP output (B, Q, 3) at ``coord`` (B, Q, 2)."""
        b, c, h, w = q_map.shape
        n, r, d = coord.shape[1], self.radius, c // self.heads
        size = coord.new_tensor([h, w])
        centres = make_coord((h, w), q_map.device, q_map.dtype).permute(2, 0, 1).expand(b, 2, h, w)
        nearest = sample(centres, coord.unsqueeze(2), "nearest")  # (B, Q, 1, 2)
        steps = torch.arange(-r, r + 1, device=coord.device, dtype=coord.dtype)
        window = torch.stack(torch.meshgrid(steps, steps, indexing="ij"), dim=-1).view(-1, 2) * 2 / size
        neighbours = nearest + window  # (B, Q, k, 2), k = (2r + 1)^2

        q = sample(q_map, coord.unsqueeze(2), "bilinear").view(b, n, 1, self.heads, d).transpose(2, 3)
        k = sample(k_map, neighbours, "nearest").view(b, n, -1, self.heads, d).permute(0, 1, 3, 4, 2)
        v = sample(v_map, neighbours, "nearest").view(b, n, -1, self.heads, d)
        offset = (coord.unsqueeze(2) - neighbours) * size
        logits = torch.matmul(q, k).squeeze(3).transpose(2, 3) / math.sqrt(d)  # (B, Q, k, heads)
        weights = F.softmax(logits + self.pb_encoder(offset), dim=2)
        values = (v * weights.unsqueeze(-1)).reshape(b, n, -1)
        return self.imnets[i](torch.cat([values, cell * size], dim=-1))

    def decode(self, state: tuple[torch.Tensor, list[tuple[torch.Tensor, ...]]], coord: torch.Tensor,
               cell: torch.Tensor) -> torch.Tensor:
        x, branches = state
        pred = None
        for i, maps in enumerate(branches):
            out = self.attend(i, *maps, coord, cell)
            pred = out if pred is None else out + 0.75 * pred
        return pred + bilinear_skip(x, coord)


@register("clit-edsr-baseline", paper="CLIT (CVPR 2023)", scales=None, remap_weights=unwrap_liif_checkpoint,
          config=CLITConfig)
def clit_edsr_baseline(scale: float, **config) -> CLIT:
    """CLIT, three cascaded LIT branches, on LIIF's EDSR-baseline encoder (~16.9M params)"""
    encoder = registry.make("edsr-baseline", scale=2, no_upsampling=True, mean_shift=False)
    return CLIT(encoder, scale, **config)


@register("clit-rdn", paper="CLIT (CVPR 2023)", scales=None, remap_weights=unwrap_liif_checkpoint,
          config=CLITConfig)
def clit_rdn(scale: float, **config) -> CLIT:
    """CLIT, three cascaded LIT branches, on LIIF's RDN encoder (~37.7M params)"""
    return CLIT(registry.make("rdn", scale=2, no_upsampling=True), scale, **config)
