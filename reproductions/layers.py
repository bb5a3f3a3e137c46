"""Blocks shared by several papers, and the structural reparameterisation protocol.

Protocol (``bench.reparam``, re-exported here): a module with a ``reparameterize()`` method switches
itself, in place, from its training-time form (several branches) to a deploy-time form (one conv)
computing the same function; ``reparameterize(model)`` applies it everywhere and says how many
modules it merged (0, and nothing touched, for a model without such modules).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from bench.reparam import reparameterize

__all__ = ["MultiBranchConv2d", "reparameterize", "fuse_conv_bn", "SwinIRUpsampler", "init_weights", "pad_to_multiple"]


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Reflect-pad ``[..., H, W]`` at the bottom and right to multiples of ``multiple`` (whole windows)."""
    pad_h, pad_w = (-x.shape[-2]) % multiple, (-x.shape[-1]) % multiple
    return F.pad(x, (0, pad_w, 0, pad_h), mode="reflect") if pad_h or pad_w else x


def fuse_conv_bn(weight: torch.Tensor, bias: torch.Tensor | None, bn: nn.BatchNorm2d | None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight, bias) of one conv equal to conv followed by ``bn`` in eval mode."""
    bias = torch.zeros(weight.shape[0], dtype=weight.dtype, device=weight.device) if bias is None else bias
    if bn is None:
        return weight, bias
    factor = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return weight * factor.view(-1, 1, 1, 1), bn.bias + (bias - bn.running_mean) * factor


class MultiBranchConv2d(nn.Module):
    """Sum of parallel convs with different square kernels (odd sizes, 'same' padding), an optional
    identity branch, each optionally followed by BatchNorm; ``reparameterize()`` folds them into
    one conv of the largest kernel. ``groups = channels`` gives the multi-scale depth-wise form."""

    def __init__(self, in_channels: int, out_channels: int, kernel_sizes=(3, 1), *, identity: bool = False,
                 batch_norm: bool = False, groups: int = 1, bias: bool = True):
        super().__init__()
        if any(k % 2 == 0 for k in kernel_sizes):
            raise ValueError(f"kernel sizes must be odd for 'same' padding, got {kernel_sizes}")
        if identity and in_channels != out_channels:
            raise ValueError("an identity branch needs in_channels == out_channels")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = max(kernel_sizes)
        self.convs = nn.ModuleList(
            nn.Conv2d(in_channels, out_channels, k, padding=k // 2, groups=groups, bias=bias and not batch_norm)
            for k in kernel_sizes
        )
        self.norms = nn.ModuleList(nn.BatchNorm2d(out_channels) for _ in kernel_sizes) if batch_norm else None
        self.identity_norm = nn.BatchNorm2d(out_channels) if identity and batch_norm else None
        self.identity = identity
        self.deployed = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.deployed:
            return self.fused(x)
        out = x if self.identity_norm is None else self.identity_norm(x)
        out = out if self.identity else 0
        for i, conv in enumerate(self.convs):
            y = conv(x)
            out = out + (y if self.norms is None else self.norms[i](y))
        return out

    def _identity_kernel(self) -> torch.Tensor:
        k = self.kernel_size
        per_group = self.in_channels // self.groups
        ref = self.convs[0].weight
        kernel = torch.zeros(self.out_channels, per_group, k, k, dtype=ref.dtype, device=ref.device)
        kernel[torch.arange(self.out_channels), torch.arange(self.out_channels) % per_group, k // 2, k // 2] = 1
        return kernel

    @torch.no_grad()
    def merged_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        k = self.kernel_size
        weight, bias = 0, 0
        for i, conv in enumerate(self.convs):
            w, b = fuse_conv_bn(conv.weight, conv.bias, None if self.norms is None else self.norms[i])
            pad = (k - conv.kernel_size[0]) // 2
            weight, bias = weight + F.pad(w, (pad, pad, pad, pad)), bias + b
        if self.identity:
            w, b = fuse_conv_bn(self._identity_kernel(), None, self.identity_norm)
            weight, bias = weight + w, bias + b
        return weight, bias

    @torch.no_grad()
    def reparameterize(self) -> None:
        weight, bias = self.merged_weights()
        self.fused = nn.Conv2d(self.in_channels, self.out_channels, self.kernel_size, padding=self.kernel_size // 2,
                               groups=self.groups, bias=True).to(weight.device, weight.dtype)
        self.fused.weight.copy_(weight)
        self.fused.bias.copy_(bias)
        del self.convs, self.norms, self.identity_norm
        self.deployed = True



def init_weights(module: nn.Module) -> None:
    """SwinIR's initialisation (truncated-normal linears, unit LayerNorms), for SwinIR and ART."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


class SwinIRUpsampler(nn.Module):
    """SwinIR's reconstruction heads, shared by the SwinIR-style models.

    ``pixelshuffledirect`` (lightweight): one 3x3 conv to 3*s*s channels, then pixel shuffle.
    ``pixelshuffle`` (classical): 3x3 conv to 64 + LeakyReLU (slope 0.01), then (3x3 conv to 4*64, shuffle 2)
    per factor 2, or one (conv to 9*64, shuffle 3), then a 3x3 conv to RGB."""

    def __init__(self, dim: int, scale: int, kind: str):
        super().__init__()
        self.kind = kind
        if kind == "pixelshuffledirect":
            self.upsample = nn.Sequential(nn.Conv2d(dim, 3 * scale * scale, 3, padding=1), nn.PixelShuffle(scale))
        elif kind == "pixelshuffle":
            if scale not in (2, 3, 4, 8):
                raise ValueError(f"the classical upsampler supports x2, x3, x4, x8, not x{scale}")
            factors = [3] if scale == 3 else [2] * (scale.bit_length() - 1)
            self.conv_before_upsample = nn.Sequential(nn.Conv2d(dim, 64, 3, padding=1), nn.LeakyReLU())
            self.upsample = nn.Sequential(*[m for f in factors for m in (nn.Conv2d(64, 64 * f * f, 3, padding=1),
                                                                         nn.PixelShuffle(f))])
            self.conv_last = nn.Conv2d(64, 3, 3, padding=1)
        else:
            raise ValueError(f"unknown upsampler {kind!r}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "pixelshuffle":
            return self.conv_last(self.upsample(self.conv_before_upsample(x)))
        return self.upsample(x)
