"""ART-S (Zhang et al., "Accurate Image Restoration with Attention Retractable Transformer", ICLR 2023).

Written from the paper and the facts of the authors' code (gladzhang/ART: ``options/test/test_ART_S_SR_x*.yml``;
the architecture file ``basicsr/archs/art_arch.py`` as it is kept in XPixelGroup/BasicSR). Module names follow
it, but for the reconstruction head, which is SwinIR's and lives under ``reconstruction`` as in swinir.py.

The body is SwinIR's (conv_first, patch LayerNorm, residual groups of transformer blocks each closed by a 3x3
conv, a final LayerNorm and conv, the classical pixel-shuffle head) with two differences in the blocks:

* blocks alternate dense attention (even: non-overlapping 8x8 windows) and sparse attention (odd: tokens
  ``interval`` apart, i.e. the ``interval^2`` groups of an (H/I) x (W/I) grid each spanning the whole image);
  there is no shift;
* the position bias is not a table but a small MLP (``DynamicPosBias``: 2 -> d, then three times LayerNorm,
  ReLU, Linear, the last to the heads; d = dim // 16) evaluated at every relative offset of the group's
  grid, on each forward pass.

The feature map is zero-padded at the bottom/right (after norm1) to a multiple of the window or interval, and
padded tokens are masked as keys (-1e6). The model itself does not pad its input. Where the input is not
larger than the window the authors switch the block to dense attention with window ``min(H, W)`` (and keep
that setting on the module); here it is decided per call.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench.registry import option, register
from reproductions.layers import SwinIRUpsampler, init_weights

__all__ = ["ART"]

RGB_MEAN = (0.4488, 0.4371, 0.4040)
NEG_INF = -1e6  # the authors' mask value for padded keys
TOKENS_PER_CHUNK = 8192


@functools.lru_cache(maxsize=16)
def relative_offsets(gh: int, gw: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Every relative offset of a gh x gw grid, as float (dy, dx) [(2gh-1)(2gw-1), 2], and, for each pair of
    tokens of the grid, the row of that list holding their offset [gh*gw, gh*gw]. numpy: not model operators."""
    dy, dx = np.meshgrid(np.arange(1 - gh, gh), np.arange(1 - gw, gw), indexing="ij")
    offsets = np.stack([dy.ravel(), dx.ravel()], axis=1).astype(np.float32)
    y, x = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
    y, x = y.ravel(), x.ravel()
    index = (y[:, None] - y[None, :] + gh - 1) * (2 * gw - 1) + (x[:, None] - x[None, :] + gw - 1)
    return torch.from_numpy(offsets).to(device), torch.from_numpy(index).to(device)


class DynamicPosBias(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.pos_dim = dim // 4
        self.pos_proj = nn.Linear(2, self.pos_dim)
        self.pos1, self.pos2, self.pos3 = (
            nn.Sequential(nn.LayerNorm(self.pos_dim), nn.ReLU(inplace=True), nn.Linear(self.pos_dim, out))
            for out in (self.pos_dim, self.pos_dim, heads))

    def forward(self, offsets: torch.Tensor) -> torch.Tensor:
        return self.pos3(self.pos2(self.pos1(self.pos_proj(offsets))))


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.pos = DynamicPosBias(dim // 4, heads)  # the authors' argument: pos_dim = dim // 16
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def position_bias(self, gh: int, gw: int, device: torch.device) -> torch.Tensor:
        offsets, index = relative_offsets(gh, gw, str(device))
        n = gh * gw
        return self.pos(offsets)[index.view(-1)].view(n, n, -1).permute(2, 0, 1)  # [heads, N, N]

    def attend(self, groups: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        g, n, c = groups.shape
        q, k, v = self.qkv(groups).view(g, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask.to(q.dtype))
        return self.proj(out.transpose(1, 2).reshape(g, n, c))

    def forward(self, groups: torch.Tensor, gh: int, gw: int, key_mask: torch.Tensor | None) -> torch.Tensor:
        """``groups`` [nG, gh*gw, C] (one image); ``key_mask`` [nG, 1, gh*gw] additive, or None."""
        bias = self.position_bias(gh, gw, groups.device)[None]
        if key_mask is not None:
            return self.attend(groups, bias + key_mask[:, None])
        per_chunk = max(1, TOKENS_PER_CHUNK // groups.shape[1])  # keeps the score maps small on large images
        return torch.cat([self.attend(part, bias) for part in groups.split(per_chunk)], dim=0)


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class ARTBlock(nn.Module):
    def __init__(self, dim: int, heads: int, window: int, interval: int, sparse: bool, mlp_ratio: float):
        super().__init__()
        self.window, self.interval, self.sparse = window, interval, sparse
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """``x``: [B, H*W, C] in raster order."""
        b, _, c = x.shape
        h, w = size
        sparse, window = self.sparse, self.window
        if min(h, w) <= window:  # the authors' rule for small inputs: dense attention over min(H, W)
            sparse, window = False, min(h, w)
        step = self.interval if sparse else window
        pad_b, pad_r = (-h) % step, (-w) % step
        y = F.pad(self.norm1(x).view(b, h, w, c), (0, 0, 0, pad_r, 0, pad_b))
        hp, wp = h + pad_b, w + pad_r
        if sparse:  # group (i, j) holds the tokens at rows i, i+I, ... and columns j, j+I, ...
            gh, gw = hp // step, wp // step
            groups = y.view(b, gh, step, gw, step, c).permute(0, 2, 4, 1, 3, 5).reshape(b, step * step, gh * gw, c)
        else:
            gh = gw = step
            groups = y.view(b, hp // step, step, wp // step, step, c).permute(0, 1, 3, 2, 4, 5)
            groups = groups.reshape(b, -1, step * step, c)
        key_mask = None
        if pad_b or pad_r:
            padded = torch.zeros(hp, wp, device=x.device)
            padded[h:, :] = 1
            padded[:, w:] = 1
            if sparse:
                padded = padded.view(gh, step, gw, step).permute(1, 3, 0, 2)
            else:
                padded = padded.view(hp // step, step, wp // step, step).permute(0, 2, 1, 3)
            key_mask = (padded.reshape(-1, 1, gh * gw) * NEG_INF)
        out = torch.stack([self.attn(groups[i], gh, gw, key_mask) for i in range(b)])
        if sparse:
            out = out.view(b, step, step, gh, gw, c).permute(0, 3, 1, 4, 2, 5)
        else:
            out = out.view(b, hp // step, wp // step, step, step, c).permute(0, 1, 3, 2, 4, 5)
        out = out.reshape(b, hp, wp, c)[:, :h, :w].reshape(b, h * w, c)
        x = x + out
        return torch.cat([part + self.mlp(self.norm2(part)) for part in x.split(TOKENS_PER_CHUNK, dim=1)], dim=1)


class BasicLayer(nn.Module):
    def __init__(self, dim: int, depth: int, heads: int, window: int, interval: int, mlp_ratio: float):
        super().__init__()
        self.blocks = nn.ModuleList(
            ARTBlock(dim, heads, window, interval, sparse=i % 2 == 1, mlp_ratio=mlp_ratio) for i in range(depth))

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        for block in self.blocks:
            x = block(x, size)
        return x


class ResidualGroup(nn.Module):
    """Blocks, then a 3x3 conv, plus the input."""

    def __init__(self, dim: int, depth: int, heads: int, window: int, interval: int, mlp_ratio: float):
        super().__init__()
        self.residual_group = BasicLayer(dim, depth, heads, window, interval, mlp_ratio)
        self.conv = nn.Conv2d(dim, dim, 3, padding=1)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        b, _, c = x.shape
        y = self.residual_group(x, size).transpose(1, 2).reshape(b, c, *size)
        return self.conv(y).flatten(2).transpose(1, 2) + x


class ART(nn.Module):
    """ART for SR: RGB in [0, 1] in and out (img_range 1)."""

    def __init__(self, scale: int, embed_dim: int, depths: tuple[int, ...], heads: tuple[int, ...],
                 intervals: tuple[int, ...], window: int = 8, mlp_ratio: float = 2.0):
        super().__init__()
        self.scale, self.window = scale, window
        self.register_buffer("mean", torch.tensor(RGB_MEAN).view(1, 3, 1, 1), persistent=False)
        self.conv_first = nn.Conv2d(3, embed_dim, 3, padding=1)
        self.patch_norm = nn.LayerNorm(embed_dim)
        self.layers = nn.ModuleList(
            ResidualGroup(embed_dim, d, h, window, i, mlp_ratio)
            for d, h, i in zip(depths, heads, intervals, strict=True))
        self.norm = nn.LayerNorm(embed_dim)
        self.conv_after_body = nn.Conv2d(embed_dim, embed_dim, 3, padding=1)
        self.reconstruction = SwinIRUpsampler(embed_dim, scale, "pixelshuffle")
        self.apply(init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shallow = self.conv_first(x - self.mean)
        size = (int(shallow.shape[-2]), int(shallow.shape[-1]))  # plain ints, also when traced
        y = self.patch_norm(shallow.flatten(2).transpose(1, 2))
        for layer in self.layers:
            y = layer(y, size)
        y = self.norm(y).transpose(1, 2).reshape(shallow.shape)
        return self.reconstruction(self.conv_after_body(y) + shallow) + self.mean


def remap_official(state: dict) -> dict:
    """The authors' keys -> ours: the patch LayerNorm's name, and the upsampler under ``reconstruction``."""
    out = {}
    for key, value in state.items():
        if key.startswith(("upsample.", "conv_before_upsample.", "conv_last.")):
            key = "reconstruction." + key
        out[key.replace("patch_embed.norm.", "patch_norm.")] = value
    return out


@dataclass(frozen=True)
class ARTSConfig:
    embed_dim: int = option(180, "code: options/test/test_ART_S_SR_x*.yml, embed_dim 180")
    depths: tuple[int, ...] = option((6,) * 6, "code: test_ART_S_SR_x*.yml, depths [6]*6 (3 dense + 3 sparse each)")
    heads: tuple[int, ...] = option((6,) * 6, "code: test_ART_S_SR_x*.yml, num_heads [6]*6")
    intervals: tuple[int, ...] = option((8,) * 6, "code: test_ART_S_SR_x*.yml, interval [8]*6 (ART-S)")
    window: int = option(8, "code: test_ART_S_SR_x*.yml, window_size 8")
    mlp_ratio: float = option(2.0, "code: test_ART_S_SR_x*.yml, mlp_ratio 2 (ART-S; ART has 4)")


@register("art-s", paper="ART (ICLR 2023)", scales=(2, 3, 4), config=ARTSConfig, remap_weights=remap_official,
          description="ART-S: 6 groups x 6 blocks alternating dense 8x8 windows and interval-8 sparse attention, C=180")
def art_s(scale: int, **config) -> ART:
    return ART(scale, **config)
