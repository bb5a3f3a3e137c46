"""MSIT: sizes against the official code's counts, RIM/RefConv algebra and merge, FEM shifts, the stage hand-off,
arbitrary-scale queries."""

import copy

import pytest
import torch
import torch.nn.functional as F

from bench import BenchError, registry
from bench.complexity import count_params
from bench.reparam import reparameterize
from bench.train import smoke
from reproductions.msit import VARIANTS
from reproductions.msit.model import FEM, MSIT, KernelRemapConv
from reproductions.msit.recipe import recipe


def params(model) -> int:
    return count_params(model)["params"]


# The spec rebuilt the official code (Jinchen2028/MSIT) and counted model.parameters(), as its train.py does:
# frozen FEM masks and mean shifts included, RIM basis kernels (buffers) not. The paper prints them rounded.
@pytest.mark.parametrize("options, official, printed", [
    ({}, 6_049_636, 6.0e6),  # stage B, RIM: Tables I and III
    ({"conv": "plain"}, 8_126_308, 8.1e6),  # stage A: Table III "MSNO + MSSA"
    ({"conv": "plain", "attention": "conventional"}, 8_433_764, 8.4e6),  # Table III "conventional SA"
    ({"conv": "refconv"}, 5_963_620, 6.0e6),  # Table III "Ref"
])
def test_edsr_msit_sizes_are_the_official_code_and_the_papers(options, official, printed):
    model = registry.make("msit-edsr", scale=2, **options)
    assert params(model) == official
    assert round(params(model) / 1e5) * 1e5 == printed


def test_deployed_stage_b_is_the_stage_a_network():
    model = registry.make("msit-edsr", scale=2)
    assert reparameterize(model) == 21  # 16 MSC convs, 4 Q-projection convs, the V conv [spec §2.1]
    assert params(model) == 8_126_308
    assert sorted(model.state_dict()) != sorted(registry.make("msit-edsr", scale=2, conv="plain").state_dict())


def test_rdn_msit_sizes_and_the_27_9m_puzzle():
    assert params(registry.make("msit-rdn", scale=2)) == 26_803_148  # the official config; the paper prints 27.9M
    assert params(registry.make("msit-rdn", scale=2, conv="plain", msc_groups=4)) == 27_900_876  # = 27.9M


def test_rim_kernel_is_w_plus_depthwise_remap_times_per_kernel_scale():
    torch.manual_seed(0)
    rim = KernelRemapConv(2, 3, 5, gate=True)
    rim.weight.normal_()
    with torch.no_grad():
        rim.bias.normal_()
    expected = torch.empty_like(rim.weight)
    dw, scale = rim.convmap.weight, rim.linear.weight  # (6, 1, 3, 3) and (6, 1, 1, 1): one per 2-D kernel
    for o in range(3):
        for i in range(2):
            j = o * 2 + i
            kernel = rim.weight[o, i]
            remap = F.conv2d(kernel[None, None], dw[j:j + 1], padding=1)[0, 0]
            expected[o, i] = kernel + remap * (scale[j, 0, 0, 0] * kernel)
    torch.testing.assert_close(rim.remapped_weight(), expected)
    x = torch.randn(1, 2, 9, 9)
    torch.testing.assert_close(rim(x), F.conv2d(x, expected, rim.bias, padding=2))

    ref = KernelRemapConv(2, 3, 5, gate=False)
    ref.weight.copy_(rim.weight)
    with torch.no_grad():
        ref.convmap.weight.copy_(dw)
    no_gate = rim.weight + F.conv2d(rim.weight.view(1, 6, 5, 5), dw, padding=1, groups=6).view(3, 2, 5, 5)
    torch.testing.assert_close(ref.remapped_weight(), no_gate)
    assert count_params(rim)["params"] == 10 * 6 + 3 and count_params(ref)["params"] == 9 * 6 + 3


@pytest.mark.parametrize("conv", ["rim", "refconv"])
def test_merged_model_computes_the_same_image(conv):
    torch.manual_seed(0)
    model = registry.make("msit-edsr", scale=2, conv=conv).eval()
    for module in model.modules():
        if isinstance(module, KernelRemapConv):
            module.weight.normal_(0, 0.1)  # a trained basis; the remap weights keep their (non-zero) init
    deployed = copy.deepcopy(model)
    reparameterize(deployed)
    x = torch.rand(1, 3, 12, 10)
    with torch.no_grad():
        before, after = model(x), deployed(x)
    assert before.shape == (1, 3, 24, 20)
    assert (before - after).abs().max().item() < 1e-5
    assert before.std() > 0.01  # a real image, not a constant


def test_fem_moves_each_channel_as_the_official_masks_do():
    fem = FEM(8)
    x = torch.zeros(1, 8, 5, 5)
    x[:, :, 2, 2] = 1
    out = fem(x)[0]

    def ones(c):
        return {tuple(p) for p in out[c].nonzero().tolist()}
    assert ones(0) == {(2, 1)}  # left
    assert ones(1) == {(2, 3)}  # right
    assert ones(2) == {(1, 2)}  # up
    assert ones(3) == {(3, 2)}  # down
    assert ones(4) == {(2, 1), (3, 1)}  # left + down-left: the overlapping [c::4] and [c::8] masks
    assert ones(5) == {(2, 3), (1, 3)}  # right + up-right
    assert ones(6) == {(1, 2), (1, 1)}  # up + up-left
    assert ones(7) == {(3, 2), (3, 3)}  # down + down-right
    edge = torch.zeros(1, 8, 5, 5)
    edge[:, 0, 2, 0] = 1
    assert fem(edge)[0, 0, 2, 4] == 1  # what leaves on one side comes back on the other


def test_stage_b_starts_from_stage_a_and_every_basis_kernel_arrives():
    torch.manual_seed(0)
    stage_a = registry.make("msit-edsr", scale=2, conv="plain").eval()
    stage_b = registry.make("msit-edsr", scale=2).eval()
    stage_b.load_pretrained(stage_a.state_dict())
    for module in stage_b.modules():
        if isinstance(module, KernelRemapConv):
            torch.nn.init.zeros_(module.convmap.weight)  # W' = W: stage B is then exactly stage A
    x = torch.rand(1, 3, 10, 10)
    with torch.no_grad():
        torch.testing.assert_close(stage_b(x), stage_a(x))

    renamed = {k.replace("msno.msc.3.", "msno.conv3."): v for k, v in stage_a.state_dict().items()}
    with pytest.raises(BenchError, match="do not fit"):
        registry.make("msit-edsr", scale=2).load_pretrained(renamed)
    zeroed = dict(stage_a.state_dict())
    zeroed["v_proj.weight"] = torch.zeros_like(zeroed["v_proj.weight"])
    with pytest.raises(BenchError, match="v_proj.weight did not arrive"):
        registry.make("msit-edsr", scale=2).load_pretrained(zeroed)


def test_queries_are_the_rendered_pixels_at_any_scale():
    torch.manual_seed(0)
    encoder = registry.make("edsr-baseline", scale=2, no_upsampling=True, mean_shift=False)
    model = MSIT(encoder, 2.5, conv="plain", chunk=7).eval()  # a chunk that does not divide the image
    lr = torch.rand(1, 3, 6, 4)
    with torch.no_grad():
        image = model(lr)
        assert image.shape == (1, 3, 15, 10)
        rows, cols = torch.tensor([0, 7, 14]), torch.tensor([9, 0, 5])
        coord = torch.stack([-1 + (2 * rows + 1) / 15, -1 + (2 * cols + 1) / 10], dim=-1)[None]
        cell = torch.tensor([2 / 15, 2 / 10]).expand(1, 3, 2)
        queried = model(lr, coord, cell)
    torch.testing.assert_close(queried[0], image[0, :, rows, cols].t())


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_table_row_builds_and_renders(variant):
    model = registry.make(f"msit-edsr.{variant}", scale=2).eval()
    with torch.no_grad():
        out = model(torch.rand(1, 3, 8, 8))
    assert out.shape == (1, 3, 16, 16) and torch.isfinite(out).all()


def test_recipe_stages():
    a, b = recipe("a"), recipe("b")
    assert (a.scale_range, b.scale_range) == ((1.0, 4.0), (1.0, 8.0))
    assert a.sampler == b.sampler == "arbitrary" and a.scale_per == "batch"
    assert (a.batch_size, a.lr_patch, a.queries, a.learning_rate) == (32, 48, 2304, 1e-4)
    assert a.iterations == 1_050_000 and a.warmup == 50_000 and a.warmup_start == pytest.approx(0.1)
    quick = smoke(b, iterations=250, lr_patch=32)
    assert quick.queries == 1024 and "queries 1024 (paper 2304)" in quick.budget  # no more queries than LR pixels
    assert quick.scale_range == (1.0, 8.0) and quick.sampler == "arbitrary"


def plain_decode(model, maps, coord, cell):
    """MSIT's decoder in its plain layouts: sampled maps copied to [B, Q, 49, C], the weighted values
    concatenated with the cell, as the official code writes it."""
    from reproductions.baselines.liif import make_coord, sample_nearest

    x, q_map, k_map, v_map = maps
    b, dim, h, w = q_map.shape
    queries, heads, r = coord.shape[1], model.heads, model.radius
    size = coord.new_tensor([h, w])
    xy = coord.flip(-1).unsqueeze(2)
    centre = sample_nearest(make_coord((h, w)).permute(2, 0, 1).expand(b, 2, h, w), coord)
    steps = torch.arange(-r, r + 1, dtype=coord.dtype)
    offsets = torch.stack(torch.meshgrid(steps * 2 / h, steps * 2 / w, indexing="ij"), dim=-1).view(1, 1, -1, 2)
    neighbours = (centre.unsqueeze(2) + offsets).flip(-1)
    area = offsets.shape[2]
    q = F.grid_sample(q_map, xy, mode="bilinear", align_corners=False).permute(0, 2, 3, 1)
    k = F.grid_sample(k_map, neighbours, mode="nearest", align_corners=False).permute(0, 2, 3, 1)
    v = F.grid_sample(v_map, neighbours, mode="nearest", align_corners=False).permute(0, 2, 3, 1)
    q = q.reshape(b, queries, 1, heads, dim // heads)
    k = k.reshape(b, queries, area, heads, dim // heads)
    logits = (q * k).sum(-1) / (dim // heads) ** 0.5
    attn = torch.softmax(logits + model.position_bias((coord.unsqueeze(2) - neighbours.flip(-1)) * size), dim=2)
    weighted = (v.reshape(b, queries, area, heads, dim // heads) * attn.unsqueeze(-1)).reshape(b, queries, -1)
    pred = model.mlp(torch.cat([weighted, cell * size], dim=-1))
    skip = F.grid_sample(x, xy, mode="bilinear", padding_mode="border", align_corners=False)
    return pred + skip[:, :, :, 0].transpose(1, 2)


def test_the_fast_layouts_compute_what_the_plain_ones_do(monkeypatch):
    """The speed work (MSC's convolutions channels-last, sampled maps read in grid_sample's layout, weighted
    values written straight into the MLP's input) changes no output, in inference and with gradients (fixed
    random weights)."""
    from reproductions.msit import model as msit

    torch.manual_seed(0)
    encoder = registry.make("edsr-baseline", scale=2, no_upsampling=True, mean_shift=False)
    model = MSIT(encoder, 2, conv="plain").eval()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.05)
    lr, coord = torch.rand(1, 3, 6, 5), torch.rand(1, 9, 2) * 2 - 1
    cell = torch.full((1, 9, 2), 2 / 12)
    with torch.no_grad():
        plain = plain_decode(model, model.features(lr), coord, cell)
        assert (model.decode(model.features(lr), coord, cell) - plain).abs().max() <= 1e-5
    trained = model.decode(model.features(lr), coord, cell)
    assert (trained - plain).abs().max() <= 1e-5
    trained.square().sum().backward()
    assert model.v_proj.weight.grad.abs().sum() > 0 and model.mlp[0].weight.grad.abs().sum() > 0
    with torch.no_grad():
        fast = model(lr)
        monkeypatch.setattr(msit, "channels_last", lambda x: x)
        monkeypatch.setattr(MSIT, "decode", plain_decode)
        plain = model(lr)
    assert (fast - plain).abs().max() <= 1e-5
