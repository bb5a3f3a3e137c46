"""MSTN reconstruction: size against Table II, one model serving x2 and x4, counts, loss and its weighting."""

import pytest
import torch

from bench import BenchError, registry
from bench.complexity import MATMUL_LIKE, complexity, meta_mult_adds
from bench.reported import reported_numbers
from bench.train import TrainConfig, training_loss
from reproductions.mstn import VARIANTS
from reproductions.mstn.loss import UncertaintyWeighting, per_scale_l1, recipe_loss_weights
from reproductions.mstn.recipe import recipe

REPORTED = {(r.table, r.model, r.variant, r.scale, r.metric): r.value for r in reported_numbers() if r.paper == "mstn"}
# Narrow and shallow, for checks of structure rather than size (same code paths as the registered model).
SMALL = dict(width=16, growth=8, dense_layers=2, blocks=2, heads=2, head_init="default")


def params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("scale", [2, 4])
def test_params_match_table_ii(scale):
    published = REPORTED[("Table II", "mstn", "", "2", "params")]  # 1.68M
    ours = params(registry.make("mstn", scale=scale))
    assert abs(ours - published) / published < 0.02
    assert ours == 1_671_709  # the spec's calibration (C 64, G 48, L 5, D 4), independent of the scale


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_variant_builds_and_runs(variant):
    overrides = VARIANTS[variant].overrides
    scale = 2 if overrides.get("outputs") != "per-scale" else 4
    model = registry.make(f"mstn.{variant}", scale=scale, **{**SMALL, **overrides}).eval()
    with torch.no_grad():
        assert model(torch.rand(1, 3, 9, 11)).shape == (1, 3, 9 * scale, 11 * scale)


@pytest.mark.parametrize("variant", ["stages-2", "stages-4", "per-scale", "tfm-window-8"])
def test_variants_keep_the_calibrated_size(variant):
    """Weights are shared over stages; the readings differ in pairing only; window attention drops the
    4 temperatures."""
    expected = 1_671_709 - (4 if variant == "tfm-window-8" else 0)
    assert params(registry.make(f"mstn.{variant}", scale=4)) == expected


def test_one_model_serves_x2_and_x4():
    """The same state dict loads at both scales; at x2 the model returns the x2 head of the last stage,
    which is what the x4-trained network emits for x2 during training."""
    torch.manual_seed(0)
    x4 = registry.make("mstn", scale=4, **SMALL)
    x2 = registry.make("mstn", scale=2, **SMALL)
    x2.load_state_dict(x4.state_dict(), strict=True)
    lr = torch.rand(1, 3, 10, 7)
    with torch.no_grad():
        training_outputs = x4.train()(lr)  # stage by stage: (x1, x2, x4)
        served_x4, served_x2 = x4.eval()(lr), x2.eval()(lr)
    assert [tuple(o.shape[-2:]) for o in training_outputs[:3]] == [(10, 7), (20, 14), (40, 28)]
    assert len(training_outputs) == 3 * 3
    assert torch.allclose(served_x4, training_outputs[-1], atol=1e-5)
    assert torch.allclose(served_x2, training_outputs[-2], atol=1e-5)
    assert served_x2.shape == (1, 3, 20, 14)


def test_one_model_refuses_to_train_at_x2():
    model = registry.make("mstn", scale=2, **SMALL).train()
    with pytest.raises(BenchError, match="trains at scale 4"):
        model(torch.rand(1, 3, 8, 8))


def test_per_scale_reading_supervises_an_hr_pyramid():
    model = registry.make("mstn", scale=2, outputs="per-scale", **SMALL).train()
    outputs = model(torch.rand(1, 3, 12, 8))
    assert [tuple(o.shape[-2:]) for o in outputs[:3]] == [(6, 4), (12, 8), (24, 16)]


def test_zero_heads_start_every_stage_as_its_input():
    """Default init: the output is the bilinear x4 input exactly, however many stages."""
    model = registry.make("mstn", scale=4, width=16, growth=8, dense_layers=2, blocks=1, heads=2).eval()
    lr = torch.rand(1, 3, 6, 5)
    with torch.no_grad():
        out = model(lr)
    base = torch.nn.functional.interpolate(lr, scale_factor=4, mode="bilinear", align_corners=False)
    assert torch.equal(out, base)


@pytest.mark.parametrize("overrides, scale", [({}, 2), ({}, 4), ({"attention": "window"}, 2),
                                              ({"outputs": "per-scale"}, 2)])
def test_analytic_mult_adds_equal_fvcore_and_flop_counter(overrides, scale, tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path))
    model = registry.make("mstn", scale=scale, **{**SMALL, **overrides})
    counted = complexity(model, scale, hr=(24, 16), use_cache=False)
    matmul_like = sum(v for k, v in counted["by_operator"].items() if k in MATMUL_LIKE)
    assert counted["analytic_mult_adds"] == matmul_like == counted["cross_check"]["flop_counter_mode_macs"]


def test_full_size_mult_adds_x2_is_four_times_x4():
    """At 1024x720 the x4 LR is 256x180 -> grid 1024x720; the x2 LR 512x360 -> grid 2048x1440 (4x the
    pixels); counted by the model's formula and, independently, by FlopCounterMode on the meta device."""
    counts = {}
    for scale, (h, w) in ((4, (180, 256)), (2, (360, 512))):
        model = registry.make("mstn", scale=scale)
        counts[scale] = model.analytic_mult_adds(h, w)
        assert counts[scale] == meta_mult_adds(model, (1, 3, h, w))
    # The only difference besides the grid: the last stage's head (x4: full; x2: stride-2 conv + half head).
    assert 3.9 < counts[2] / counts[4] < 4.1


def test_recipe_loss_weights_are_eqs_2_to_5():
    """bench's weighted sum with the recipe's weights equals sum_s omega_s (1/T) sum_t L1 (Eqs. 2-5)."""
    torch.manual_seed(0)
    stages = 3
    hr = torch.rand(2, 3, 32, 32)
    outputs = [torch.rand(2, 3, 32 // f, 32 // f) for _ in range(stages) for f in (4, 2, 1)]
    config = TrainConfig(iterations=1, batch_size=2, lr_patch=8, learning_rate=1e-4,
                         loss_weights=recipe_loss_weights(stages, (0.5, 1.0, 2.0)))
    ours = (torch.tensor([0.5, 1.0, 2.0]) * per_scale_l1(outputs, hr, stages)).sum()
    assert torch.allclose(training_loss(config, outputs, hr), ours, rtol=1e-6)
    assert recipe().loss_weights == (1 / 3,) * 9


def test_model_training_loss_uses_the_same_targets_as_bench():
    torch.manual_seed(0)
    model = registry.make("mstn", scale=4, **SMALL).train()
    lr, hr = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 32, 32)
    outputs = model(lr)
    assert torch.allclose(model.training_loss(outputs, hr), training_loss(recipe(), outputs, hr), rtol=1e-6)


def test_uncertainty_weighting_cannot_collapse():
    """exp(-s) L + s is minimised at s = log L: the weight settles at 1 / L (finite and positive), so
    neither a zero weight nor one term taking all the weight is an optimum, unlike free or softmax weights."""
    weighting = UncertaintyWeighting(3)
    losses = torch.tensor([0.002, 0.02, 0.05])  # x1 (the easy LR reconstruction) far below x2 / x4
    optimizer = torch.optim.SGD(weighting.parameters(), lr=0.05)
    for _ in range(3000):
        optimizer.zero_grad()
        weighting(losses).backward()
        optimizer.step()
    assert torch.allclose(weighting.log_scale.detach(), losses.log(), atol=1e-3)
    weights = weighting.weights()
    assert (weights > 0).all() and torch.isfinite(weights).all()
    assert torch.allclose(weights * losses, torch.ones(3), atol=1e-2)  # each term contributes alike


def test_learnable_weights_are_model_parameters_only_when_asked():
    fixed = registry.make("mstn", scale=4, **SMALL)
    learnable = registry.make("mstn", scale=4, loss_weighting="uncertainty", **SMALL)
    assert params(learnable) - params(fixed) == 3
    outputs = learnable.train()(torch.rand(1, 3, 8, 8))
    learnable.training_loss(outputs, torch.rand(1, 3, 32, 32)).backward()
    assert learnable.loss_weighting.log_scale.grad is not None
