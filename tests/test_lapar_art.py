"""LAPAR-A (NeurIPS 2020) and ART-S (ICLR 2023): sizes against MSRA-SR's Tables 1 and 3, and the forward passes
against second computations of the same definitions on tiny inputs."""

import math

import pytest
import torch
import torch.nn.functional as F

from bench import registry
from bench.complexity import fvcore_mult_adds, lr_size
from bench.reported import reported_numbers
from reproductions.baselines.art import ARTBlock
from reproductions.baselines.lapar import LAPAR, WNConv2d

PUBLISHED = {(r.model, int(r.scale), r.metric): r for r in reported_numbers()
             if r.paper == "msra" and r.model in ("lapar-a", "art-s") and r.metric in ("params", "mult_adds")}


def params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ---- LAPAR-A ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("scale", [2, 4])
def test_lapar_params_match_published(scale):
    assert abs(params(LAPAR(scale)) - PUBLISHED[("lapar-a", scale, "params")].value) < 500  # printed in K


def test_lapar_count_holds_weight_norm_gains_and_not_the_dictionary():
    """548K (x2) and 659K (x4) need the weight-norm gains g counted and the 72 5x5 filters left out."""
    for scale in (2, 4):
        model, published = LAPAR(scale), PUBLISHED[("lapar-a", scale, "params")].value
        gains = sum(m.weight_g.numel() for m in model.modules() if isinstance(m, WNConv2d))
        dictionary = model.decom_conv.weight.numel()
        assert "decom_conv.weight" in model.state_dict() and dictionary == 72 * 25
        assert round(params(model), -3) == published
        assert round(params(model) - gains, -3) != published
        assert round(params(model) + dictionary, -3) != published


def test_lapar_x3_published_params_are_a_misprint_of_594k():
    """x2, x3 and x4 differ only in the upsampler conv (32 -> 32 s^2 channels): x3 is x2 + 46,400 parameters, so
    the printed 544K (below x2's 548K) cannot be; 594K, one digit away, is what the authors' x3 config has."""
    x2, x3 = params(LAPAR(2)), params(LAPAR(3))
    assert x3 - x2 == (9 - 4) * 32 * (32 * 9 + 2)  # weight_v, weight_g and bias of 160 more output channels
    printed_x2, printed_x3 = (PUBLISHED[("lapar-a", s, "params")].value for s in (2, 3))
    assert printed_x3 < printed_x2
    assert abs(x3 - (printed_x3 + 50e3)) < 500


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_lapar_published_mult_adds_are_the_weight_network_at_720p(scale):
    """171.0 / 114.0 / 94.0 G: the weight network's convs with their bias adds (thop's rule), at LAPAR's own
    1280x720 HR (not MSRA-SR's stated 1024x720), rounded to whole G."""
    model = LAPAR(scale)
    published = PUBLISHED[("lapar-a", scale, "mult_adds")].value
    assert round(model.analytic_mult_adds(*lr_size((1280, 720), scale)) / 1e9) == published / 1e9
    assert model.analytic_mult_adds(*lr_size((1024, 720), scale)) < 0.85 * published  # 1024x720 is 20% less


def test_lapar_fvcore_count_is_the_convs_and_the_dictionary():
    """fvcore sees every conv (the weight network's and the dictionary's F.conv2d) but neither bicubic nor the
    weighted sum: on a small input it equals the analytic count without bias adds, plus 72 * 25 * 3 per HR pixel."""
    model, (h, w), s = LAPAR(3), (7, 9), 3
    counted = fvcore_mult_adds(model, torch.rand(1, 3, h, w))
    convs = [m for m in model.w_conv.modules() if isinstance(m, WNConv2d)]
    tail = {id(m) for m in model.w_conv.tail.modules()}
    biases = sum(m.bias.numel() * h * w * (s * s if id(m) in tail else 1) for m in convs)
    assert counted["mult_adds"] == model.analytic_mult_adds(h, w) - biases + 72 * 25 * 3 * h * w * s * s
    assert "aten::upsample_bicubic2d" in counted["skipped_ops"]


def test_weight_norm_conv_equals_torch_weight_norm():
    torch.manual_seed(0)
    ours = WNConv2d(4, 6, 3)
    with torch.no_grad():
        ours.weight_g.mul_(torch.rand_like(ours.weight_g) + 0.5)
    reference = torch.nn.utils.parametrizations.weight_norm(torch.nn.Conv2d(4, 6, 3, padding=1))
    with torch.no_grad():
        reference.parametrizations.weight.original0.copy_(ours.weight_g)
        reference.parametrizations.weight.original1.copy_(ours.weight_v)
        reference.bias.copy_(ours.bias)
    x = torch.rand(1, 4, 5, 7)
    torch.testing.assert_close(ours(x), reference(x))


def test_lapar_output_is_the_coefficient_weighted_sum_of_dictionary_filtered_bicubic_patches():
    torch.manual_seed(0)
    model, s = LAPAR(2).eval(), 2
    with torch.no_grad():
        model.decom_conv.weight.normal_()
    x = torch.rand(2, 3, 6, 5)
    with torch.no_grad():
        out = model(x)
        coefficients = model.w_conv(x)  # [B, 72, sH, sW]
    bicubic = F.interpolate(x, scale_factor=s, mode="bicubic", align_corners=False)
    patches = F.unfold(F.pad(bicubic, (2, 2, 2, 2), mode="reflect"), 5).view(2, 3, 25, -1)  # [B, 3, 25, sH*sW]
    filters = model.decom_conv.weight.view(72, 25)
    expected = torch.einsum("kt,bctp,bkp->bcp", filters, patches, coefficients.flatten(2)).view(2, 3, 12, 10)
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-4)


# ---- ART-S -----------------------------------------------------------------------------------------------------

def test_art_s_params_match_published():
    assert abs(params(registry.make("art-s", scale=4)) - PUBLISHED[("art-s", 4, "params")].value) < 0.05e6


def art_mult_adds(model, h: int, w: int) -> int:
    """fvcore's count of ART written out: conv and linear MACs, both attention matmuls, the position-bias MLP on
    every relative offset, and 5 per element for each LayerNorm; attention runs on the blocks' zero-padded map."""
    c, s = model.conv_first.out_channels, model.scale
    p = h * w
    factors = [3] if s == 3 else [2] * (s.bit_length() - 1)
    up = 0
    pixels = p
    for f in factors:
        up += pixels * 64 * 64 * f * f * 9
        pixels *= f * f
    total = p * 27 * c + p * 9 * c * c + p * 9 * c * 64 + up + pixels * 64 * 3 * 9 + 2 * 5 * c * p
    for layer in model.layers:
        total += p * 9 * c * c
        for block in layer.residual_group.blocks:
            hidden, heads, pd = block.mlp.fc1.out_features, block.attn.heads, block.attn.pos.pos_dim
            sparse, step = block.sparse, block.window
            if min(h, w) <= step:
                sparse, step = False, min(h, w)
            step = block.interval if sparse else step
            hp, wp = math.ceil(h / step) * step, math.ceil(w / step) * step
            total += hp * wp * 4 * c * c + p * 2 * c * hidden + 2 * 5 * c * p  # q, k, v, proj on padded tokens
            gh, gw = (hp // step, wp // step) if sparse else (step, step)
            groups, n = hp * wp // (gh * gw), gh * gw
            total += groups * n * n * 2 * c
            offsets = (2 * gh - 1) * (2 * gw - 1)
            total += offsets * (2 * pd + 3 * 5 * pd + 2 * pd * pd + pd * heads)
    return total


@pytest.mark.parametrize("lr", [(16, 24), (13, 19)])  # whole windows; and padded by both dense and sparse blocks
def test_art_mult_adds_formula_equals_fvcore_on_small_inputs(lr):
    torch.manual_seed(0)
    small = registry.make("art-s", scale=4, embed_dim=32, depths=(2, 2), heads=(2, 2), intervals=(8, 8))
    counted = fvcore_mult_adds(small, torch.rand(1, 3, *lr))
    assert counted["mult_adds"] == art_mult_adds(small, *lr)


def test_art_s_published_mult_adds_are_at_msra_srs_own_lr_size():
    """941 G: fvcore's count at LR 272x192, i.e. (HR // 4 // 16 + 1) * 16 per side of 1024x720 (MSRA-SR's window
    of 16, the size its own model is counted at); neither the plain LR (256x180) nor ART's window 8 (264x184)."""
    with torch.device("meta"):
        model = registry.make("art-s", scale=4)
    published = PUBLISHED[("art-s", 4, "mult_adds")].value
    assert lr_size((1024, 720), 4, "swinir-16") == (192, 272)
    assert round(art_mult_adds(model, 192, 272) / 1e9) == published / 1e9
    for other in (lr_size((1024, 720), 4), lr_size((1024, 720), 4, "swinir", 8)):
        assert abs(art_mult_adds(model, *other) - published) / published > 0.05


def reference_block(block: ARTBlock, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """One ART block, group by group with explicit softmax: sparse groups by strided slicing of the zero-padded
    map, dense ones as window crops; the bias looked up offset by offset; padded keys at -1e6."""
    b, _, c = x.shape
    attn, heads = block.attn, block.attn.heads
    step = block.interval if block.sparse else block.window
    hp, wp = math.ceil(h / step) * step, math.ceil(w / step) * step
    y = torch.zeros(b, hp, wp, c)
    y[:, :h, :w] = block.norm1(x).view(b, h, w, c)
    rows, cols = torch.meshgrid(torch.arange(hp), torch.arange(wp), indexing="ij")
    if block.sparse:
        groups = [(slice(i, None, step), slice(j, None, step)) for i in range(step) for j in range(step)]
    else:
        groups = [(slice(i, i + step), slice(j, j + step)) for i in range(0, hp, step) for j in range(0, wp, step)]
    out = torch.zeros(b, hp, wp, c)
    for rs, cs in groups:
        r, q = rows[rs, cs].flatten(), cols[rs, cs].flatten()
        gh, gw = rows[rs, cs].shape
        gy, gx = torch.meshgrid(torch.arange(gh), torch.arange(gw), indexing="ij")
        gy, gx = gy.flatten(), gx.flatten()
        offsets = torch.stack([gy[:, None] - gy[None, :], gx[:, None] - gx[None, :]], dim=-1).float()
        bias = attn.pos(offsets).permute(2, 0, 1)  # [heads, n, n], the MLP at each pair's offset
        bias = bias + torch.where((r >= h) | (q >= w), -1e6, 0.0)[None, None, :]
        tokens = y[:, r, q]  # [b, n, c]
        qkv = attn.qkv(tokens).view(b, -1, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
        scores = qkv[0] @ qkv[1].transpose(-1, -2) / math.sqrt(c // heads) + bias
        mixed = (scores.softmax(-1) @ qkv[2]).transpose(1, 2).reshape(b, -1, c)
        out[:, r, q] = attn.proj(mixed)
    x = x + out[:, :h, :w].reshape(b, h * w, c)
    return x + block.mlp(block.norm2(x))


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("size", [(12, 16), (10, 13)])
def test_art_block_equals_group_by_group_reference(sparse, size):
    torch.manual_seed(0)
    block = ARTBlock(32, heads=2, window=4, interval=4, sparse=sparse, mlp_ratio=2.0).eval()
    with torch.no_grad():
        for p in block.attn.pos.parameters():
            p.normal_()  # a position bias far from zero
        h, w = size
        x = torch.randn(2, h * w, 32)
        torch.testing.assert_close(block(x, size), reference_block(block, x, h, w), rtol=1e-4, atol=1e-4)


def test_art_remap_takes_the_authors_names():
    model = registry.make("art-s", scale=2, embed_dim=16, depths=(2,), heads=(2,), intervals=(4,))
    card = registry.get("art-s")
    theirs = {}
    for key, value in model.state_dict().items():
        key = key.replace("patch_norm.", "patch_embed.norm.").removeprefix("reconstruction.")
        theirs[key] = value
    assert "layers.0.residual_group.blocks.1.attn.pos.pos3.2.weight" in theirs
    assert "conv_before_upsample.0.weight" in theirs and "patch_embed.norm.weight" in theirs
    model.load_state_dict(card.remap_weights(theirs), strict=True)
