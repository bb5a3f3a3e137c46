"""Meta-SR, LTE, UltraSR and CLIT on LIIF's encoders: MSIT's Table I params, the official codes' counts, the
decoders' coordinate conventions (by hand), and a forward at a non-integer scale."""

import math
from functools import cache

import pytest
import torch
import torch.nn.functional as F

from bench import registry
from bench.complexity import count_params
from bench.reported import reported_numbers
from reproductions.baselines.clit import CLIT, cascade_factors
from reproductions.baselines.edsr import EDSR
from reproductions.baselines.liif import make_coord
from reproductions.baselines.lte import LTE
from reproductions.baselines.metasr import MetaSR
from reproductions.baselines.ultrasr import UltraSR

NAMES = ["metasr-edsr-baseline", "metasr-rdn", "lte-edsr-baseline", "lte-rdn", "ultrasr-edsr-baseline", "ultrasr-rdn",
         "clit-edsr-baseline", "clit-rdn"]
# MSIT's Params column: one size per arbitrary-scale model (an empty scale)
PUBLISHED = {r.model: r.value for r in reported_numbers() if r.paper == "msit" and r.metric == "params" and not r.scale}

# The authors' models built from their code and configs (yinboc/liif models/misc.py, jaewon-lee-b/lte, the
# CLIT clit3 configs), every parameter counted as their utils.compute_num_params does.
OFFICIAL = {"metasr-edsr-baseline": 1_665_560, "metasr-rdn": 22_419_072, "lte-edsr-baseline": 1_714_267,
            "lte-rdn": 22_467_779, "clit-edsr-baseline": 16_909_929, "clit-rdn": 37_663_441}


@cache
def build(name: str, scale: float = 2) -> torch.nn.Module:
    return registry.make(name, scale=scale)


@pytest.fixture(scope="module", autouse=True)
def _release_models():
    yield
    build.cache_clear()


def small_encoder() -> EDSR:
    return EDSR(2, num_blocks=1, channels=8, no_upsampling=True, mean_shift=False)


@pytest.mark.parametrize("name", NAMES)
def test_params_match_msit_table_1(name):
    assert abs(count_params(build(name))["params"] - PUBLISHED[name]) < 0.05e6  # printed to 0.1M


@pytest.mark.parametrize("name", sorted(OFFICIAL))
def test_params_equal_the_official_codes(name):
    assert count_params(build(name))["params"] == OFFICIAL[name]


def test_ultrasr_is_liif_plus_the_first_layers_encoding_weights():
    # UltraSR's code is unreleased: its size is LIIF's (1,567,323 / 22,320,835, the official code's) plus
    # 2 coordinates x 2 (sin, cos) x L bands x 256 first-layer weights, whatever the encoding's form.
    bands = registry.get("ultrasr-rdn").defaults["bands"]
    assert count_params(build("ultrasr-edsr-baseline"))["params"] == 1_567_323 + 4 * bands * 256
    assert count_params(build("ultrasr-rdn"))["params"] == 22_320_835 + 4 * bands * 256
    # printed 22.3M: at most 28 bands; a 10-band encoding fed to all four hidden layers would print 22.4M
    assert 22_320_835 + 4 * 28 * 256 < 22.35e6 < 22_320_835 + 4 * 10 * 256 * 4


@pytest.mark.parametrize("name", NAMES)
def test_forward_at_a_non_integer_scale(name):
    lr = torch.rand(1, 3, 6, 5)
    with torch.no_grad():
        sr = build(name, 2.5)(lr)
    assert sr.shape == (1, 3, round(6 * 2.5), round(5 * 2.5))
    assert torch.isfinite(sr).all()


@pytest.mark.parametrize("scale, factors", [(2.5, [2.5]), (4, [4]), (6, [4, 1.5]), (12, [4, 3]),
                                            (18, [4, 4, 1.125]), (30, [4, 4, 1.875])])
def test_clit_splits_the_scale_as_its_test_wrapper(scale, factors):
    assert cascade_factors(scale) == factors


@pytest.mark.parametrize("model_class", [MetaSR, LTE, UltraSR, CLIT])
def test_query_at_hr_pixel_centres_equals_forward(model_class):
    torch.manual_seed(0)
    options = {"dim": 16, "heads": 2, "hidden": (16,)} if model_class is CLIT else {}
    model = model_class(small_encoder(), 6.5, **options)  # CLIT: two branches
    model.chunk = 37  # several chunks, the last one partial
    lr = torch.rand(2, 3, 3, 2)
    h, w = round(3 * 6.5), round(2 * 6.5)
    coord = make_coord((h, w)).view(1, -1, 2).expand(2, -1, -1)
    cell = torch.ones_like(coord) * torch.tensor([2 / h, 2 / w])
    if model_class is LTE:
        cell = cell * 6.5 / 4  # LTE's test.py decodes beyond x4 with x4's cell
    with torch.no_grad():
        image = model(lr)
        queried = model.query(lr, coord, cell)
    torch.testing.assert_close(image, queried.transpose(1, 2).reshape(2, 3, h, w))


def test_clit_runs_one_branch_per_factor():
    torch.manual_seed(0)
    model = CLIT(small_encoder(), 18, dim=16, heads=2, radius=1, hidden=(16,))
    used = []
    for i, imnet in enumerate(model.imnets):
        imnet.register_forward_hook(lambda *_, i=i: used.append(i))
    with torch.no_grad():
        assert model(torch.rand(1, 3, 2, 3)).shape == (1, 3, 36, 54)
    assert used == [0, 1, 2]


def test_metasr_offsets_inside_the_lr_pixel_and_inverse_scale():
    """At x2 an HR pixel's top-left corner sits at 0 or 1/2 of an LR pixel, per axis; the scale enters as 1/2."""
    torch.manual_seed(0)
    model = MetaSR(small_encoder(), 2, hidden=8)
    seen = []
    model.imnet.register_forward_hook(lambda _, inputs, __: seen.append(inputs[0]))
    with torch.no_grad():
        model(torch.rand(1, 3, 3, 4))
    grid = seen[0].view(6, 8, 3)
    rows, cols = torch.arange(6) % 2 / 2, torch.arange(8) % 2 / 2
    torch.testing.assert_close(grid[..., 0], rows[:, None].expand(6, 8), atol=1e-5, rtol=0)
    torch.testing.assert_close(grid[..., 1], cols[None, :].expand(6, 8), atol=1e-5, rtol=0)
    torch.testing.assert_close(grid[..., 2], torch.full((6, 8), 0.5))


def test_lte_at_one_query_by_hand():
    """The four nearest codes, frequency k as channels (2k, 2k + 1) = (row, column), cos then sin, area weights
    of the opposite corner, plus the bilinear input."""
    torch.manual_seed(0)
    model = LTE(small_encoder(), 3, hidden_dim=8, mlp_hidden=(8,))
    lr = torch.rand(1, 3, 3, 4)
    h, w, y, x = 3, 4, 0.1, -0.2  # a query in LR pixel (row 1, column 1), right of and below its centre
    cell = torch.tensor([0.2, 0.15])
    with torch.no_grad():
        state = model.features(lr)
        ours = model.decode(state, torch.tensor([[[y, x]]]), cell.view(1, 1, 2))[0, 0]
        _, coef, freq = state
        centre = lambda i, n: -1 + (2 * i + 1) / n  # noqa: E731
        total, preds, areas = 0, [], []
        for i, j in [(1, 1), (1, 2), (2, 1), (2, 2)]:  # the codes above-left, above-right, below-left, below-right
            d = torch.tensor([(y - centre(i, h)) * h, (x - centre(j, w)) * w])
            f = freq[0, :, i, j].view(4, 2)
            phase = model.phase.weight @ (cell * torch.tensor([h, w]))
            angle = f[:, 0] * d[0] + f[:, 1] * d[1] + phase
            basis = torch.cat([torch.cos(math.pi * angle), torch.sin(math.pi * angle)])
            preds.append(model.imnet(coef[0, :, i, j] * basis))
            areas.append(abs(d[0] * d[1]))
            total = total + areas[-1]
        expected = sum(p * a / total for p, a in zip(preds, reversed(areas), strict=True))
        # bilinear at pixel position (y + 1) h / 2 - 1/2, (x + 1) w / 2 - 1/2, border clamped
        py, px = (y + 1) * h / 2 - 0.5, (x + 1) * w / 2 - 0.5
        y0, x0 = math.floor(py), math.floor(px)
        image = (lr[0] - 0.5) / 0.5
        bilinear = sum(image[:, min(y0 + a, h - 1), min(x0 + b, w - 1)]
                       * (1 - abs(py - y0 - a)) * (1 - abs(px - x0 - b)) for a in (0, 1) for b in (0, 1))
    torch.testing.assert_close(ours, expected + bilinear, atol=1e-5, rtol=1e-5)


def test_clit_attention_at_one_query_by_hand():
    """Q bilinear at the query; K, V from the (2r+1)^2 codes around the nearest (zeros outside); per-head
    softmax of q.k / sqrt(d) plus the sinusoid bias of the offset; weighted values concatenated row-major."""
    torch.manual_seed(0)
    dim, heads, r = 8, 2, 1
    model = CLIT(small_encoder(), 2, dim=dim, heads=heads, radius=r, branches=1, hidden=(8,))
    lr = torch.rand(1, 3, 3, 4)
    h, w, y, x = 3, 4, 0.62, -0.8  # nearest code (row 2, column 0): a border code, so some neighbours are zeros
    cell = torch.tensor([0.3, 0.25])
    with torch.no_grad():
        _, [(q_map, k_map, v_map)] = model.features(lr)
        ours = model.attend(0, q_map, k_map, v_map, torch.tensor([[[y, x]]]), cell.view(1, 1, 2))[0, 0]

        py, px = (y + 1) * h / 2 - 0.5, (x + 1) * w / 2 - 0.5  # bilinear, zeros outside
        y0, x0 = math.floor(py), math.floor(px)
        pixel = lambda m, i, j: m[0, :, i, j] if 0 <= i < h and 0 <= j < w else torch.zeros(dim)  # noqa: E731
        q = sum(pixel(q_map, y0 + a, x0 + b) * (1 - abs(py - y0 - a)) * (1 - abs(px - x0 - b))
                for a in (0, 1) for b in (0, 1))
        iy, ix = math.floor((y + 1) * h / 2), math.floor((x + 1) * w / 2)
        assert (iy, ix) == (2, 0)
        freqs = 2.0 ** torch.linspace(0, 10, 16) - 1
        values, logits = [], []
        for dy in range(-r, r + 1):
            for dx in range(-r, r + 1):
                i, j = iy + dy, ix + dx
                k, v = pixel(k_map, i, j), pixel(v_map, i, j)
                off = torch.tensor([(y - (-1 + (2 * i + 1) / h)) * h, (x - (-1 + (2 * j + 1) / w)) * w])
                angles = torch.cat([freqs * off[0], freqs * off[1]])
                bias = model.pb_encoder.proj(torch.cat([torch.sin(angles), torch.cos(angles)]))
                logits.append((q.view(heads, -1) * k.view(heads, -1)).sum(-1) / math.sqrt(dim // heads) + bias)
                values.append(v.view(heads, -1))
        weights = F.softmax(torch.stack(logits), dim=0)  # over the neighbours, per head
        feature = torch.cat([(values[n] * weights[n, :, None]).flatten() for n in range(len(values))])
        expected = model.imnets[0](torch.cat([feature, cell * torch.tensor([h, w])]))
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=1e-5)


def test_module_names_follow_the_releases():
    """So the authors' state_dicts (LIIF's {"model": {"sd"}} layout) load without renaming."""
    assert build("metasr-edsr-baseline").state_dict()["imnet.layers.2.weight"].shape == (64 * 9 * 3, 256)
    lte = build("lte-edsr-baseline").state_dict()
    assert {"coef.weight", "freq.bias", "phase.weight", "imnet.layers.6.bias"} <= set(lte)
    assert "phase.bias" not in lte
    clit = build("clit-edsr-baseline").state_dict()
    assert {"conv_ch.weight", "conv_vs.2.weight", "conv_qs.2.bias", "conv_ks.0.weight", "pb_encoder.proj.weight",
            "imnets.2.layers.8.bias"} <= set(clit)
    assert clit["imnets.0.layers.0.weight"].shape == (256, 49 * 256 + 2)
    assert "pb_encoder.basis" not in clit  # the release keeps its frequencies outside the state_dict
