"""The dry-run plan (issue 19): FLOPs from the complexity counter, recipe values with their sources, the GPU-hours
arithmetic, the retention policy's disk; nothing is trained."""

import dataclasses
import json

import pytest

from bench import BenchError, registry
from bench.__main__ import main
from bench.complexity import complexity
from bench.plan import DEVICE_CLASSES, plan
from bench.train import smoke


def test_flops_per_iteration_are_the_counters_forward_count_times_three(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path))
    spec = {"name": "swinir-light", "args": {"scale": 2}}
    config = smoke(registry.get("swinir-light").build_recipe(2), iterations=10, batch_size=4, lr_patch=16)
    p = plan(spec, config, tmp_path, world_size=2, device_class="h100", utilisation=0.5)
    counted = complexity(registry.make(spec), 2, hr=(32, 32), cross_check=False, as_trained=True)["mult_adds"]
    assert p["flops"]["forward_mult_adds_per_sample"] == counted
    assert p["flops"]["train_flops_per_iteration"] == 3 * 2 * counted * 4
    assert p["flops"]["total_flops"] == 10 * p["flops"]["train_flops_per_iteration"]
    peak = DEVICE_CLASSES["h100"][1]["fp32"]
    assert p["estimate"]["wall_hours"] == pytest.approx(p["flops"]["total_flops"] / (peak * 0.5 * 2) / 3600)
    assert p["estimate"]["gpu_hours"] == pytest.approx(2 * p["estimate"]["wall_hours"])
    assert p["batches"]["per_rank_batch"] == 2 and p["batches"]["global_batch"] == 4


def test_recipe_values_carry_their_sources_and_the_budgets_changes_say_so(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path))
    paper = registry.get("msra-light").build_recipe(2)
    p = plan({"name": "msra-light", "args": {"scale": 2}}, dataclasses.replace(paper, lr_patch=16), tmp_path)
    sources = {r["field"]: r["source"] for r in p["recipe"]}
    assert sources["betas"] == "[paper]" and sources["learning_rate"].startswith("[swinir]")
    assert sources["eps"] == "TrainConfig default"
    short = plan({"name": "msra-light", "args": {"scale": 2}}, smoke(paper, iterations=3, lr_patch=16), tmp_path)
    assert {r["field"]: r["source"] for r in short["recipe"]}["iterations"] == "budget: smoke"
    # DIV2K-train is not under this data root: its image count comes from the catalogue
    assert p["data"] == [{"set": "DIV2K-train", "present": False, "images": 800,
                          "note": "not under the data root: python -m bench data download DIV2K-train"}]


def test_checkpoint_disk_follows_the_retention_policy(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path))
    spec = {"name": "imdn", "args": {"scale": 2}}
    base = smoke(registry.get("swinir-light").build_recipe(2), iterations=10, batch_size=2, lr_patch=8)
    params = sum(x.numel() for x in registry.make(spec).parameters())
    for keep_last, keep_best, ema in ((1, True, 0.0), (3, False, 0.999)):
        config = dataclasses.replace(base, keep_last=keep_last, keep_best=keep_best, ema_decay=ema)
        c = plan(spec, config, tmp_path)["checkpoints"]
        each = 4 * params * (3 + (ema > 0))
        assert c["bytes_each"] == each and c["kept"] == keep_last + keep_best
        assert c["disk_bytes"] == each * (keep_last + keep_best) + 4 * params


def test_dry_run_on_the_command_line_trains_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path))
    run = tmp_path / "run"
    assert main(["train", "swinir-light", "--scale", "2", "--recipe", "smoke", "--iterations", "5", "--lr-patch", "8",
                 "--dry-run", "--json", "--run-dir", str(run), "--data-root", str(tmp_path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["batches"]["iterations"] == 5 and not run.exists()
    with pytest.raises(BenchError, match="does not split over 3"):
        plan({"name": "imdn", "args": {"scale": 2}}, smoke(registry.get("swinir-light").build_recipe(2)), world_size=3)
