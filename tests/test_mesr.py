"""MESR reconstruction: size against the text's anchor, stable activations at init, both stage outputs,
the two-stage loss, exact Mult-Adds formula."""

import pytest
import torch
from PIL import Image

from bench import registry
from bench.complexity import fvcore_mult_adds
from bench.data.benchmarks import load_test_set
from bench.reported import reported_numbers
from bench.train import training_loss
from reproductions.mesr import VARIANTS
from reproductions.mesr.model import RB_SPACES, eca_kernel_size
from reproductions.mesr.probes import activation_stds
from reproductions.mesr.recipe import recipe

SMALL = {"width": 8, "blocks": 2}  # a reduced MESR, where the full size does not matter


def charbonnier(sr, hr, eps=1e-3):
    return torch.sqrt((sr - hr) ** 2 + eps**2).mean()


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_params_match_the_texts_anchor(scale):
    """'nearly 1/6 less number of parameters' than MSRN [MESR Sec. IV-E]: ~5/6 of MSRN's printed 5.89M."""
    msrn = next(r.value for r in reported_numbers() if r.model == "msrn" and r.metric == "params")
    anchor = msrn * 5 / 6
    params = sum(p.numel() for p in registry.make("mesr", scale=scale).parameters())
    assert abs(params - anchor) / anchor < 0.05


def test_every_variant_builds_and_runs():
    x = torch.rand(1, 3, 6, 5)
    for name in VARIANTS:
        model = registry.make(f"mesr.{name}", scale=4, **SMALL)
        with torch.no_grad():
            assert model.eval()(x).shape == (1, 3, 24, 20), name
            trained = model.train()(x)
        # what training gets must match the recipe's loss weights (one per output)
        weights = registry.get(f"mesr.{name}").build_recipe(4).loss_weights
        assert len(trained if isinstance(trained, tuple) else (trained,)) == len(weights), name


def test_default_is_stable_at_init_and_the_literal_reading_explodes():
    stds = {}
    for skips in ("merged", "literal"):
        torch.manual_seed(0)
        stds[skips] = activation_stds(registry.make("mesr", scale=2, skips=skips).eval(), torch.rand(1, 3, 16, 16))
    merged = torch.tensor(stds["merged"])
    assert len(merged) == 25 and torch.isfinite(merged).all()
    assert 0.1 < (merged / merged[0]).min() and (merged / merged[0]).max() < 10
    assert stds["literal"][-1] / stds["literal"][0] > 1e6  # each unit doubles: (lambda + beta) = 2 at init


def test_outputs_are_the_two_stages_of_one_network():
    torch.manual_seed(0)
    model = registry.make("mesr", scale=2, **SMALL)
    x = torch.rand(2, 3, 9, 7)
    with torch.no_grad():
        coarse, refined = model.train()(x)  # "auto": both in training mode
        assert torch.equal(model.eval()(x), refined)  # the refined image in eval mode
        rb = model.refine
        centred = coarse - model.mean  # the default rb_space
        gate = torch.sigmoid(rb.conv1x1(torch.relu(rb.conv3x3(centred))))
        assert torch.allclose(refined - model.mean, centred * gate + centred)  # Eq. 19
        for output, expected in (("coarse", coarse), ("refined", refined)):
            other = registry.make("mesr", scale=2, output=output, **SMALL)
            other.load_state_dict(model.state_dict())  # the same weights under every output option
            assert torch.equal(other.train()(x), expected)


def test_loss_is_the_weighted_sum_over_both_stages():
    torch.manual_seed(0)
    model = registry.make("mesr", scale=2, **SMALL).train()
    x, hr = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 16, 16)
    coarse, refined = outputs = model(x)
    both = training_loss(recipe(2), outputs, hr)  # bench's Charbonnier: eps^2 = 1e-6, i.e. zeta = 1e-3 [Eq. 21]
    assert torch.allclose(both, charbonnier(coarse, hr) + charbonnier(refined, hr))
    dagger = training_loss(registry.get("mesr.rb-dagger").build_recipe(2), outputs, hr)
    assert torch.allclose(dagger, charbonnier(refined, hr))


@pytest.mark.parametrize("scale, options", [(2, {}), (3, {"branches": "separate"}), (4, {}),
                                            (4, VARIANTS["single-scale"].overrides), (4, {"skips": "literal"})])
def test_own_mult_adds_formula_equals_fvcore(scale, options):
    model = registry.make("mesr", scale=scale, **SMALL, **options)
    counted = fvcore_mult_adds(model, torch.rand(1, 3, 7, 5))
    assert counted["mult_adds"] == model.analytic_mult_adds(7, 5)


def test_eca_kernel_size_of_eq_11():
    """The paper's k = 5 at C = 27 needs rho = 1, b = 0; ECA's own (2, 1) would give 3."""
    assert eca_kernel_size(27) == 5 and eca_kernel_size(27, rho=2, b=1) == 3
    assert [eca_kernel_size(2**p) for p in (4, 5, 6)] == [5, 5, 7]  # 4, 5, 6: a tie goes up, as in ECA's code
    attention = registry.make("mesr", scale=2).body[0].attention
    assert attention.conv.kernel_size == (5,) and attention.conv.bias is None


def test_recipe_is_the_papers():
    config = registry.get("mesr").build_recipe(3)
    assert (config.batch_size, config.lr_patch, config.learning_rate) == (16, 32, 1e-4)
    assert (config.betas, config.eps, config.loss) == ((0.9, 0.999), 1e-8, "charbonnier")
    assert config.milestones == (200_000, 400_000, 600_000, 800_000) and config.train_sets == ("DIV2K-train",)


def test_near_identity_rb_init_starts_the_refined_image_at_the_coarse_one():
    """Eq. 19 at PyTorch's init gates by ~sigmoid(0) = 0.5, so the refined image starts at ~1.5x the coarse
    one; the near-identity init starts every gate at sigmoid(-5), and trains the gate (its weights get gradient)."""
    torch.manual_seed(0)
    model = registry.make("mesr", scale=2, rb_init="near-identity", **SMALL).train()
    coarse, refined = model(torch.rand(1, 3, 6, 6))
    mean = model.mean
    assert torch.allclose(refined - mean, (coarse - mean) * (1 + torch.sigmoid(torch.tensor(-5.0))))
    refined.sum().backward()
    assert model.refine.conv1x1.weight.grad.abs().sum() > 0
    default = registry.make("mesr", scale=2, rb_init="pytorch", **SMALL).refine
    with torch.no_grad():
        gate = torch.sigmoid(default.conv1x1(torch.relu(default.conv3x3(coarse))))
    assert (gate.mean() - 0.5).abs() < 0.1
    with pytest.raises(ValueError, match="init must be one of"):
        registry.make("mesr", scale=2, rb_init="zeros", **SMALL)


def test_rb_space_decides_what_the_gate_can_do():
    """Eq. 19's gate is in (0, 1), so on the image (``rb_space="image"``) the refined image is brighter than the
    coarse one at every pixel; centred on the mean it scales each pixel's distance from the mean, darkening what
    is below it. Without a mean shift the two readings are one."""
    torch.manual_seed(0)
    lr = torch.rand(1, 3, 6, 6)
    for space in RB_SPACES:
        model = registry.make("mesr", scale=2, rb_init="pytorch", rb_space=space, **SMALL).eval()
        model.output = "both"
        with torch.no_grad():
            coarse, refined = model(lr)
        centre = model.mean if space == "centred" else torch.zeros_like(model.mean)
        away = (coarse - centre).abs() > 1e-3  # the ratio is rounding noise next to the centre
        gain = ((refined - centre) / (coarse - centre))[away]
        assert away.float().mean() > 0.9 and gain.min() > 1 and gain.max() < 2
        if space == "centred":
            assert (refined < coarse).any() and (refined > coarse).any()
    with torch.no_grad():
        plain = [registry.make("mesr", scale=2, rb_space=space, rgb_mean=False, **SMALL).eval() for space in RB_SPACES]
        plain[1].load_state_dict(plain[0].state_dict())
        assert torch.equal(plain[0](lr), plain[1](lr))
    with pytest.raises(ValueError, match="rb_space must be one of"):
        registry.make("mesr", scale=2, rb_space="lab", **SMALL)


def test_rb_probe_starts_near_identity_rb_at_the_coarse_psnr(tmp_path):
    """The rb_space probe on a reduced, untrained first stage: before any RB step, the near-identity RB is within
    0.1 dB of the coarse image in both readings and ten times closer to it than PyTorch's init (gate ~0.5).
    Evaluated on 128 px crops of the embedded test images, standing in for Set5 (the RB runs at the HR size
    four times per reading: whole images made this test a minute long)."""
    from reproductions.mesr.rb_probe import rb_headroom

    folder = tmp_path / "Set5" / "HR"
    folder.mkdir(parents=True)
    for pair in load_test_set("samples", 1).pairs:
        h, w = pair.hr.shape[-2:]
        crop = pair.hr[:, (h - 128) // 2: (h + 128) // 2, (w - 128) // 2: (w + 128) // 2]
        Image.fromarray(crop.permute(1, 2, 0).squeeze(-1).numpy()).save(folder / f"{pair.name}.png")
    torch.manual_seed(0)
    first_stage = registry.make("mesr", scale=2, output="coarse", **SMALL)
    rows = rb_headroom(first_stage, 2, tmp_path, train_sets=("samples-train",), eval_set="Set5", patches=4, batch=2,
                       lr_patch=16, steps=1, learning_rates=(1e-4,))
    at_init = {(row["space"], row["init"]): row["gain_at_init"] for row in rows}
    assert len(at_init) == len(RB_SPACES) * 2
    for space in RB_SPACES:
        near, default = abs(at_init[space, "near-identity"]), abs(at_init[space, "pytorch"])
        assert near < 0.1 and 10 * near < default, at_init
    with pytest.raises(ValueError, match="first stage alone"):
        rb_headroom(registry.make("mesr", scale=2, **SMALL), 2)
