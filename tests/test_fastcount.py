"""``counter="fvcore-meta"`` (bench.fastcount) gives fvcore's count exactly: every registered model and ablation
row, on a small input, counted both ways."""

import pytest
import torch

from bench import registry
from bench.complexity import complexity, fvcore_mult_adds, input_planes
from bench.fastcount import fvcore_rules_mult_adds
from bench.reparam import reparameterize

CARDS = [card.name for card in registry.list_models() if card.name != "bicubic"]
LR = (12, 20)  # small, and not a multiple of the 8/16 windows: the padding paths run too


def built(name: str) -> torch.nn.Module:
    card = registry.get(name)
    torch.manual_seed(0)
    model = registry.make(name, scale=card.scales[0] if card.scales else 2).eval()
    reparameterize(model)
    return model


@pytest.mark.parametrize("name", CARDS)
def test_equals_fvcore(name):
    model = built(name)
    shape = (1, input_planes(name), *LR)
    fast = fvcore_rules_mult_adds(model, shape)
    reference = fvcore_mult_adds(model, torch.rand(shape))
    assert fast["by_operator"] == reference["by_operator"]
    assert fast["mult_adds"] == reference["mult_adds"] > 0


def test_counts_what_fvcore_skips_as_skipped():
    """Bicubic resizing has no fvcore handle: neither count includes it, and both name it."""
    model = built("lapar-a")
    shape = (1, 3, *LR)
    assert "aten::upsample_bicubic2d" in fvcore_rules_mult_adds(model, shape)["skipped_ops"]
    assert "aten::upsample_bicubic2d" in fvcore_mult_adds(model, torch.rand(shape))["skipped_ops"]


def test_norm_and_resampling_formulas():
    """fvcore's formulas for the ops that are not multiply-accumulates: layer/group norm 5 per element with an
    affine, batch norm in eval 2, nearest upsampling 1 and bilinear 4 per output, adaptive pooling (and 'area'
    resizing, which is adaptive pooling) 1 per input."""
    class Ops(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.ln, self.gn, self.bn = torch.nn.LayerNorm(4), torch.nn.GroupNorm(2, 4), torch.nn.BatchNorm2d(4)

        def forward(self, x):
            x = self.bn(self.gn(x))
            x = self.ln(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
            up = torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest")
            up = up + torch.nn.functional.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            up = up + torch.nn.functional.adaptive_avg_pool2d(up, 1)
            return up + torch.nn.functional.interpolate(up, size=(3, 5), mode="area").mean()

    n = 4 * 6 * 5
    counted = fvcore_rules_mult_adds(Ops().eval(), (1, 4, 6, 5))["by_operator"]
    assert counted == {"layer_norm": 5 * n, "group_norm": 5 * n, "batch_norm": 2 * n, "upsample_nearest2d": 4 * n,
                       "upsample_bilinear2d": 16 * n, "adaptive_avg_pool2d": 8 * n}
    assert counted == fvcore_mult_adds(Ops().eval(), torch.rand(1, 4, 6, 5))["by_operator"]


def test_complexity_with_the_fast_counter_is_fvcores(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path))
    model = registry.make("swinir-light", scale=2)
    fast = complexity(model, 2, hr=(48, 40), counter="fvcore-meta")
    slow = complexity(model, 2, hr=(48, 40), counter="fvcore")
    assert fast["mult_adds"] == slow["mult_adds"] and fast["params"] == slow["params"]
    assert fast["cross_check"]["relative_difference"] < 0.05


def test_complexity_all_counts_every_match_and_caches(tmp_path, monkeypatch, capsys):
    import json

    from bench.__main__ import main

    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path))
    argv = ["complexity", "--all", "carn*", "--hr", "32x24", "--no-save", "--json", "--quiet"]
    assert main(argv) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert sorted((r["model"], r["scale"]) for r in rows) == [
        (name, s) for name in ("carn", "carn-m", "carn-m.multi-scale", "carn.multi-scale") for s in (2, 3, 4)]
    reference = complexity(registry.make("carn", scale=3), 3, hr=(32, 24), counter="fvcore", use_cache=False)
    assert next(r for r in rows if (r["model"], r["scale"]) == ("carn", 3))["mult_adds"] == reference["mult_adds"]
    assert main(argv) == 0
    assert all("cached" in r for r in json.loads(capsys.readouterr().out)["rows"])
    assert main(["complexity", "--all", "nothing*", "--no-save"]) != 0
    assert "no registered model matches 'nothing*'" in capsys.readouterr().err
    assert main(["complexity", "--no-save"]) != 0
    assert "needs a model name, or --all" in capsys.readouterr().err
