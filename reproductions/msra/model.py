"""MSRA-SR (Zhou et al., ICCV 2023), an unofficial reconstruction: no code was published.

The skeleton is SwinIR's (shallow conv, residual groups of Transformer layers + a 3x3 conv, final
LayerNorm, conv after body, global residual, upsampler). Each multi-scale shared Transformer block
(MSTB) is::

    x = x + GA(proj([SSA(h) | CSA(h)]))       h = LN1(x), in windows of 16x16
    x = x + fc2(MS-DWC(GELU(fc1(LN2(x)))))     MS-DWC: depth-wise 1/3/5/7 branches, merged by reparameterize()

The choices the paper leaves open follow our reconstruction "V2" (the one that
fits the lightweight params and Mult-Adds within ~1%); each is a constructor option, tagged
[paper] (stated in the text), [spec] (inferred there from the paper's numbers) or [swinir].
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from reproductions.baselines.swinir import RGB_MEAN
from reproductions.layers import MultiBranchConv2d, SwinIRUpsampler, pad_to_multiple


def _window_labels(h: int, w: int, window: int, shift: int) -> np.ndarray:
    """Region id (0..8) of every pixel after a cyclic shift, as [nW, window, window] (SwinIR's mask regions).
    numpy, not torch: this bookkeeping must not show up as model operators when fvcore traces a forward."""
    def regions(length: int) -> np.ndarray:
        labels = np.zeros(length, dtype=np.int64)
        if shift:
            labels[length - window: length - shift] = 1
            labels[length - shift:] = 2
        return labels

    labels = regions(h)[:, None] * 3 + regions(w)[None, :]
    return labels.reshape(h // window, window, w // window, window).transpose(0, 2, 1, 3).reshape(-1, window, window)


def region_masks(h: int, w: int, window: int, shift: int, scales: tuple[int, ...]) -> dict[int, torch.Tensor]:
    """For each key scale s: [nW, N, N/s^2] additive masks (-100 across shift regions). Keys at scale s
    average s x s pixels; with shift a multiple of s every such block lies in one region, so its id is exact."""
    labels = _window_labels(h, w, window, shift)
    queries = labels.reshape(labels.shape[0], -1)
    masks = {}
    for s in scales:
        keys = labels[:, ::s, ::s].reshape(labels.shape[0], -1)
        masks[s] = torch.from_numpy((queries[:, :, None] != keys[:, None, :]) * -100.0).float()
    return masks


def image(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Tokens [B, HW, C] as an image [B, C, H, W] without a copy: a channels-last view, in which oneDNN's
    convolutions (the depth-wise ones most) run several times faster than on a transposed copy."""
    return x.view(x.shape[0], *size, x.shape[-1]).permute(0, 3, 1, 2)


def tokens(x: torch.Tensor) -> torch.Tensor:
    """An image [B, C, H, W] back to tokens [B, HW, C] (a view when the image is channels-last)."""
    return x.flatten(2).transpose(1, 2)


def attend(probs: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """probs @ v. For narrow v (SSA's 15 and CSA's 10 channels per head) computed as (v^T probs^T)^T: the same
    sums, which MKL's batched GEMM runs about twice as fast with the long query axis as the output's columns;
    wider v (pixel-unshuffled CSA values) is faster as it is."""
    if v.shape[-1] > 16:
        return probs @ v
    return (v.transpose(-2, -1) @ probs.transpose(-2, -1)).transpose(-2, -1)


def boundary_masks(window: int, shift: int, scales: tuple[int, ...]) -> dict[int, torch.Tensor]:
    """For each key scale s: [2, 2, N, N/s^2], the masks of a 2 x 2 grid of windows. After a cyclic shift of half
    a window only the last row and the last column of windows straddle regions, and every window of that row
    (of that column, and the corner) has the same mask as [1, 0] ([0, 1], [1, 1]), whatever the image size."""
    masks = region_masks(2 * window, 2 * window, window, shift, scales)
    return {s: m.view(2, 2, *m.shape[1:]) for s, m in masks.items()}


def add_shift_masks(logits: torch.Tensor, masks: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """logits [B*nW, (heads,) N, M] on a ``grid`` of rows x columns of windows + their shift masks (from
    ``boundary_masks``), in place: only the windows of the last row and column are touched."""
    rows, cols = grid
    view = logits.view(-1, rows, cols, *logits.shape[1:])
    masks = masks.view(2, 2, *[1] * (logits.dim() - 3), *masks.shape[-2:])
    view[:, -1, :-1] += masks[1, 0]
    view[:, :-1, -1] += masks[0, 1]
    view[:, -1, -1] += masks[1, 1]
    return logits


class MSAttention(nn.Module):
    """Shared self-attention (SSA) on ``ssa_dim`` channels + cross-scale attention (CSA) on the rest.

    A *computing* layer projects q, k, v and computes the SSA score map and the CSA score maps; a
    *sharing* layer projects only v, transforms the inherited SSA map with F and reuses the CSA maps
    [paper, Eq. 7: shared layers cost 9NC + N^2C + 2NC^2]. A layer inherits only from one with its own window
    shift, so the CSA maps travel as probabilities, their shift masks added."""

    def __init__(self, dim: int, window: int, computes: bool, ssa_dim: int, ssa_heads: int,
                 csa_scales: tuple[int, ...], f_kernel: int):
        super().__init__()
        self.dim, self.window, self.computes = dim, window, computes
        self.ssa_dim, self.ssa_heads = ssa_dim, ssa_heads
        self.csa_scales = csa_scales
        self.csa_head_dim = (dim - ssa_dim) // len(csa_scales) if csa_scales else 0
        if ssa_dim + self.csa_head_dim * len(csa_scales) != dim:
            raise ValueError(f"channels {dim} do not split into SSA {ssa_dim} + {len(csa_scales)} CSA heads")
        self.qkv = nn.Linear(dim, 3 * dim) if computes else nn.Linear(dim, dim)  # sharing layers: v only
        # One relative-position bias table in every layer [spec: fills the parameter count].
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, ssa_heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
        relative = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
        self.register_buffer("relative_position_index", relative[..., 0] * (2 * window - 1) + relative[..., 1],
                             persistent=False)
        # F: the learnable transform of the inherited score map [paper: 3x3 depth-wise by default].
        self.transform = None
        if not computes and f_kernel:  # 0: F is the identity
            self.transform = nn.Conv2d(ssa_heads, ssa_heads, f_kernel, padding=f_kernel // 2, groups=ssa_heads)
        # CSA aggregation: a 1x1 conv per scale, head_dim * s^2 -> head_dim [spec: V2].
        self.aggregate = nn.ModuleList(nn.Linear(self.csa_head_dim * s * s, self.csa_head_dim) for s in csa_scales)
        self.proj = nn.Linear(dim, dim)

    def transformed(self, scores: torch.Tensor) -> torch.Tensor:
        """F on inherited score maps [BW, heads, N, N]: the same depth-wise conv with every window's heads as
        channels of one image, which oneDNN runs ~6x faster than a batch of BW two-channel images (same sums,
        same fvcore count)."""
        conv = self.transform
        bw, heads = scores.shape[:2]
        merged = F.conv2d(scores.reshape(1, bw * heads, *scores.shape[2:]), conv.weight.repeat(bw, 1, 1, 1),
                          conv.bias.repeat(bw), padding=conv.padding, groups=bw * heads)
        return merged.view_as(scores)

    def position_bias(self) -> torch.Tensor:
        n = self.window**2
        return self.relative_position_bias_table[self.relative_position_index.view(-1)].view(n, n, -1).permute(2, 0, 1)

    def forward(self, windows: torch.Tensor, shared: dict, masks: dict[int, torch.Tensor] | None,
                grid: tuple[int, int]) -> torch.Tensor:
        """``windows``: [B*nW, N, C] on a ``grid`` of rows x columns of windows; ``shared`` carries the score
        maps from layer to layer (updated here)."""
        bw, n, c = windows.shape
        ws = self.window
        if self.computes:
            q, k, v = self.qkv(windows).chunk(3, dim=-1)
            shared["shifted"] = masks is not None
        else:
            v = self.qkv(windows)
            if shared["shifted"] != (masks is not None):  # inherited CSA probabilities carry their masks
                raise ValueError("a layer inherits attention maps from a layer with the other window shift")
        outputs = []
        # SSA: per-head score map, computed or inherited through F.
        hd = self.ssa_dim // self.ssa_heads
        v_ssa = v[..., : self.ssa_dim].reshape(bw, n, self.ssa_heads, hd).transpose(1, 2)
        if self.computes:
            q_ssa = q[..., : self.ssa_dim].reshape(bw, n, self.ssa_heads, hd).transpose(1, 2)
            k_ssa = k[..., : self.ssa_dim].reshape(bw, n, self.ssa_heads, hd).transpose(1, 2)
            scores = (q_ssa * hd**-0.5) @ k_ssa.transpose(-2, -1)
        else:
            scores = shared["ssa"] if self.transform is None else self.transformed(shared["ssa"])
        shared["ssa"] = scores
        logits = scores + self.position_bias()[None]
        if masks is not None:
            logits = add_shift_masks(logits, masks[1], grid)
        outputs.append(attend(logits.softmax(-1), v_ssa).transpose(1, 2).reshape(bw, n, self.ssa_dim))
        # CSA: one head per scale; keys averaged over s x s, values pixel-unshuffled [paper].
        for j, s in enumerate(self.csa_scales):
            lo = self.ssa_dim + j * self.csa_head_dim
            hi = lo + self.csa_head_dim
            v_img = v[..., lo:hi].transpose(1, 2).reshape(bw, self.csa_head_dim, ws, ws)
            v_s = F.pixel_unshuffle(v_img, s).flatten(2).transpose(1, 2)  # [BW, N/s^2, hd*s^2]
            if self.computes:
                k_img = k[..., lo:hi].transpose(1, 2).reshape(bw, self.csa_head_dim, ws, ws)
                k_s = F.avg_pool2d(k_img, s).flatten(2)  # [BW, hd, N/s^2]
                logits = (q[..., lo:hi] * self.csa_head_dim**-0.5) @ k_s
                if masks is not None:
                    logits = add_shift_masks(logits, masks[s], grid)
                # F leaves the CSA maps as they are, so the layers that inherit them take the probabilities:
                # one softmax per map instead of one per layer.
                shared[f"csa{s}"] = logits.softmax(-1)
            outputs.append(self.aggregate[j](attend(shared[f"csa{s}"], v_s)))
        return self.proj(torch.cat(outputs, dim=-1))


class ChannelAttention(nn.Module):
    """Global attention: x * sigmoid(W2 ReLU(W1 GAP(x))) [paper, Eq. 4]; hidden width 35 [spec: fitted]."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, HW, C]
        return x * torch.sigmoid(self.fc2(F.relu(self.fc1(x.mean(dim=1, keepdim=True)))))


class FeedForward(nn.Module):
    """fc1 -> GELU -> depth-wise conv(s) on the hidden width -> fc2 [paper; GELU before DWC: spec]."""

    def __init__(self, dim: int, hidden: int, dwc_kernels: tuple[int, ...]):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)
        self.dwc = MultiBranchConv2d(hidden, hidden, dwc_kernels, groups=hidden) if dwc_kernels else None

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        y = self.act(self.fc1(x))
        if self.dwc is not None:
            y = tokens(self.dwc(image(y, size)))
        return self.fc2(y)


class MSTB(nn.Module):
    def __init__(self, dim: int, window: int, shift: int, computes: bool, mlp_ratio: float, ssa_dim: int,
                 ssa_heads: int, csa_scales: tuple[int, ...], f_kernel: int, ga_hidden: int | None,
                 dwc_kernels: tuple[int, ...]):
        super().__init__()
        self.window, self.shift = window, shift
        self.norm1 = nn.LayerNorm(dim)
        self.attn = MSAttention(dim, window, computes, ssa_dim, ssa_heads, csa_scales, f_kernel)
        self.global_attn = ChannelAttention(dim, ga_hidden) if ga_hidden else None
        self.norm2 = nn.LayerNorm(dim)
        self.ffn = FeedForward(dim, int(dim * mlp_ratio), dwc_kernels)

    def forward(self, x: torch.Tensor, size: tuple[int, int], shared: dict, masks: dict) -> torch.Tensor:
        b, _, c = x.shape
        h, w = size
        ws, shift = self.window, self.shift
        y = self.norm1(x).view(b, h, w, c)
        if shift:
            y = torch.roll(y, (-shift, -shift), (1, 2))
        windows = y.view(b, h // ws, ws, w // ws, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, ws * ws, c)
        y = self.attn(windows, shared, masks if shift else None, (h // ws, w // ws))
        y = y.view(b, h // ws, w // ws, ws, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(b, h, w, c)
        if shift:
            y = torch.roll(y, (shift, shift), (1, 2))
        y = y.reshape(b, h * w, c)
        x = x + (self.global_attn(y) if self.global_attn is not None else y)
        return x + self.ffn(self.norm2(x), size)


class MSRASR(nn.Module):
    def __init__(self, scale: int, embed_dim: int = 60, depths: tuple[int, ...] = (4, 4, 4, 4), window: int = 16,
                 mlp_ratio: float = 2.0, ssa_dim: int = 30, ssa_heads: int = 2, csa_scales: tuple[int, ...] = (1, 2, 4),
                 f_kernel: int = 3, shared_attention: bool = True, ga_hidden: int | None = 35,
                 dwc_kernels: tuple[int, ...] = (1, 3, 5, 7), upsampler: str = "pixelshuffledirect"):
        super().__init__()
        self.scale, self.window = scale, window
        self.csa_scales = tuple(csa_scales)
        self.register_buffer("mean", torch.tensor(RGB_MEAN).view(1, 3, 1, 1), persistent=False)
        self.conv_first = nn.Conv2d(3, embed_dim, 3, padding=1)
        self.patch_norm = nn.LayerNorm(embed_dim)
        self.groups = nn.ModuleList()
        self.group_convs = nn.ModuleList()
        index = 0
        for depth in depths:
            layers = nn.ModuleList()
            for _ in range(depth):
                # Shift on odd layers; the first WA and the first SWA layer of the network compute the
                # maps and every later layer of the same parity inherits them [spec: "netparity"].
                computes = index < 2 or not shared_attention
                layers.append(MSTB(embed_dim, window, window // 2 if index % 2 else 0, computes, mlp_ratio,
                                   ssa_dim, ssa_heads, self.csa_scales, f_kernel, ga_hidden, tuple(dwc_kernels)))
                index += 1
            self.groups.append(layers)
            self.group_convs.append(nn.Conv2d(embed_dim, embed_dim, 3, padding=1))
        self.norm = nn.LayerNorm(embed_dim)
        self.conv_after_body = nn.Conv2d(embed_dim, embed_dim, 3, padding=1)
        # SwinIR's heads: one-step for light [spec: the x2 -> x3 -> x4 params steps], classical as SwinIR's.
        self.reconstruction = SwinIRUpsampler(embed_dim, scale, upsampler)
        for s, mask in boundary_masks(window, window // 2, (1, *self.csa_scales)).items():
            self.register_buffer(f"shift_masks_{s}", mask, persistent=False)  # they move with the model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        x = pad_to_multiple(x, self.window) - self.mean
        shallow = self.conv_first(x)
        size = (int(shallow.shape[-2]), int(shallow.shape[-1]))
        masks = {s: self.get_buffer(f"shift_masks_{s}") for s in (1, *self.csa_scales)}
        shared: dict[str, dict] = {"even": {}, "odd": {}}
        y = self.patch_norm(shallow.flatten(2).transpose(1, 2))
        index = 0
        for layers, conv in zip(self.groups, self.group_convs, strict=True):
            z = y
            for layer in layers:
                z = layer(z, size, shared["odd" if index % 2 else "even"], masks)
                index += 1
            y = tokens(conv(image(z, size))) + y
        y = self.norm(y).transpose(1, 2).reshape(shallow.shape)
        y = self.reconstruction(self.conv_after_body(y) + shallow)
        return (y + self.mean)[..., : h * self.scale, : w * self.scale]
