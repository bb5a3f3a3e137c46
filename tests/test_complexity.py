"""Counting conventions on small inputs (full-size counts run in `nox -s bench` / reproduce sessions),
and the published SwinIR numbers through SwinIR's own analytic convention."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from bench import BenchError, registry
from bench.complexity import complexity, count_params, fvcore_mult_adds, lr_size, meta_mult_adds
from bench.reported import reported_numbers

REPORTED = {(r.model, r.scale, r.metric): r.value for r in reported_numbers() if r.metric in ("params", "mult_adds")}


def test_lr_size_conventions():
    assert lr_size((1024, 720), 3) == (240, 341)
    assert lr_size((1280, 720), 3) == (240, 426)
    # SwinIR's main block: one whole extra window even when the size already divides
    assert lr_size((1024, 720), 2, "swinir", 8) == (368, 520)
    assert lr_size((1024, 720), 4, "swinir", 8) == (184, 264)
    with pytest.raises(BenchError, match="window"):
        lr_size((1024, 720), 4, "swinir", None)


class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, padding=1)
        self.b = nn.Conv2d(8, 8, 5, padding=2, groups=8)
        self.c = nn.Linear(8, 4)

    def forward(self, x):
        return self.c(self.b(self.a(x)).mean(dim=(2, 3)))


def test_conv_and_linear_macs_by_hand():
    x = torch.rand(1, 3, 10, 12)
    expected = 3 * 8 * 9 * 120 + 8 * 25 * 120 + 8 * 4
    counted = fvcore_mult_adds(ConvNet(), x)
    assert counted["mult_adds"] == expected
    assert meta_mult_adds(ConvNet(), (1, 3, 10, 12)) == expected
    assert "aten::mean" in counted["skipped_ops"]


class Attention(nn.Module):
    def forward(self, x):
        q, k, v = x[..., :10, :4], x[..., :12, 4:8], x[..., :12, :5]
        return F.scaled_dot_product_attention(q, k, v.contiguous()[..., :4]).sum() + v.sum()


def test_sdpa_matmuls_are_counted():
    x = torch.rand(2, 3, 12, 8)
    counted = fvcore_mult_adds(Attention(), x)
    assert counted["by_operator"]["scaled_dot_product_attention"] == 2 * 3 * 10 * 12 * (4 + 4)


def test_params_with_and_without_position_bias_tables():
    for scale in (2, 3, 4):
        counts = count_params(registry.make("swinir-light", scale=scale))
        tables = 4 * 6 * (2 * 8 - 1) ** 2 * 6
        assert counts["params"] - counts["params_leaf_modules"] == tables
        assert abs(counts["params_leaf_modules"] - REPORTED[("swinir-light", str(scale), "params")]) < 1000
    classical = count_params(registry.make("swinir-classical", scale=4))["params"]
    assert abs(classical - REPORTED[("swinir-classical", "4", "params")]) < 0.05e6  # printed as 11.9M


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_swinir_light_published_mult_adds_under_swinir_convention(scale):
    model = registry.make("swinir-light", scale=scale)
    lr_h, lr_w = lr_size((1024, 720), scale, "swinir", model.window)
    ours = model.analytic_mult_adds(lr_h, lr_w)
    published = REPORTED[("swinir-light", str(scale), "mult_adds")]
    assert abs(ours - published) / published < 0.02
    assert abs(ours - published) < 0.05e9  # in fact equal to the printed precision


@pytest.mark.parametrize("name", [c.name for c in registry.list_models() if c.name != "bicubic"])
def test_every_model_counts_consistently_on_a_small_input(name, tmp_path, monkeypatch):
    """fvcore (conv+linear+matmul part) equals FlopCounterMode/2 on the meta device."""
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path))
    scale = 2
    model = registry.make(name, scale=scale)
    first = complexity(model, scale, hr=(48, 32))
    assert first["params"] > 0 and first["mult_adds"] > 0
    assert first["cross_check"]["relative_difference"] < 1e-3
    again = complexity(model, scale, hr=(48, 32))
    assert "cached" in again and again["mult_adds"] == first["mult_adds"]
    assert "cached" not in complexity(model, scale, hr=(48, 40))
