"""MESR (Huang & Chen, IEEE Access 10, 2022), an unofficial reconstruction: no code was published.

Two stages [paper, Fig. 1, Eqs. 1-5 and 19]::

    F0 = ReLU(conv3x3(I_LR))                                   shallow features (Eq. 1)
    F_d = MSFEB_d(F_{d-1}), d = 1..24                          deep features (Eq. 2)
    I_SR1 = tail(U(GFFB(F_1..F_24) + F0))                      RFFB = GFFB + global residual; sub-pixel U (Eq. 4)
    I_SR2 = I_SR1 * sigmoid(conv1x1(ReLU(conv3x3(I_SR1)))) + I_SR1      refinement block RB (Eq. 19)
    (by default on I_SR1 - mean, the mean added back after: ``rb_space``)

An MSFEB is 5 funnel-shaped multi-scale units (BFE, Eqs. 12-17) in weighted sub-residual blocks
(Eqs. 6-7) and an ECA-style channel attention over ``lam_out * F_d,5 + lam_in * F_{d-1}`` (Eq. 8).
Every choice the paper leaves open follows our reconstruction (README, "Reconstructions") and is a
constructor option tagged [paper] (stated in the text), [spec] (inferred there) or [inf] (inferred here).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm as _weight_norm

from reproductions.baselines.edsr import DIV2K_RGB_MEAN

__all__ = ["MESR", "MSFEB", "FunnelUnit", "SingleScaleUnit", "EfficientChannelAttention", "RefinementBlock",
           "eca_kernel_size", "OUTPUTS", "SKIPS", "RB_INITS", "RB_SPACES"]

OUTPUTS = ("auto", "refined", "coarse", "both")
SKIPS = ("merged", "literal")
RB_INITS = ("pytorch", "near-identity")
RB_SPACES = ("centred", "image")
RB_GATE_BIAS = -5.0  # near-identity RB init: gate sigmoid(-5) ~ 0.007 at every pixel


def eca_kernel_size(channels: int, rho: float = 1.0, b: float = 0.0) -> int:
    """Eq. 11: k = |log2(C) / rho + b / rho|_odd, the nearest odd number [paper]. The paper gives no rho, b;
    ECA's (gamma 2, b 1) give k = 3 at C = 27, (1, 0) give the paper's k = 5 [spec 0.3]."""
    t = abs(math.log2(channels) / rho + b / rho)
    k = int(t)
    return k if k % 2 else k + 1  # int() then +1 if even = the nearest odd for every non-odd t


def _conv(in_channels: int, out_channels: int, kernel_size: int, weight_norm: bool) -> nn.Module:
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
    # "the WN operation is used for adaptive updating of weights" [paper, Sec. III-C2]; on the convs of
    # the MSFEBs and the GFFB [spec 2.6 #6]: WN of a scalar lambda would be the identity.
    return _weight_norm(conv) if weight_norm else conv


class EfficientChannelAttention(nn.Module):
    """CA of Eq. 9: global average pool, a k-tap conv across neighbouring channels (no bias), sigmoid,
    rescale [paper; src: BangguWu/ECANet models/eca_module.py]."""

    def __init__(self, kernel_size: int = 5):
        super().__init__()
        self.conv = nn.Conv1d(1, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = x.mean(dim=(2, 3))  # [B, C]
        weights = torch.sigmoid(self.conv(pooled.unsqueeze(1))).squeeze(1)
        return x * weights[:, :, None, None]


class FunnelUnit(nn.Module):
    """The funnel-like multi-scale unit (BFE) of Fig. 3, Eqs. 12-17; returns f3 (plus beta * M in the
    literal reading of Eq. 18).

    ``branches="shared"`` [paper: the equations' superscripts reuse w^{1,1}_1x1, w^{1,2}_3x3, w^{2,1}_3x3]:
    each level is one tapped chain, level 1: 1x1 -> 3x3 -> 3x3 (taps f11, f12, f13), level 2 on their
    concat: 3x3 (3C -> C) -> 3x3 (taps f21, f22), level 3: 1x1 (2C -> C), no activation. ``"separate"``:
    the Inception reading, every branch with its own convs [spec 2.6 #3]."""

    def __init__(self, channels: int, branches: str = "shared", literal_skip: bool = False, weight_norm: bool = True):
        super().__init__()
        if branches not in ("shared", "separate"):
            raise ValueError(f"branches must be 'shared' or 'separate', got {branches!r}")
        c, wn = channels, weight_norm
        self.shared = branches == "shared"
        self.l1_1x1 = _conv(c, c, 1, wn)
        self.l1_3x3 = _conv(c, c, 3, wn)
        self.l1_3x3_3x3 = _conv(c, c, 3, wn)
        self.l2_3x3 = _conv(3 * c, c, 3, wn)
        self.l2_3x3_3x3 = _conv(c, c, 3, wn)
        if not self.shared:  # each branch starts from its own conv
            self.l1_b2_1x1 = _conv(c, c, 1, wn)
            self.l1_b3_1x1 = _conv(c, c, 1, wn)
            self.l1_b3_3x3 = _conv(c, c, 3, wn)
            self.l2_b2_3x3 = _conv(3 * c, c, 3, wn)
        self.l3_1x1 = _conv(2 * c, c, 1, wn)
        self.act = nn.ReLU(inplace=True)
        # Eq. 18's own skip M_n = beta * M_{n-1} + f3, beta learnable from 1 [paper: "all lambda ... set to 1";
        # beta's start is not given, inf: the same]; only in the literal reading, which double-counts it.
        self.beta = nn.Parameter(torch.ones(1)) if literal_skip else None

    def forward(self, m: torch.Tensor) -> torch.Tensor:
        act = self.act
        f11 = act(self.l1_1x1(m))
        if self.shared:
            f12 = act(self.l1_3x3(f11))
            f13 = act(self.l1_3x3_3x3(f12))
        else:
            f12 = act(self.l1_3x3(act(self.l1_b2_1x1(m))))
            f13 = act(self.l1_3x3_3x3(act(self.l1_b3_3x3(act(self.l1_b3_1x1(m))))))
        level1 = torch.cat([f11, f12, f13], dim=1)
        f21 = act(self.l2_3x3(level1))
        f22 = act(self.l2_3x3_3x3(f21 if self.shared else act(self.l2_b2_3x3(level1))))
        f3 = self.l3_1x1(torch.cat([f21, f22], dim=1))
        return f3 if self.beta is None else self.beta * m + f3


class SingleScaleUnit(nn.Module):
    """Table 1's baseline unit: "a single-scale convolution kernel of 3x3 as the feature extraction module"
    [paper]; its layout is not given [inf: 3x3 -> ReLU -> 3x3, the smallest unit that keeps the block's
    weighted skips, attention and depth of blocks unchanged, so only multi-scale extraction is removed]."""

    def __init__(self, channels: int, literal_skip: bool = False, weight_norm: bool = True):
        super().__init__()
        self.conv1 = _conv(channels, channels, 3, weight_norm)
        self.conv2 = _conv(channels, channels, 3, weight_norm)
        self.act = nn.ReLU(inplace=True)
        self.beta = nn.Parameter(torch.ones(1)) if literal_skip else None

    def forward(self, m: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.act(self.conv1(m)))
        return out if self.beta is None else self.beta * m + out


class MSFEB(nn.Module):
    """Multi-scale feature extraction block, Eqs. 6-8: F_{d,B} = lam_B F_{d,B-1} + H(F_{d,B-1}) for B = 1..5,
    F_d = CA(lam_out F_{d,5} + lam_in F_{d-1}); every lambda learnable, initialised to 1 [paper]. Eq. 8's
    lambda_{d,5} is its own scalar, not Eq. 7's (the text reuses the symbol) [spec 2.6 #2]."""

    def __init__(self, channels: int, units: int = 5, unit: str = "funnel", branches: str = "shared",
                 skips: str = "merged", eca_k: int = 5, weight_norm: bool = True):
        super().__init__()
        literal = skips == "literal"
        if unit == "funnel":
            self.units = nn.ModuleList(FunnelUnit(channels, branches, literal, weight_norm) for _ in range(units))
        elif unit == "single-scale":
            self.units = nn.ModuleList(SingleScaleUnit(channels, literal, weight_norm) for _ in range(units))
        else:
            raise ValueError(f"unit must be 'funnel' or 'single-scale', got {unit!r}")
        self.lam = nn.Parameter(torch.ones(units))
        self.lam_out = nn.Parameter(torch.ones(1))
        self.lam_in = nn.Parameter(torch.ones(1))
        self.attention = EfficientChannelAttention(eca_k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for lam, unit in zip(self.lam, self.units, strict=True):
            out = lam * out + unit(out)
        return self.attention(self.lam_out * out + self.lam_in * x)


class RefinementBlock(nn.Module):
    """RB, Eq. 19: I_SR2 = I_SR1 * sigmoid(H_1x1(ReLU(H_3x3(I_SR1)))) + I_SR1 [paper]; hidden width not
    given [spec: 64, about 2K params either way]."""

    def __init__(self, channels: int = 64, image_channels: int = 3, init: str = "near-identity"):
        super().__init__()
        if init not in RB_INITS:
            raise ValueError(f"init must be one of {RB_INITS}, got {init!r}")
        self.conv3x3 = nn.Conv2d(image_channels, channels, 3, padding=1)
        self.conv1x1 = nn.Conv2d(channels, image_channels, 1)
        self.act = nn.ReLU(inplace=True)
        if init == "near-identity":  # the gate starts at sigmoid(-5) ~ 0.007 everywhere: I_SR2 ~ 1.007 I_SR1
            nn.init.zeros_(self.conv1x1.weight)
            nn.init.constant_(self.conv1x1.bias, RB_GATE_BIAS)

    def forward(self, coarse: torch.Tensor) -> torch.Tensor:
        return coarse * torch.sigmoid(self.conv1x1(self.act(self.conv3x3(coarse)))) + coarse


class MESR(nn.Module):
    """MESR for one scale. ``output``: ``"auto"`` returns (coarse, refined) in training mode (the two terms
    of the loss, Eq. 20) and the refined image in eval mode; ``"refined"``, ``"coarse"``, ``"both"`` fix it
    (evaluation of either stage). Without the RB (``refine=False``) the coarse image is the only output.
    Initialisation: PyTorch's defaults except the RB's gate (``rb_init``) [inf: the paper gives none]; every lambda
    starts at 1 [paper]."""

    def __init__(
        self,
        scale: int,
        width: int = 27,  # C, not given; 27 fits "nearly 1/6 fewer parameters than MSRN/DASR" (~4.9M) [spec 2.4]
        blocks: int = 24,  # N = 24 [paper]
        units: int = 5,  # "each MSFEB contains five BFE modules" [paper]
        unit: str = "funnel",  # "single-scale": Table 1's baseline extractor [paper; layout inf]
        branches: str = "shared",  # the equations' shared convs [paper Eqs. 12-16; spec 2.6 #3]
        skips: str = "merged",  # Eq. 18's beta merged into Eq. 7's lambda; "literal" explodes at init [spec 2.6 #1]
        eca_k: int = 5,  # "In practice, N = 24 and k = 5" [paper]
        weight_norm: bool = True,  # WN on MSFEB and GFFB convs [paper; scope spec 2.6 #6]
        rffb: bool = True,  # GFFB + global residual (Table 1's "+RFFB") [paper]
        refine: bool = True,  # the second stage (Table 1's "+RB") [paper]
        rb_channels: int = 64,  # [spec 2.1]
        # [inf: the paper gives no init] PyTorch's gates at ~sigmoid(0), starting I_SR2 at ~1.5 I_SR1: a smoke run
        # with it was at 24.4 dB on Set5 x2 after 300 iterations; near-identity starts RB as I_SR2 ~ I_SR1.
        rb_init: str = "near-identity",
        rgb_mean: bool = True,  # subtract / add the DIV2K mean [spec 2.1: EDSR/MSRN-codebase convention]
        # [inf: the paper has no mean shift, so it does not say] "centred": Eq. 19 on I_SR1 - mean, the gate scales
        # contrast; "image" can only brighten (I_SR2 >= I_SR1), and an RB trained there on a frozen x2 first stage
        # never beat I_SR1 (+0.000 dB at best) where centred gained +0.076 dB (reproductions/mesr/rb_probe.py).
        rb_space: str = "centred",
        output: str = "auto",  # [inf: the harness trains on every output and evaluates one image]
    ):
        super().__init__()
        if skips not in SKIPS:
            raise ValueError(f"skips must be one of {SKIPS}, got {skips!r}")
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
        if not refine and output in ("refined", "both"):
            raise ValueError(f"output {output!r} needs the refinement block (refine=True)")
        if rb_space not in RB_SPACES:
            raise ValueError(f"rb_space must be one of {RB_SPACES}, got {rb_space!r}")
        if scale not in (2, 3, 4):
            raise ValueError(f"MESR has x2, x3 and x4 upsamplers, not x{scale}")
        self.scale, self.output, self.rffb, self.rb_space = scale, output, rffb, rb_space
        self.register_buffer("mean", torch.tensor(DIV2K_RGB_MEAN if rgb_mean else (0.0, 0.0, 0.0)).view(1, 3, 1, 1),
                             persistent=False)
        c = width
        self.head = nn.Conv2d(3, c, 3, padding=1)  # Eq. 1, ReLU in forward
        self.body = nn.ModuleList(MSFEB(c, units, unit, branches, skips, eca_k, weight_norm) for _ in range(blocks))
        if rffb:
            # GFFB: the blocks' outputs "adaptively fused" [paper], here each times a learnable scalar from 1
            # [spec 2.1], concatenated, then a 1x1 conv to C [paper, after MemNet]; no 3x3 after it [spec 2.6 #7].
            self.fusion_weights = nn.Parameter(torch.ones(blocks))
            self.fusion = _conv(blocks * c, c, 1, weight_norm)
        # Sub-pixel upsampler [paper]: x2/x3 one conv to s^2 C + shuffle, x4 two x2 steps [spec: EDSR layout].
        factors = [2, 2] if scale == 4 else [scale]
        self.upsample = nn.Sequential(*[m for f in factors for m in (nn.Conv2d(c, c * f * f, 3, padding=1),
                                                                     nn.PixelShuffle(f))])
        self.tail = nn.Conv2d(c, 3, 3, padding=1)  # features -> I_SR1 [spec 2.1]
        self.refine = RefinementBlock(rb_channels, init=rb_init) if refine else None

    def forward(self, lr: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        f0 = torch.relu(self.head(lr - self.mean))
        out, features = f0, []
        for block in self.body:
            out = block(out)
            features.append(out)
        if self.rffb:
            fused = self.fusion(torch.cat([w * f for w, f in zip(self.fusion_weights, features, strict=True)], dim=1))
            out = fused + f0  # global residual learning, Eq. 4
        coarse = self.tail(self.upsample(out)) + self.mean
        mode = self.output if self.output != "auto" else ("both" if self.training else "refined")
        if self.refine is None or mode == "coarse":
            return coarse
        refined = self.refine(coarse) if self.rb_space == "image" else self.refine(coarse - self.mean) + self.mean
        return (coarse, refined) if mode == "both" else refined

    def analytic_mult_adds(self, lr_h: int, lr_w: int) -> int:
        """Multiply-accumulates of every conv (all fvcore counts in this model), from the weight shapes."""
        lr, channels = lr_h * lr_w, self.head.out_channels
        total = self.head.weight.numel() * lr
        for block in self.body:
            total += sum(m.weight.numel() for m in block.units.modules() if isinstance(m, nn.Conv2d)) * lr
            total += block.attention.conv.weight.numel() * channels  # one k-tap conv per channel, on pooled values
        if self.rffb:
            total += self.fusion.weight.numel() * lr
        pixels = lr
        for module in self.upsample:
            if isinstance(module, nn.Conv2d):
                total += module.weight.numel() * pixels
            else:
                pixels *= module.upscale_factor ** 2
        total += self.tail.weight.numel() * pixels
        if self.refine is not None:
            total += (self.refine.conv3x3.weight.numel() + self.refine.conv1x1.weight.numel()) * pixels
        return int(total)
