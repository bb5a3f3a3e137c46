"""MSTN: multi-scale multi-stage SR with a Transformer feature-sharing module (unofficial reconstruction).

No code was published, and C3Net [8], the network MSTN says it resembles, could not be identified, so
every module below is the spec's best-evidenced reading (README, "Reconstructions").
Tags: [paper] the MSTN text; [src: repo/path] public code, read for facts only; [inf: why] our choice.

One stage (weights shared by all T stages [paper]):

    img_t --SFE--> RDB x D (dense layers + CCA) --GFF--> X_t --TFM(X_t, F_{t-1})--> F_t --heads--> outputs

``img_1`` is the bilinearly upsampled LR [paper]; ``img_t`` (t > 1) is stage t-1's full-size output
[inf: coarse-to-fine refinement of the previous estimate, spec §1.3]. Each stage emits three images
[paper: "each stage outputs multiple high-resolution SR patches"] from one working grid: the full grid,
half of it and a quarter of it.

Two readings of the multi-scale outputs (``outputs``, spec §1.2):

- ``"one-model"`` (default, reading A): the working grid is always 4x the LR; the three outputs are
  x4, x2 and x1 SR of the input. The model is trained once at scale 4 and the same weights serve x2
  and x4: built with ``scale=2`` it returns the x2 head (the HR size of an x2 benchmark LR), built with
  ``scale=4`` the x4 head. The state dict does not depend on ``scale``.
- ``"per-scale"`` (reading B): one model per scale; the grid is ``scale`` x the LR and the half and
  quarter outputs are deep supervision on an image pyramid of the HR; evaluation reads the full head.

In training mode the model returns every stage's outputs, stage by stage, each as (quarter, half,
full), i.e. (x1, x2, x4) in reading A: ``3 * stages`` images that ``bench.train.training_loss`` compares
with the HR resized to each size (``recipe.loss_weights`` holds omega_s / T for Eqs. 2-5). In eval
mode it returns the last stage's image at the evaluated scale, computing only what that needs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from bench import BenchError
from reproductions.baselines.imdn import ContrastChannelAttention
from reproductions.layers import pad_to_multiple
from reproductions.mstn.loss import UncertaintyWeighting, per_scale_l1

__all__ = ["MSTN", "ResidualDenseBlock", "FeatureSharingModule", "ChannelLayerNorm", "OUTPUTS", "ATTENTIONS"]

OUTPUTS = ("one-model", "per-scale")
ATTENTIONS = ("channel", "window")


def conv(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2, groups=groups)


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channels of each pixel, with weight and bias
    [src: swz30/Restormer basicsr/models/archs/restormer_arch.py WithBias_LayerNorm, eps 1e-5]."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = nn.LayerNorm(channels, eps=1e-5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class ResidualDenseBlock(nn.Module):
    """RDN's residual dense block with CCA before the local residual [paper: "convolutional layers with
    channel attention (CA) in a residual dense connection", CCA from C3Net; inf: RDN layout, spec §1.3]:
    ``layers`` x (3x3 conv to ``growth`` + ReLU) on the concat of everything before, a 1x1 local
    feature fusion back to ``channels``, CCA [src: Zheng222/IMDN model/block.py CCALayer], + input."""

    def __init__(self, channels: int, growth: int, layers: int, reduction: int):
        super().__init__()
        self.dense = nn.ModuleList(
            nn.Sequential(conv(channels + i * growth, growth, 3), nn.ReLU(inplace=True)) for i in range(layers))
        self.fusion = conv(channels + layers * growth, channels, 1)
        self.attention = ContrastChannelAttention(channels, reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.dense:
            features.append(layer(torch.cat(features, dim=1)))
        return x + self.attention(self.fusion(torch.cat(features, dim=1)))


class FeatureSharingModule(nn.Module):
    """TFM, Eq. (1): F_t = G[X_t, F_{t-1}] [paper]. Queries from the previous stage's features, keys and
    values from this stage's CCA features: their inner-product correlation, a softmax, and the attention
    map multiplied with this stage's features [paper, Sec. II-B]; then a pre-LN feed-forward, each with
    a residual [inf: standard Transformer block, spec §1.3].

    ``attention="channel"``: transposed (channel) attention as Restormer's MDTA, ``heads`` heads,
    L2-normalised q and k over the pixels and a learnable temperature per head [src: swz30/Restormer
    basicsr/models/archs/restormer_arch.py Attention]; linear in the pixel count, so it runs on the
    HR-size grid [inf: global spatial attention on 192x192 grids is infeasible, spec §1.3].
    ``attention="window"``: spatial attention inside non-overlapping ``window`` x ``window`` windows,
    scaled by 1/sqrt(head dim), no position bias [inf: the spec's named alternative].
    q / kv projections: 1x1 conv then depthwise 3x3, as MDTA's qkv [src: Restormer, as above]; FFN:
    1x1 (C -> ``expansion`` C), GELU, depthwise 3x3, 1x1 back [inf: spec §1.3].
    """

    def __init__(self, channels: int, heads: int, expansion: int, attention: str, window: int):
        super().__init__()
        if attention not in ATTENTIONS:
            raise BenchError(f"unknown TFM attention {attention!r}; use one of {', '.join(ATTENTIONS)}")
        if channels % heads:
            raise BenchError(f"{channels} channels do not split into {heads} heads")
        self.heads, self.attention, self.window = heads, attention, window
        hidden = expansion * channels
        self.norm_query, self.norm_key_value, self.norm_ffn = (ChannelLayerNorm(channels) for _ in range(3))
        self.query = nn.Sequential(conv(channels, channels, 1), conv(channels, channels, 3, groups=channels))
        self.key_value = nn.Sequential(conv(channels, 2 * channels, 1),
                                       conv(2 * channels, 2 * channels, 3, groups=2 * channels))
        if attention == "channel":
            self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.project = conv(channels, channels, 1)
        self.ffn = nn.Sequential(conv(channels, hidden, 1), nn.GELU(), conv(hidden, hidden, 3, groups=hidden),
                                 conv(hidden, channels, 1))

    def _channel_attention(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        b, c, h, w = v.shape
        q, k, v = (t.reshape(b, self.heads, c // self.heads, h * w) for t in (q, k, v))
        q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
        attn = torch.softmax(torch.matmul(q, k.transpose(-2, -1)) * self.temperature, dim=-1)
        return torch.matmul(attn, v).reshape(b, c, h, w)

    def _window_attention(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        b, c, h, w = v.shape
        s, d = self.window, c // self.heads
        q, k, v = (pad_to_multiple(t, s) for t in (q, k, v))
        ph, pw = v.shape[-2:]

        def windows(t: torch.Tensor) -> torch.Tensor:  # [b * windows, heads, s * s, d]
            t = t.reshape(b, self.heads, d, ph // s, s, pw // s, s).permute(0, 3, 5, 1, 4, 6, 2)
            return t.reshape(-1, self.heads, s * s, d)

        q, k, v = windows(q), windows(k), windows(v)
        attn = torch.softmax(torch.matmul(q, k.transpose(-2, -1)) * d ** -0.5, dim=-1)
        out = torch.matmul(attn, v).reshape(b, ph // s, pw // s, self.heads, s, s, d)
        out = out.permute(0, 3, 6, 1, 4, 2, 5).reshape(b, c, ph, pw)
        return out[..., :h, :w]

    def forward(self, x: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
        q = self.query(self.norm_query(previous))
        k, v = self.key_value(self.norm_key_value(x)).chunk(2, dim=1)
        attend = self._channel_attention if self.attention == "channel" else self._window_attention
        x = x + self.project(attend(q, k, v))
        return x + self.ffn(self.norm_ffn(x))

    def attention_mult_adds(self, h: int, w: int) -> int:
        """Mult-Adds of the two attention matmuls (q k^T and attn v) on an h x w map."""
        c = self.project.in_channels
        if self.attention == "channel":
            return 2 * c * (c // self.heads) * h * w
        s = self.window
        return 2 * c * s * s * (-(-h // s) * s) * (-(-w // s) * s)


class MSTN(nn.Module):
    """T stages of one shared network (SFE, D RDBs with CCA, GFF, TFM, three heads) on a pre-upsampled
    grid; see the module docstring for the two readings of its multi-scale outputs."""

    def __init__(self, scale: int, width: int = 64, growth: int = 48, dense_layers: int = 5, blocks: int = 4,
                 reduction: int = 16, stages: int = 3, heads: int = 4, ffn_expansion: int = 2,
                 attention: str = "channel", attention_window: int = 8, outputs: str = "one-model",
                 loss_weighting: str = "fixed", head_init: str = "zero"):
        super().__init__()
        if outputs not in OUTPUTS:
            raise BenchError(f"unknown MSTN outputs {outputs!r}; use one of {', '.join(OUTPUTS)}")
        if outputs == "one-model" and scale not in (2, 4):
            raise BenchError(f"MSTN (one model, x1/x2/x4 heads) serves x2 and x4, not x{scale}")
        if stages < 1:
            raise BenchError(f"MSTN needs at least one stage, got {stages}")
        self.scale, self.stages, self.outputs = scale, stages, outputs
        channels = width  # features per pixel (named width: the registry's ``channels`` is the card's RGB/any)
        self.grid = 4 if outputs == "one-model" else scale  # working grid / LR
        # Shallow features: RDN's two 3x3 convs; the first one's output is the global residual [inf: RDN].
        self.sfe1, self.sfe2 = conv(3, channels, 3), conv(channels, channels, 3)
        self.blocks = nn.ModuleList(ResidualDenseBlock(channels, growth, dense_layers, reduction)
                                    for _ in range(blocks))
        # Global feature fusion: 1x1 over every block's output, then 3x3 [inf: RDN GFF].
        self.fusion = nn.Sequential(conv(blocks * channels, channels, 1), conv(channels, channels, 3))
        self.tfm = FeatureSharingModule(channels, heads, ffn_expansion, attention, attention_window)
        # Heads [inf: spec §1.3]: a 3x3 conv to RGB at each size, added to the stage input resized there;
        # the half / quarter features come from strided 3x3 convs + ReLU (the quarter one after the half).
        self.down_half = nn.Sequential(conv(channels, channels, 3, stride=2), nn.ReLU(inplace=True))
        self.down_quarter = nn.Sequential(conv(channels, channels, 3, stride=2), nn.ReLU(inplace=True))
        self.head_full, self.head_half, self.head_quarter = (conv(channels, 3, 3) for _ in range(3))
        # [inf: the heads add residuals to the stage input; zeroed, every stage starts as the identity on its
        # input, so T stages do not compound random residuals (PyTorch's default init gives ~0.3 on [0, 1])]
        if head_init not in ("zero", "default"):
            raise BenchError(f"unknown head_init {head_init!r}; use 'zero' or 'default'")
        if head_init == "zero":
            for head in (self.head_full, self.head_half, self.head_quarter):
                nn.init.zeros_(head.weight)
                nn.init.zeros_(head.bias)
        # Learnable loss weights live here (so the optimizer and checkpoints see them) only when asked for.
        if loss_weighting not in ("fixed", "uncertainty"):
            raise BenchError(f"unknown loss_weighting {loss_weighting!r}; use 'fixed' or 'uncertainty'")
        self.loss_weighting = UncertaintyWeighting(3) if loss_weighting == "uncertainty" else None

    # ---- one stage ----------------------------------------------------------------------------------------

    def features(self, img: torch.Tensor, previous: torch.Tensor | None) -> torch.Tensor:
        """F_t of one stage from its input image and F_{t-1} (None at stage 1: self-attention)."""
        shallow = self.sfe1(img)
        x, outs = self.sfe2(shallow), []
        for block in self.blocks:
            x = block(x)
            outs.append(x)
        x = self.fusion(torch.cat(outs, dim=1)) + shallow  # X_CCA
        return self.tfm(x, x if previous is None else previous)

    @staticmethod
    def _resized(img: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """The stage input at a head's size: antialiased bicubic [inf: spec "bicubic down"]."""
        return F.interpolate(img, size=like.shape[-2:], mode="bicubic", align_corners=False, antialias=True)

    def heads(self, features: torch.Tensor, img: torch.Tensor, which: tuple[str, ...]) -> dict[str, torch.Tensor]:
        out = {}
        if "full" in which:
            out["full"] = self.head_full(features) + img
        if "half" in which or "quarter" in which:
            half = self.down_half(features)
            if "half" in which:
                out["half"] = self.head_half(half) + self._resized(img, half)
            if "quarter" in which:
                quarter = self.down_quarter(half)
                out["quarter"] = self.head_quarter(quarter) + self._resized(img, quarter)
        return out

    def _served_head(self) -> str:
        return "half" if self.outputs == "one-model" and self.scale == 2 else "full"

    # ---- the network ----------------------------------------------------------------------------------------

    def forward(self, lr: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        if self.training and self.outputs == "one-model" and self.scale != 4:
            raise BenchError("MSTN (one model) trains at scale 4, where its x1/x2/x4 outputs pair with the HR; "
                             "the same weights serve x2 (build it with scale=2 to evaluate)")
        img = F.interpolate(lr, scale_factor=self.grid, mode="bilinear", align_corners=False)  # [paper] bilinear
        previous, outputs = None, []
        for stage in range(self.stages):
            last = stage == self.stages - 1
            previous = self.features(img, previous)
            if self.training:
                out = self.heads(previous, img, ("quarter", "half", "full"))
                outputs += [out["quarter"], out["half"], out["full"]]
            elif last:
                return self.heads(previous, img, (self._served_head(),))[self._served_head()]
            else:
                out = self.heads(previous, img, ("full",))
            img = out["full"]
        return outputs

    def training_loss(self, outputs: list[torch.Tensor], hr: torch.Tensor,
                      omegas: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> torch.Tensor:
        """Eqs. (2)-(5): per-scale L1 averaged over the stages, then weighted, by fixed ``omegas`` or by the
        learnable uncertainty weighting. ``bench.train`` calls it when the recipe's ``loss`` is ``"model"``
        (needed for the learnable weighting); with fixed omegas the recipe's ``loss_weights`` are the same."""
        losses = per_scale_l1(outputs, hr, self.stages)
        if self.loss_weighting is not None:
            return self.loss_weighting(losses)
        return sum(w * loss for w, loss in zip(omegas, losses, strict=True))

    # ---- size -----------------------------------------------------------------------------------------------

    def _grid_convs(self) -> list[nn.Conv2d]:
        """The convs a stage runs at full grid resolution (CCA's 1x1 convs run on 1x1 maps)."""
        modules = [self.sfe1, self.sfe2, *self.blocks, self.fusion, self.tfm]
        return [m for part in modules for m in part.modules()
                if isinstance(m, nn.Conv2d) and m.stride == (1, 1) and m not in self._attention_convs()]

    def _attention_convs(self) -> set[nn.Conv2d]:
        return {m for block in self.blocks for m in block.attention.modules() if isinstance(m, nn.Conv2d)}

    def analytic_mult_adds(self, lr_h: int, lr_w: int) -> int:
        """Conv and matmul multiply-accumulates of an eval forward (what fvcore counts for those ops;
        it also counts LayerNorm and the bilinear upsampling, and skips the antialiased bicubic)."""
        h, w = self.grid * lr_h, self.grid * lr_w
        grid = sum(m.weight.numel() for m in self._grid_convs()) * h * w
        grid += sum(m.weight.numel() for m in self._attention_convs())  # on [C, 1, 1] maps
        grid += self.tfm.attention_mult_adds(h, w)
        full = self.head_full.weight.numel() * h * w
        half_h, half_w = -(-h // 2), -(-w // 2)
        half = (self.down_half[0].weight.numel() + self.head_half.weight.numel()) * half_h * half_w
        last = half if self._served_head() == "half" else full
        return self.stages * grid + (self.stages - 1) * full + last
