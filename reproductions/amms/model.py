"""AMMS-Net (Lyn et al., arXiv 2004.03939, 2020), an unofficial reconstruction: no code was published.

The paper's text survives but its Figures 1-5 (the wiring) were lost in extraction, so the layout
follows our reconstruction (README, "Reconstructions"), and the attention blocks follow SAN
(Dai et al., CVPR 2019), which the paper cites for them (``daitao/SAN``, read for facts only)::

    x -> conv3x3 -> SFblock = F_SF -> K x AMMS -> conv3x3 (+ F_SF) -> SFblock -> sub-pixel x s -> conv3x3
    AMMS  = MSFF -> LS_AM -> MSFF
    MSFF  = x + conv1x1(concat(ReLU(conv1x1 x), ReLU(conv3x3 x), ReLU(conv5x5 x)))
    LS_AM = x + conv3x3(AM_M(... AM_1(x)))
    AM    = x + conv1x1(concat(NL(x), SO(x)))       NL: region non-local; SO: second-order channel attention

Tags: [paper] stated in the text; [spec] the spec's recommendation where the paper is silent;
[src: ...] read in SAN's public code; [inf] our inference, with its reason.

The non-local attention of one region of N pixels needs an N x N score matrix: 23.6 GB of float32 for
each of the four 320x240 regions of the largest Urban100 image at x2, twice that with its softmax.
``NonLocal`` therefore forms it in blocks of query rows, at most ``nl_chunk`` scores at a time: the
same function (every row's softmax sees all keys) with memory linear in N. Measured with
``reproductions.amms.memory`` (meta device): 0.74 GiB of activations for that image, against 176 GiB
with whole matrices.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from reproductions.baselines.edsr import DIV2K_RGB_MEAN, Upsampler

__all__ = ["AMMSNet", "NonLocal", "SecondOrderAttention", "covariance", "sqrtm_newton_schulz", "region_slices"]


def covariance(x: torch.Tensor) -> torch.Tensor:
    """[B, C, H, W] -> [B, C, C]: X I_hat X^T with I_hat = (I - 11^T / M) / M, M = H*W [src: daitao/SAN
    MPNCOV.py Covpool], computed as the centred product (the same matrix without the M x M I_hat)."""
    b, c, h, w = x.shape
    x = x.reshape(b, c, h * w)
    x = x - x.mean(dim=2, keepdim=True)
    return x @ x.transpose(1, 2) / (h * w)


def sqrtm_newton_schulz(sigma: torch.Tensor, iterations: int) -> torch.Tensor:
    """Square root of SPD matrices [B, C, C] by the coupled Newton-Schulz iteration [src: daitao/SAN MPNCOV.py
    Sqrtm]: A = S / tr(S); Y = A, Z = I; (iterations - 1) x {T = (3I - ZY) / 2; Y = YT; Z = TZ};
    Y = Y (3I - ZY) / 2; result Y sqrt(tr S). Plain autograd ops (SAN writes the backward by hand)."""
    if iterations < 1:
        raise ValueError(f"Newton-Schulz needs at least one iteration, got {iterations}")
    c = sigma.shape[-1]
    eye3 = 3 * torch.eye(c, dtype=sigma.dtype, device=sigma.device).expand_as(sigma)
    # A zero covariance (a spatially constant map) would divide 0 by 0; SAN has no guard [inf: keep it finite].
    trace = sigma.diagonal(dim1=-2, dim2=-1).sum(-1).clamp_min(1e-12).view(-1, 1, 1)
    y = sigma / trace
    z = None  # the identity: the first step needs no product with it
    for _ in range(iterations - 1):
        t = 0.5 * (eye3 - (y if z is None else z @ y))
        y, z = y @ t, t if z is None else t @ z
    y = 0.5 * (y @ (eye3 - (y if z is None else z @ y)))
    return y * trace.sqrt()


def region_slices(h: int, w: int, regions: int) -> list[tuple[slice, slice]]:
    """The ``regions`` x ``regions`` grid SAN's region-level non-local splits a map into (floor split)."""
    rows = [i * h // regions for i in range(regions + 1)]
    cols = [j * w // regions for j in range(regions + 1)]
    return [(slice(rows[i], rows[i + 1]), slice(cols[j], cols[j + 1])) for i in range(regions) for j in range(regions)]


class NonLocal(nn.Module):
    """Embedded-Gaussian non-local block [src: daitao/SAN san.py _NonLocalBlockND: g, theta, phi 1x1 convs to
    C/8, no sub-sampling, no BN, W zero-initialised]: z = W(softmax(theta^T phi) g) + x, run separately on
    each region of a ``regions`` x ``regions`` grid [src: san.py Nonlocal_CA, 2 x 2].

    ``chunk``: at most this many attention scores exist at once (query rows in blocks). It changes memory and
    speed, never the result; ``chunk=0`` forms each region's whole matrix (the reference the tests compare with).
    The default, 2^21, keeps a block's scores and probabilities (2 x 8 MB) in a 32 MB L3 cache: one non-local
    over four 256x192 regions took 7.3 s against 11.1 s at 2^24 and 14 s at 2^22 (2 threads, this machine)."""

    def __init__(self, channels: int, inter: int, regions: int = 2, chunk: int = 2**21):
        super().__init__()
        self.regions, self.chunk = regions, chunk
        self.g = nn.Conv2d(channels, inter, 1)
        self.theta = nn.Conv2d(channels, inter, 1)
        self.phi = nn.Conv2d(channels, inter, 1)
        self.W = nn.Conv2d(inter, channels, 1)
        nn.init.zeros_(self.W.weight)  # [src: san.py, bn_layer=False branch]
        nn.init.zeros_(self.W.bias)

    def attend(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = (int(v) for v in x.shape)
        n = h * w
        g = self.g(x).flatten(2).transpose(1, 2)  # [B, N, Ci]
        theta = self.theta(x).flatten(2).transpose(1, 2)  # [B, N, Ci]
        phi = self.phi(x).flatten(2)  # [B, Ci, N]
        rows = n if not self.chunk else max(1, self.chunk // (b * n))
        y = torch.cat([torch.softmax(theta[:, i:i + rows] @ phi, dim=-1) @ g for i in range(0, n, rows)], dim=1)
        return self.W(y.transpose(1, 2).reshape(b, -1, h, w))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        h, w = int(x.shape[-2]), int(x.shape[-1])  # ints: plain slices when fvcore traces
        parts = [x[:, :, rows, cols] for rows, cols in region_slices(h, w, self.regions)]
        if len({p.shape for p in parts}) == 1:  # equal regions: one batched call (each sample stays separate)
            outs = self.attend(torch.cat(parts)).split(b)
        else:
            outs = [self.attend(p) for p in parts]
        grid = [torch.cat(outs[i * self.regions:(i + 1) * self.regions], dim=3) for i in range(self.regions)]
        return torch.cat(grid, dim=2) + x


class SecondOrderAttention(nn.Module):
    """SOCA [src: daitao/SAN san.py SOCA]: covariance of the (centre-cropped to <= ``max_size`` per side)
    map, Newton-Schulz square root, mean over rows -> C-vector -> 1x1 (C -> C/r) ReLU 1x1 Sigmoid -> scale x."""

    def __init__(self, channels: int, reduction: int = 16, iterations: int = 5, max_size: int = 1000):
        super().__init__()
        self.iterations, self.max_size = iterations, max_size
        self.conv_du = nn.Sequential(nn.Conv2d(channels, channels // reduction, 1), nn.ReLU(inplace=True),
                                     nn.Conv2d(channels // reduction, channels, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = (int(v) for v in x.shape)
        top, left = max(0, (h - self.max_size) // 2), max(0, (w - self.max_size) // 2)
        sub = x[:, :, top:top + self.max_size, left:left + self.max_size]
        root = sqrtm_newton_schulz(covariance(sub), self.iterations)
        return x * self.conv_du(root.mean(dim=1).view(b, c, 1, 1))


class AttentionModule(nn.Module):
    """AM: non-local (NL) and second-order (SO) paths in parallel, fused [paper]; the fusion is the spec's
    concat + 1x1 + residual, or ``sum`` (NL(x) + SO(x)) [spec §3.4 #4]. A path switched off (Table 1) is
    left out; with both off the module is the identity."""

    def __init__(self, channels: int, non_local: bool, second_order: bool, fusion: str, nl_inter: int,
                 nl_regions: int, nl_chunk: int, so_reduction: int, ns_iterations: int, so_max_size: int):
        super().__init__()
        if fusion not in ("concat", "sum"):
            raise ValueError(f"fusion must be 'concat' or 'sum', got {fusion!r}")
        self.fusion = fusion
        self.nl = NonLocal(channels, nl_inter, nl_regions, nl_chunk) if non_local else None
        self.so = SecondOrderAttention(channels, so_reduction, ns_iterations, so_max_size) if second_order else None
        paths = int(non_local) + int(second_order)
        self.fuse = nn.Conv2d(paths * channels, channels, 1) if fusion == "concat" and paths else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [path(x) for path in (self.nl, self.so) if path is not None]
        if not outs:
            return x
        if self.fusion == "sum":
            return sum(outs[1:], outs[0])
        return x + self.fuse(torch.cat(outs, dim=1))


class LSAM(nn.Module):
    """LS_AM: M attention modules and a long skip connection [paper]; a closing 3x3 conv [spec: SAN LSRAG]."""

    def __init__(self, channels: int, n_am: int, **am):
        super().__init__()
        self.ams = nn.Sequential(*(AttentionModule(channels, **am) for _ in range(n_am)))
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(self.ams(x))


class MSFF(nn.Module):
    """Multi-scale feature fusion: parallel convs of ``kernels`` (1x1, 3x3, 5x5), each followed by ReLU [paper];
    concatenated, fused by a 1x1 conv, plus a local residual [spec: Fig. 2 lost]."""

    def __init__(self, channels: int, kernels: tuple[int, ...]):
        super().__init__()
        self.branches = nn.ModuleList(nn.Conv2d(channels, channels, k, padding=k // 2) for k in kernels)
        self.fuse = nn.Conv2d(len(kernels) * channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fuse(torch.cat([F.relu(branch(x)) for branch in self.branches], dim=1))


class SFBlock(nn.Module):
    """Shallow-feature block: 1x1 convs with ReLU between them and a local residual [paper]; depth 3 [spec]."""

    def __init__(self, channels: int, depth: int):
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(depth):
            layers += [nn.Conv2d(channels, channels, 1)] + ([nn.ReLU(inplace=True)] if i < depth - 1 else [])
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class AMMSBlock(nn.Module):
    """AMMS: two MSFF modules and one LS_AM [paper], in the order MSFF -> LS_AM -> MSFF [spec: Fig. 1 lost]."""

    def __init__(self, channels: int, kernels: tuple[int, ...], n_am: int, **am):
        super().__init__()
        self.msff1 = MSFF(channels, kernels)
        self.ls_am = LSAM(channels, n_am, **am)
        self.msff2 = MSFF(channels, kernels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.msff2(self.ls_am(self.msff1(x)))


class AMMSNet(nn.Module):
    def __init__(self, scale: int, channels: int = 64, n_amms: int = 4, n_am: int = 1, sf_depth: int = 3,
                 non_local: bool = True, second_order: bool = True, multi_scale: bool = True,
                 msff_kernels: tuple[int, ...] = (1, 3, 5), single_scale_kernels: tuple[int, ...] = (3,),
                 fusion: str = "concat", nl_reduction: int = 8, nl_regions: int = 2, nl_chunk: int = 2**21,
                 so_reduction: int = 16, ns_iterations: int = 5, so_max_size: int = 1000, rgb_range: float = 255.0):
        super().__init__()
        self.scale, self.rgb_range = scale, rgb_range
        self.register_buffer("mean", torch.tensor(DIV2K_RGB_MEAN).view(1, 3, 1, 1), persistent=False)
        self.head = nn.Conv2d(3, channels, 3, padding=1)
        self.sf_head = SFBlock(channels, sf_depth)
        kernels = tuple(msff_kernels) if multi_scale else tuple(single_scale_kernels)
        am = dict(non_local=non_local, second_order=second_order, fusion=fusion, nl_inter=channels // nl_reduction,
                  nl_regions=nl_regions, nl_chunk=nl_chunk, so_reduction=so_reduction, ns_iterations=ns_iterations,
                  so_max_size=so_max_size)
        self.body = nn.Sequential(*(AMMSBlock(channels, kernels, n_am, **am) for _ in range(n_amms)))
        self.body_conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.sf_tail = SFBlock(channels, sf_depth)  # "correct the feature in the tail" [paper]
        self.upsample = Upsampler(scale, channels)  # EDSR's sub-pixel upsampler [spec]
        self.conv_last = nn.Conv2d(channels, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Images in [0, 1] as the harness gives them; the network sees SAN's 0..255 minus the DIV2K mean
        # [paper: mean subtraction; src: SAN rgb_range 255, MeanShift]. This scale matters: the non-local
        # softmax is not scale-invariant.
        x = (x - self.mean) * self.rgb_range
        shallow = self.sf_head(self.head(x))
        y = self.sf_tail(self.body_conv(self.body(shallow)) + shallow)
        return self.conv_last(self.upsample(y)) / self.rgb_range + self.mean

    def analytic_mult_adds(self, lr_h: int, lr_w: int) -> int:
        """Multiply-accumulates of one forward pass at LR ``lr_h`` x ``lr_w``, counted as fvcore counts them:
        convs, the attention and covariance matmuls and the Newton-Schulz products; no elementwise ops."""
        pixels = lr_h * lr_w
        at = {id(self.conv_last): pixels * self.scale**2}  # the last conv runs at HR
        ups = [m for m in self.upsample if isinstance(m, nn.Conv2d)]
        at.update({id(conv): pixels * 4**i for i, conv in enumerate(ups)})  # x4: conv, shuffle 2, conv at 4x
        total = 0
        for module in self.modules():
            if isinstance(module, SecondOrderAttention):
                c = module.conv_du[0].in_channels
                m = min(lr_h, module.max_size) * min(lr_w, module.max_size)
                products = 1 if module.iterations == 1 else 3 * module.iterations - 3  # step one skips Z = I
                total += c * c * m + products * c**3
                at.update({id(conv): 1 for conv in module.conv_du if isinstance(conv, nn.Conv2d)})  # on a C-vector
            elif isinstance(module, NonLocal):
                for rows, cols in region_slices(lr_h, lr_w, module.regions):
                    n = (rows.stop - rows.start) * (cols.stop - cols.start)
                    total += 2 * n * n * module.g.out_channels  # theta^T phi, and the weighted sum of g
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                kernel = module.kernel_size[0] * module.kernel_size[1]
                total += kernel * module.in_channels * module.out_channels * at.get(id(module), pixels)
        return total
