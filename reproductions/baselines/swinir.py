"""SwinIR (Liang et al., ICCVW 2021): lightweight and classical image SR.

Written from the paper and the facts of ``JingyunLiang/SwinIR: models/network_swinir.py`` (module
names follow it, so its checkpoints map with a one-line remap). Window attention uses
``scaled_dot_product_attention`` with the relative-position bias and the shift mask folded into one
additive mask; position indices and masks are precomputed and cached per input size.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench.registry import register
from bench.train import TrainConfig
from reproductions.layers import SwinIRUpsampler, init_weights, pad_to_multiple

RGB_MEAN = (0.4488, 0.4371, 0.4040)
TOKENS_PER_CHUNK = 8192


@functools.lru_cache(maxsize=8)
def window_layout(h: int, w: int, window: int, shift: int, device: str) -> tuple:
    """Precomputed once per input size and shared by every block with that shift.

    ``order``: for each token of the window layout, the pixel it reads, so that one gather does the
    cyclic shift and the window partition; ``inverse`` undoes it. Windows are ordered so that the ones
    straddling the wrap-around of a shifted block (last row and column of windows) come last: the first
    ``plain`` windows need only the position bias, the rest also ``mask`` [n, N, N] (-100 between pixels
    from different regions). Nothing is computed twice.
    """
    # numpy, not torch: this bookkeeping must not show up as model operators when fvcore traces a forward.
    rows = (np.arange(h) + shift) % h
    cols = (np.arange(w) + shift) % w
    pixel = (rows[:, None] * w + cols[None, :]).reshape(h // window, window, w // window, window)
    pixel = pixel.transpose(0, 2, 1, 3).reshape(-1, window * window)  # [nW, N], windows in raster order
    mask = None
    if shift:
        def regions(length: int) -> np.ndarray:
            labels = np.zeros(length, dtype=np.int64)
            labels[length - window: length - shift] = 1
            labels[length - shift:] = 2
            return labels

        labels = regions(h)[:, None] * 3 + regions(w)[None, :]
        labels = labels.reshape(h // window, window, w // window, window).transpose(0, 2, 1, 3).reshape(-1, window**2)
        mixed = (labels != labels[:, :1]).any(axis=1)
        pixel = np.concatenate([pixel[~mixed], pixel[mixed]])
        edge = labels[mixed]
        mask = torch.from_numpy((edge[:, :, None] != edge[:, None, :]) * -100.0).float().to(device)
    order = pixel.reshape(-1)
    plain = pixel.shape[0] - (0 if mask is None else mask.shape[0])
    return torch.from_numpy(order).to(device), torch.from_numpy(np.argsort(order)).to(device), plain, mask


class WindowAttention(nn.Module):
    def __init__(self, dim: int, window: int, heads: int):
        super().__init__()
        self.heads, self.window = heads, window
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
        relative = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
        index = relative[..., 0] * (2 * window - 1) + relative[..., 1]
        self.register_buffer("relative_position_index", index, persistent=False)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def position_bias(self) -> torch.Tensor:
        n = self.window * self.window
        return self.relative_position_bias_table[self.relative_position_index.view(-1)].view(n, n, -1).permute(2, 0, 1)

    def attend(self, windows: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Attention within each window: ``windows`` [B, nW, N, C], ``mask`` broadcastable to [B*nW, heads, N, N]."""
        b, n_windows, n, c = windows.shape
        qkv = self.qkv(windows).view(b * n_windows, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask.to(q.dtype))
        return self.proj(out.transpose(1, 2).reshape(b, n_windows, n, c))

    def forward(self, windows: torch.Tensor, plain: int, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``windows``: [B, nW, N, C]; the first ``plain`` need the position bias only, the rest also ``mask``."""
        bias = self.position_bias()[None]
        # Windows in groups of ~8K tokens: the intermediates stay small enough for the allocator to reuse
        # (on a large image a fresh 30+ MB buffer per op costs more in page faults than the matmul itself).
        group = max(1, TOKENS_PER_CHUNK // windows.shape[2])
        parts = [self.attend(part, bias) for part in windows[:, :plain].split(group, dim=1)]
        if mask is not None:
            masked = (bias + mask[:, None]).repeat(windows.shape[0], 1, 1, 1)
            parts.append(self.attend(windows[:, plain:], masked))
        return torch.cat(parts, dim=1)


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class SwinBlock(nn.Module):
    def __init__(self, dim: int, heads: int, window: int, shift: int, mlp_ratio: float):
        super().__init__()
        self.window, self.shift = window, shift
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """``x``: [B, H*W, C] (pixels in raster order); ``size`` = (H, W), multiples of the window."""
        b, _, c = x.shape
        h, w = size
        order, inverse, plain, mask = window_layout(h, w, self.window, self.shift, str(x.device))
        windows = self.norm1(x).index_select(1, order).view(b, -1, self.window**2, c)
        y = self.attn(windows, plain, mask).view(b, h * w, c).index_select(1, inverse)
        x = x + y
        return torch.cat([part + self.mlp(self.norm2(part)) for part in x.split(TOKENS_PER_CHUNK, dim=1)], dim=1)


class ResidualGroup(nn.Module):
    def __init__(self, dim: int, depth: int, heads: int, window: int, mlp_ratio: float):
        super().__init__()
        self.blocks = nn.ModuleList(
            SwinBlock(dim, heads, window, 0 if i % 2 == 0 else window // 2, mlp_ratio) for i in range(depth)
        )

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        for block in self.blocks:
            x = block(x, size)
        return x


class RSTB(nn.Module):
    """Residual Swin Transformer block: blocks, then a 3x3 conv, plus the input."""

    def __init__(self, dim: int, depth: int, heads: int, window: int, mlp_ratio: float):
        super().__init__()
        self.residual_group = ResidualGroup(dim, depth, heads, window, mlp_ratio)
        self.conv = nn.Conv2d(dim, dim, 3, padding=1)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:  # [B, H*W, C]
        b, _, c = x.shape
        y = self.residual_group(x, size).transpose(1, 2).reshape(b, c, *size)
        return self.conv(y).flatten(2).transpose(1, 2) + x


class SwinIR(nn.Module):
    def __init__(self, scale: int, embed_dim: int, depths: tuple[int, ...], heads: tuple[int, ...],
                 window: int = 8, mlp_ratio: float = 2.0, upsampler: str = "pixelshuffledirect"):
        super().__init__()
        self.scale, self.window, self.embed_dim, self.depths = scale, window, embed_dim, tuple(depths)
        self.mlp_ratio = mlp_ratio
        self.register_buffer("mean", torch.tensor(RGB_MEAN).view(1, 3, 1, 1), persistent=False)
        self.conv_first = nn.Conv2d(3, embed_dim, 3, padding=1)
        self.patch_norm = nn.LayerNorm(embed_dim)
        self.layers = nn.ModuleList(
            RSTB(embed_dim, d, h, window, mlp_ratio) for d, h in zip(depths, heads, strict=True)
        )
        self.norm = nn.LayerNorm(embed_dim)
        self.conv_after_body = nn.Conv2d(embed_dim, embed_dim, 3, padding=1)
        self.reconstruction = SwinIRUpsampler(embed_dim, scale, upsampler)
        self.apply(init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        x = pad_to_multiple(x, self.window) - self.mean
        shallow = self.conv_first(x)
        size = (int(shallow.shape[-2]), int(shallow.shape[-1]))  # plain ints, also when traced
        y = self.patch_norm(shallow.flatten(2).transpose(1, 2))
        for layer in self.layers:
            y = layer(y, size)
        y = self.norm(y).transpose(1, 2).reshape(shallow.shape)
        y = self.reconstruction(self.conv_after_body(y) + shallow)
        return (y + self.mean)[..., : h * self.scale, : w * self.scale]

    def analytic_mult_adds(self, lr_h: int, lr_w: int) -> int | None:
        """SwinIR's own ``flops()`` at an LR of ``lr_h x lr_w`` (MACs), kept term for term, including
        its two undercounts (conv_after_body taken as 3*C*C per pixel instead of 9*C*C; the one-step
        upsampler taken as C*3*9 per pixel, missing the s*s output channels), because the published
        Mult-Adds of SwinIR-light come from it. SwinIR defines no count for the classical upsampler."""
        if self.reconstruction.kind != "pixelshuffledirect":
            return None
        c, n = self.embed_dim, self.window * self.window
        pixels = lr_h * lr_w
        attention = n * c * 3 * c + 2 * n * n * c + n * c * c
        block = 2 * c * pixels + (pixels // n) * attention + int(2 * pixels * c * c * self.mlp_ratio)
        rstb = [depth * block + pixels * c * c * 9 for depth in self.depths]
        return pixels * 3 * c * 9 + pixels * c + sum(rstb) + pixels * 3 * c * c + pixels * c * 3 * 9


def lightweight_recipe(scale: int) -> TrainConfig:
    """SwinIR-light's training, from cszn/KAIR options/swinir/train_swinir_sr_lightweight.json."""
    return TrainConfig(
        iterations=500_000, batch_size=64, lr_patch=64, learning_rate=2e-4,
        betas=(0.9, 0.999),  # the config sets none: Adam's defaults
        milestones=(250_000, 400_000, 450_000, 475_000), gamma=0.5, loss="l1", ema_decay=0.999,
        train_sets=("DIV2K-train",), val_set="Set5",
    )


def _remap_official(state: dict) -> dict:
    """Official SwinIR checkpoints: drop the index/mask buffers (we rebuild them), rename patch_embed.norm,
    and move the upsampler's modules under ``reconstruction``."""
    out = {}
    for key, value in state.items():
        if key.endswith(("relative_position_index", "attn_mask")):
            continue
        if key.startswith(("upsample.", "conv_before_upsample.", "conv_last.")):
            key = "reconstruction." + key
        out[key.replace("patch_embed.norm.", "patch_norm.")] = value
    return out


# SwinIR's published params (878K ...) are thop's count, which skips the relative-position bias tables
# [JingyunLiang/SwinIR#45].
@register("swinir-light", paper="SwinIR (ICCVW 2021)", scales=(2, 3, 4), remap_weights=_remap_official,
          recipe=lightweight_recipe, params_count="params_leaf_modules",
          description="SwinIR lightweight: 4 RSTB x 6 blocks, C=60, 6 heads, window 8, pixelshuffledirect")
def swinir_light(scale: int) -> SwinIR:
    return SwinIR(scale, 60, (6, 6, 6, 6), (6, 6, 6, 6), upsampler="pixelshuffledirect")


@register("swinir-classical", paper="SwinIR (ICCVW 2021)", scales=(2, 3, 4, 8), remap_weights=_remap_official,
          params_count="params_leaf_modules",
          description="SwinIR classical: 6 RSTB x 6 blocks, C=180, 6 heads, window 8, pixelshuffle")
def swinir_classical(scale: int) -> SwinIR:
    return SwinIR(scale, 180, (6,) * 6, (6,) * 6, upsampler="pixelshuffle")
