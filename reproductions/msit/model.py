"""MSIT (Zhu et al., arXiv:2403.06536): multi-scale implicit transformer with RIM re-parameterisation.

Built from the paper, checked against the official code
(Jinchen2028/MSIT ``models/msit.py``, ``test_mod.py``) and CLIT, whose attention decoder MSIT forks.
Tags: [paper] the text, [src] the official code, [inf] our inference.

    LR -> (x - 0.5) / 0.5 -> encoder (EDSR-baseline or RDN, no upsampler) -> 1x1 conv 64 -> 256
       -> MSNO (FEM shift, multi-scale conv MSC, scale interaction SIM, Hadamard with a 1x1 projection)
       -> Q = multi-scale projection (MSSA), V = 3x3 conv; K is Q read at the neighbours [paper+src]
    per HR query: 8-head attention over the 7x7 nearest LR positions with a sinusoidal position bias;
    the 49 re-weighted values are concatenated with the relative cell -> MLP -> RGB residual
       + bilinear sample of the LR (border padding)                                     (Eq. 1)

Three forms of the multi-scale convolutions (``conv``): ``plain`` (stage A of training, the paper's
8.1M model), ``rim`` (stage B: W' = W + DWConv3x3(W) * Scale(W) from a frozen basis W, the paper's
6.0M trainable parameters) and ``refconv`` (W' = W + DWConv3x3(W), Table III's "Ref" column).
``reparameterize()`` bakes W' into a plain convolution: the deployed model has 8,126,308 parameters.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from bench import BenchError
from reproductions.baselines.liif import make_coord, sample_nearest

__all__ = ["MSIT", "KernelRemapConv", "FEM", "MSNO", "MultiScaleProjection", "CONV_KINDS"]

CONV_KINDS = ("plain", "rim", "refconv")


def msit_init(module: nn.Module) -> None:
    """The official init of every conv inside MSNO and the Q projection: N(0, 2 / fan_out), zero bias [src]."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
            nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class KernelRemapConv(nn.Module):
    """A k x k conv whose kernel is remapped from a frozen basis ``weight`` (a buffer, loaded from stage A).

    RIM [paper Eq. 11; src test_mod.RiM]: W' = W + DWConv3x3(W) * Scale(W), where the 2-D kernels of W are
    the channels of a one-sample image, DWConv3x3 is depth-wise over them and Scale is one scalar per kernel
    (the paper's "Linear"). RefConv [src Aiolus-X/RefConv RepConv]: W' = W + DWConv3x3(W), no Scale.
    Each kernel is remapped from its own k x k neighbourhood only (groups = number of kernels).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, gate: bool = True):
        super().__init__()
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        kernels = in_channels * out_channels
        self.register_buffer("weight", torch.zeros(out_channels, in_channels, kernel_size, kernel_size))
        self.convmap = nn.Conv2d(kernels, kernels, 3, padding=1, groups=kernels, bias=False)
        self.linear = nn.Conv2d(kernels, kernels, 1, groups=kernels, bias=False) if gate else None
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.deployed = False

    def remapped_weight(self) -> torch.Tensor:
        basis = self.weight.view(1, -1, self.kernel_size, self.kernel_size)
        delta = self.convmap(basis)
        if self.linear is not None:
            delta = delta * self.linear(basis)
        return self.weight + delta.view_as(self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.deployed:
            return self.fused(x)
        return F.conv2d(x, self.remapped_weight(), self.bias, padding=self.kernel_size // 2)

    @torch.no_grad()
    def reparameterize(self) -> None:
        """Bake W' into a plain conv: "the new weight W' will be reloaded" for inference [paper]."""
        weight = self.remapped_weight()
        self.fused = nn.Conv2d(self.in_channels, self.out_channels, self.kernel_size,
                               padding=self.kernel_size // 2).to(weight.device, weight.dtype)
        self.fused.weight.copy_(weight)
        self.fused.bias.copy_(self.bias)
        del self.convmap, self.linear, self.weight, self.bias
        self.deployed = True


def make_conv(kind: str, in_channels: int, out_channels: int, kernel_size: int) -> nn.Module:
    if kind == "plain":
        return nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
    if kind in ("rim", "refconv"):
        return KernelRemapConv(in_channels, out_channels, kernel_size, gate=kind == "rim")
    raise BenchError(f"conv must be one of {', '.join(CONV_KINDS)}, got {kind!r}")


class FEM(nn.Module):
    """Feature enhancement: every channel shifted by one pixel, circularly ("removed parts fill the
    other side" [paper]), as a fixed one-hot depth-wise conv [src test_mod.LEM].

    The direction follows the channel index mod 8, interleaved [src]: 0 left, 1 right, 2 up, 3 down, and
    4-7 the sum of an axial and a diagonal shift (the [c::4] and [c::8] masks overlap in the official code;
    kept as is). The official stride ``mix_margin`` is read with ``.item()`` and so never learns: a fixed
    stride of 1 here, the parameter kept (frozen) so that counts match the paper's.
    """

    def __init__(self, channels: int):
        super().__init__()
        if channels % 8:
            raise BenchError(f"FEM needs a multiple of 8 channels, got {channels}")
        self.channels = channels
        self.mix_margin = nn.Parameter(torch.tensor(1.0), requires_grad=False)
        mask = torch.zeros(channels, 1, 3, 3)
        mask[3::4, 0, 0, 1] = 1
        mask[2::4, 0, 2, 1] = 1
        mask[1::4, 0, 1, 0] = 1
        mask[0::4, 0, 1, 2] = 1
        mask[4::8, 0, 0, 2] = 1
        mask[5::8, 0, 2, 0] = 1
        mask[6::8, 0, 2, 2] = 1
        mask[7::8, 0, 0, 0] = 1
        self.mask = nn.Parameter(mask, requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="circular"), self.mask, groups=self.channels)


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """The same image in channels-last memory, where oneDNN runs MSC's large kernels fast: its NCHW path for
    the 33x33 one took 127 s at a 512x384 LR against 0.46 s channels-last (0.56 s and 0.12 s at 256x192)."""
    return x.contiguous(memory_format=torch.channels_last)


class MSNO(nn.Module):
    """Multi-scale neural operator: Z'' = proj(SIM(MSC(FEM(s(x)))) * v(x)), no residual [paper Eqs. 2-6; src amsno].

    MSC splits the channels into ``groups`` (t) groups; group i gets a dense conv of kernel 3 + 2i [src: not
    depth-wise]. SIM = 1x1 grouped conv to 2C (within-scale), BatchNorm [src, not in the paper], GELU,
    1x1 conv back to C (cross-scale). ``sim=False`` (Table IV "SIM W/O", not described) puts one 1x1 conv
    in its place [inf: the paper's Fig. 7 compares SIM with a regular convolution].
    """

    def __init__(self, dim: int, groups: int, conv: str, fem: bool = True, sim: bool = True, expand: int = 2):
        super().__init__()
        if dim % groups:
            raise BenchError(f"MSC needs the {dim} channels to split into {groups} groups")
        width = dim // groups
        self.v = nn.Conv2d(dim, dim, 1, bias=False)  # the paper's W_Z [src: a 1x1 projection of the input]
        self.s = nn.Conv2d(dim, dim, 1, bias=False)  # [src; not in the paper]
        self.fem = FEM(dim) if fem else None
        self.msc = nn.ModuleList(make_conv(conv, width, width, 3 + 2 * i) for i in range(groups))
        if sim:
            self.sim = nn.Sequential(nn.Conv2d(dim, dim * expand, 1, groups=groups), nn.BatchNorm2d(dim * expand),
                                     nn.GELU(), nn.Conv2d(dim * expand, dim, 1))
        else:
            self.sim = nn.Conv2d(dim, dim, 1)
        self.proj = nn.Conv2d(dim, dim, 1)
        msit_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.s(x)
        if self.fem is not None:
            s = self.fem(s)
        parts = s.chunk(len(self.msc), dim=1)
        s = torch.cat([conv(channels_last(part)) for conv, part in zip(self.msc, parts, strict=True)], dim=1)
        return self.proj(self.sim(s) * self.v(x))


class MultiScaleProjection(nn.Module):
    """MSSA's Q (and K) projection [src test_mod.MsC]: 1x1, split into n groups with kernels 3, 5, ..., 1 + 2n,
    then 1x1 grouped to 2C (groups = C / n [src], not n), BatchNorm, GELU, 1x1 back to C."""

    def __init__(self, dim: int, matrices: int, conv: str):
        super().__init__()
        if dim % matrices:
            raise BenchError(f"the Q projection needs the {dim} channels to split into {matrices} groups")
        width = dim // matrices
        self.proj0 = nn.Conv2d(dim, dim, 1)
        self.convs = nn.ModuleList(make_conv(conv, width, width, 3 + 2 * i) for i in range(matrices))
        self.mix = nn.Sequential(nn.Conv2d(dim, dim * 2, 1, groups=width), nn.BatchNorm2d(dim * 2), nn.GELU(),
                                 nn.Conv2d(dim * 2, dim, 1))
        msit_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = self.proj0(x).chunk(len(self.convs), dim=1)
        return self.mix(torch.cat([conv(channels_last(part)) for conv, part in zip(self.convs, parts, strict=True)],
                                  dim=1))


class SinusoidalBias(nn.Module):
    """CLIT's position bias [src positionencoder 'sinusoid', scale 10, 64 dims]: the (row, column) offset in
    LR pixels times 16 frequencies 2^linspace(0, 10) - 1 per axis, sin and cos, linear to one bias per head."""

    def __init__(self, heads: int, frequencies: int = 16, max_log2: float = 10.0):
        super().__init__()
        self.register_buffer("frequencies", 2 ** torch.linspace(0, max_log2, frequencies) - 1, persistent=False)
        self.proj = nn.Linear(4 * frequencies, heads)

    def forward(self, offset: torch.Tensor) -> torch.Tensor:
        phase = torch.cat([offset[..., :1] * self.frequencies, offset[..., 1:] * self.frequencies], dim=-1)
        return self.proj(torch.cat([torch.sin(phase), torch.cos(phase)], dim=-1))


def mlp(in_dim: int, hidden: tuple[int, ...], out_dim: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(in_dim, width), nn.GELU()]
        in_dim = width
    return nn.Sequential(*layers, nn.Linear(in_dim, out_dim))


def multiply_into(out: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """out = a * b, written straight into ``out`` where no gradient is needed; through a temporary in training
    (autograd does not differentiate ``out=``)."""
    if torch.is_grad_enabled() and (a.requires_grad or b.requires_grad):
        return out.copy_(a * b)
    return torch.mul(a, b, out=out)


class MSIT(nn.Module):
    """MSIT on any encoder with ``out_dim``. ``forward(lr)`` renders the whole image at ``scale``, ``chunk``
    queries at a time; ``forward(lr, coord, cell)`` returns RGB at the (B, Q, 2) coordinates (training).
    Coordinates and cells follow LIIF (``reproductions.baselines.liif``); inputs and outputs are [0, 1] RGB.
    """

    def __init__(self, encoder: nn.Module, scale: float, dim: int = 256, heads: int = 8, radius: int = 3,
                 conv: str = "rim", msc_groups: int = 16, proj_matrices: int = 4, fem: bool = True, sim: bool = True,
                 msno: bool = True, attention: str = "multiscale", hidden: tuple[int, ...] = (256,) * 4,
                 chunk: int = 30000):
        super().__init__()
        if conv not in CONV_KINDS:
            raise BenchError(f"conv must be one of {', '.join(CONV_KINDS)}, got {conv!r}")
        if attention not in ("multiscale", "conventional"):
            raise BenchError(f"attention must be 'multiscale' or 'conventional', got {attention!r}")
        self.scale, self.heads, self.radius, self.chunk = scale, heads, radius, chunk
        self.encoder = encoder
        self.conv_ch = nn.Conv2d(encoder.out_dim, dim, 1)  # [src; CLIT has a 3x3 here]
        self.msno = MSNO(dim, msc_groups, conv, fem, sim) if msno else None
        if attention == "multiscale":
            self.q_proj = MultiScaleProjection(dim, proj_matrices, conv)
            self.k_proj = None  # K is Q read at the neighbours [paper+src]
        else:  # "conventional SA" of Table III: CLIT's separate 3x3 Q and K [src clit.py]
            self.q_proj = nn.Conv2d(dim, dim, 3, padding=1)
            self.k_proj = nn.Conv2d(dim, dim, 3, padding=1)
        self.v_proj = make_conv(conv, dim, dim, 3)  # one 3x3 conv, RIM in stage B [src; the paper's Eq. 9 differs]
        self.position_bias = SinusoidalBias(heads)
        self.mlp = mlp(dim * (2 * radius + 1) ** 2 + 2, hidden, 3)

    def features(self, lr: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(normalised LR, Q, K, V) maps of a [0, 1] LR image."""
        x = (lr - 0.5) / 0.5
        feat = self.conv_ch(self.encoder(x))
        if self.msno is not None:
            feat = self.msno(feat)
        q = self.q_proj(feat)
        k = q if self.k_proj is None else self.k_proj(feat)
        return x, q, k, self.v_proj(feat)

    def decode(self, maps: tuple[torch.Tensor, ...], coord: torch.Tensor, cell: torch.Tensor) -> torch.Tensor:
        """Normalised RGB (B, Q, 3) at ``coord`` (B, Q, 2) for cells ``cell`` (B, Q, 2)."""
        x, q_map, k_map, v_map = maps
        b, dim, h, w = q_map.shape
        queries, heads, r = coord.shape[1], self.heads, self.radius
        size = coord.new_tensor([h, w])
        xy = coord.flip(-1).unsqueeze(2)  # grid_sample takes (x, y) = (column, row)

        lr_coord = make_coord((h, w), coord.device, coord.dtype).permute(2, 0, 1).expand(b, 2, h, w)
        centre = sample_nearest(lr_coord, coord)  # the LR pixel centre nearest each query
        steps = torch.arange(-r, r + 1, device=coord.device, dtype=coord.dtype)
        offsets = torch.stack(torch.meshgrid(steps * 2 / h, steps * 2 / w, indexing="ij"), dim=-1).view(1, 1, -1, 2)
        neighbours = (centre.unsqueeze(2) + offsets).flip(-1)  # (B, Q, 49, 2) as (x, y); outside reads zeros
        area = offsets.shape[2]

        # Sampled maps stay as grid_sample gives them, [B, heads, C/heads, Q, 49]: reading them in place saves
        # copying 1.5 GB per map for every 30,000 queries.
        split = (b, heads, dim // heads, queries, -1)
        q = F.grid_sample(q_map, xy, mode="bilinear", align_corners=False).view(split)  # ..., 1
        k = F.grid_sample(k_map, neighbours, mode="nearest", align_corners=False).view(split)  # ..., 49
        v = F.grid_sample(v_map, neighbours, mode="nearest", align_corners=False).view(split)
        logits = (q * k).sum(2).permute(0, 2, 3, 1) / math.sqrt(dim // heads)  # B, Q, 49, heads
        offset = (coord.unsqueeze(2) - neighbours.flip(-1)) * size  # query minus neighbour, in LR pixels
        attn = torch.softmax(logits + self.position_bias(offset), dim=2)  # over the 49 neighbours, per head
        # Re-weight each neighbour's value per head and concatenate the 49 of them (no sum), then the cell [src],
        # written straight into the MLP's input
        mlp_in = coord.new_empty(b, queries, area * dim + 2)
        multiply_into(mlp_in[..., : area * dim].view(b, queries, area, heads, dim // heads),
                      v.permute(0, 3, 4, 1, 2), attn.unsqueeze(-1))
        mlp_in[..., area * dim:] = cell * size
        pred = self.mlp(mlp_in)
        skip = F.grid_sample(x, xy, mode="bilinear", padding_mode="border", align_corners=False)
        return pred + skip[:, :, :, 0].transpose(1, 2)

    def forward(self, lr: torch.Tensor, coord: torch.Tensor | None = None,
                cell: torch.Tensor | None = None) -> torch.Tensor:
        maps = self.features(lr)
        if coord is not None:
            return self.decode(maps, coord, cell) * 0.5 + 0.5
        b, _, h, w = lr.shape
        out_h, out_w = round(int(h) * self.scale), round(int(w) * self.scale)  # int(): sizes are tensors when traced
        coord = make_coord((out_h, out_w), lr.device, lr.dtype).view(1, -1, 2).expand(b, -1, -1)
        cell = coord.new_tensor([2 / out_h, 2 / out_w]).expand_as(coord)
        pred = torch.cat([self.decode(maps, coord[:, i:i + self.chunk], cell[:, i:i + self.chunk])
                          for i in range(0, coord.shape[1], self.chunk)], dim=1)
        return (pred * 0.5 + 0.5).transpose(1, 2).reshape(b, 3, out_h, out_w)

    def load_pretrained(self, state: dict[str, torch.Tensor]) -> None:
        """Start stage B from a stage-A (plain conv) state_dict: each plain conv's weight becomes the frozen
        basis of its RIM/RefConv, everything else loads as is, and only the remap weights start fresh.
        Raises if any basis kernel did not arrive (a renamed module would silently leave W = 0 [spec §2.2])."""
        missing, unexpected = self.load_state_dict(state, strict=False)
        fresh = [k for k in missing if k.endswith(("convmap.weight", "linear.weight"))]
        problems = sorted(set(missing) - set(fresh)) + sorted(unexpected)
        if problems:
            raise BenchError(f"the stage-A weights do not fit this model: {', '.join(problems[:5])}"
                             f"{' ...' if len(problems) > 5 else ''}")
        for name, module in self.named_modules():
            if isinstance(module, KernelRemapConv) and not module.deployed:
                source = state.get(f"{name}.weight")
                if source is None or not torch.equal(module.weight, source.to(module.weight)) or not source.any():
                    raise BenchError(f"basis kernel {name}.weight did not arrive from the stage-A weights")
