"""MSRA-SR reconstruction: sizes against the paper's tables, exact reparameterisation, masks."""

import copy
import math

import pytest
import torch

from bench import registry
from bench.reparam import reparameterize
from bench.reported import reported_numbers
from reproductions.msra import VARIANTS
from reproductions.msra.model import _window_labels

REPORTED = {(r.table, r.model, r.variant, r.scale, r.metric): r.value for r in reported_numbers() if r.paper == "msra"}
# Rows whose layout the authors re-tuned (‡) or that no reconstruction fits (the MSRA-SR manifest's known differences).
KNOWN_GAPS = {
    "wo-shared-attn": "paper +146K needs ~12K per converted layer; q/k projections + one bias table give +102K",
    "window-8": "‡: the authors re-tuned depth/width for window 8 and do not say how",
}


def deployed_params(name: str, scale: int, **options) -> int:
    model = registry.make(name, scale=scale, **options)
    reparameterize(model)
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_light_params_match_table_1(scale):
    ours = deployed_params("msra-light", scale)
    published = REPORTED[("Table 1", "msra-light", "", str(scale), "params")]
    assert abs(ours - published) / published < 0.02


@pytest.mark.parametrize("variant", sorted(set(VARIANTS) - set(KNOWN_GAPS)))
def test_table_4_params(variant):
    card = registry.get(f"msra-light.{variant}")
    model = registry.make(card.name, scale=2)
    if card.variant.form != "as-trained":
        reparameterize(model)
    ours = sum(p.numel() for p in model.parameters())
    published = REPORTED[("Table 4", "msra-light", variant, "2", "params")]
    assert abs(ours - published) / published < 0.02


def test_every_variant_runs():
    """Each Table 4 row's options on a shallower msra-light (its builder takes the depths): two groups of two
    layers, so computing and sharing layers, plain and shifted windows, and the group convs all run."""
    x = torch.rand(1, 3, 20, 18)
    for variant in VARIANTS:
        with torch.no_grad():
            assert registry.make(f"msra-light.{variant}", scale=2, depths=(2, 2))(x).shape == (1, 3, 40, 36)


@pytest.mark.parametrize("name, scale", [("msra-light", 3), ("msra-classical", 2)])
def test_reparameterised_model_is_the_same_function(name, scale):
    torch.manual_seed(0)
    model = registry.make(name, scale=scale).eval()
    for module in model.modules():  # non-trivial branch weights, so every branch matters
        if isinstance(module, torch.nn.Conv2d) and module.groups > 1:
            torch.nn.init.normal_(module.weight, std=0.2)
    x = torch.rand(1, 3, 33, 20)
    deployed = copy.deepcopy(model)
    assert reparameterize(deployed) == len(model.groups) * 4
    with torch.no_grad():
        before, after = model(x), deployed(x)
    assert (before - after).abs().max().item() < 1e-4


@pytest.mark.parametrize("scale", [1, 2, 4])
def test_shifted_regions_are_whole_key_blocks(scale):
    """With shift 8, every s x s block a CSA key averages lies inside one region, so masks are exact."""
    labels = torch.from_numpy(_window_labels(64, 48, 16, 8))
    blocks = labels.view(-1, 16 // scale, scale, 16 // scale, scale).permute(0, 1, 3, 2, 4).flatten(3)
    assert (blocks == blocks[..., :1]).all()


def plain_masks(logits, boundary, grid):
    """Every window's shift mask, made from the whole image's region labels, added (zeros included)."""
    from reproductions.msra import model as msra

    n, m = boundary.shape[-2:]
    window, scale = math.isqrt(n), math.isqrt(n // m)
    mask = msra.region_masks(grid[0] * window, grid[1] * window, window, window // 2, (scale,))[scale]
    per_window = mask[None, :, None] if logits.dim() == 4 else mask[None]
    return (logits.view(-1, mask.shape[0], *logits.shape[1:]) + per_window).view_as(logits)


def plain_attention(self, windows, shared, masks, grid):
    """MSAttention as the paper writes it: every layer softmaxes its own logits, F is the module's own conv,
    masks come whole from the image's regions, and P @ V is one product."""
    from torch.nn import functional as F

    bw, n, _ = windows.shape
    ws, hd, heads = self.window, self.ssa_dim // self.ssa_heads, self.ssa_heads
    if self.computes:
        q, k, v = self.qkv(windows).chunk(3, dim=-1)
        split = [t[..., : self.ssa_dim].reshape(bw, n, heads, hd).transpose(1, 2) for t in (q, k)]
        shared["ssa"] = split[0] @ split[1].transpose(-2, -1) * hd**-0.5
    else:
        v = self.qkv(windows)
        shared["ssa"] = self.transform(shared["ssa"])
    logits = shared["ssa"] + self.position_bias()[None]
    if masks is not None:
        logits = plain_masks(logits, masks[1], grid)
    v_ssa = v[..., : self.ssa_dim].reshape(bw, n, heads, hd).transpose(1, 2)
    outputs = [(logits.softmax(-1) @ v_ssa).transpose(1, 2).reshape(bw, n, self.ssa_dim)]
    for j, s in enumerate(self.csa_scales):
        lo, hi = self.ssa_dim + j * self.csa_head_dim, self.ssa_dim + (j + 1) * self.csa_head_dim
        if self.computes:
            k_s = F.avg_pool2d(k[..., lo:hi].transpose(1, 2).reshape(bw, -1, ws, ws), s).flatten(2)
            shared[f"plain csa{s}"] = q[..., lo:hi] @ k_s * self.csa_head_dim**-0.5
        logits = shared[f"plain csa{s}"]
        if masks is not None:
            logits = plain_masks(logits, masks[s], grid)
        v_s = F.pixel_unshuffle(v[..., lo:hi].transpose(1, 2).reshape(bw, -1, ws, ws), s).flatten(2).transpose(1, 2)
        outputs.append(self.aggregate[j](logits.softmax(-1) @ v_s))
    return self.proj(torch.cat(outputs, dim=-1))


def test_fast_layouts_compute_what_the_plain_ones_do(monkeypatch):
    """The speed work (F on merged window channels, convolutions on channels-last views of the tokens, attention
    as (v^T P^T)^T, shift masks added to the boundary windows only, CSA probabilities shared by the layers that
    inherit them) changes no output: each part against its plain form, then the model against itself with the
    plain forms, fixed weights."""
    from torch import nn

    from reproductions.msra import model as msra

    torch.manual_seed(0)
    model = registry.make("msra-light", scale=2, depths=(2, 2), window=8).eval()
    sharing = model.groups[1][0].attn
    assert isinstance(sharing.transform, nn.Conv2d)
    x, scores, tokens = torch.rand(1, 3, 20, 28), torch.randn(6, 2, 64, 64), torch.randn(2, 12 * 10, 9)
    conv = nn.Conv2d(9, 9, 5, padding=2, groups=9)
    with torch.no_grad():
        assert (sharing.transformed(scores) - sharing.transform(scores)).abs().max() <= 1e-5
        plain_tokens = conv(tokens.transpose(1, 2).reshape(2, 9, 12, 10)).flatten(2).transpose(1, 2)
        assert (msra.tokens(conv(msra.image(tokens, (12, 10)))) - plain_tokens).abs().max() <= 1e-5
        probs, v = torch.rand(6, 2, 64, 64), torch.randn(6, 2, 64, 5)
        assert (msra.attend(probs, v) - probs @ v).abs().max() <= 1e-5
        masks = msra.boundary_masks(8, 4, (1, 2))
        for grid in ((3, 4), (1, 1), (1, 3), (2, 1)):  # rows x columns of windows
            windows = 2 * grid[0] * grid[1]  # a batch of two images
            for s, logits in ((1, torch.randn(windows, 2, 64, 64)), (2, torch.randn(windows, 64, 16))):
                expected = plain_masks(logits, masks[s], grid)
                assert torch.equal(msra.add_shift_masks(logits.clone(), masks[s], grid), expected)
        for p in model.parameters():  # every weight and bias non-zero (the initialisation zeroes some biases)
            p.copy_(torch.randn_like(p) * 0.1)
        fast = model(x)
        monkeypatch.setattr(msra.MSAttention, "forward", plain_attention)
        monkeypatch.setattr(msra, "image", lambda t, size: t.transpose(1, 2).reshape(t.shape[0], t.shape[-1], *size))
        monkeypatch.setattr(msra, "tokens", lambda t: t.flatten(2).transpose(1, 2).contiguous())
        plain = model(x)
    assert (fast - plain).abs().max() <= 1e-5
