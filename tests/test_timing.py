"""Timing harness on CPU; the CUDA-event path is marked and runs only where CUDA exists."""

import json

import pytest
import torch
from torch import nn

from bench.__main__ import main
from bench.timing import measure_latency, time_reparameterization
from reproductions.layers import MultiBranchConv2d


def toy(width=8):
    torch.manual_seed(0)
    return nn.Sequential(MultiBranchConv2d(3, width, (5, 3, 1)), nn.ReLU(),
                         MultiBranchConv2d(width, 3, (3, 1), batch_norm=True))


def test_before_after_on_the_same_input():
    result = time_reparameterization(toy(), (1, 3, 24, 20), "cpu", warmup=1, repeats=3)
    assert result["reparameterized_modules"] == 2
    assert result["max_abs_diff"] < 1e-5
    assert result["params_after"] < result["params_before"]
    for key in ("before_ms", "after_ms", "speedup"):
        assert result[key] > 0
    assert result["before"]["repeats"] == 3 and result["before"]["iqr_ms"] >= 0


def test_model_without_reparameterisable_parts_says_so():
    result = time_reparameterization(nn.Conv2d(3, 3, 3, padding=1), (1, 3, 8, 8), "cpu", warmup=0, repeats=2)
    assert result["after_ms"] is None and "no reparameterisable parts" in result["note"]


def test_original_model_is_left_multi_branch():
    model = toy()
    time_reparameterization(model, (1, 3, 8, 8), "cpu", warmup=0, repeats=1)
    assert not any(getattr(m, "deployed", False) for m in model.modules())


def test_cli_time_json(capsys):
    code = main(["time", "bicubic", "--scale", "2", "--lr", "16x12", "--repeats", "2", "--warmup", "0", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["lr_size"] == "16x12" and result["after_ms"] is None


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA only: CUDA events and max_memory_allocated")
def test_cuda_events_path():
    x = torch.rand(1, 3, 64, 64, device="cuda")
    stats = measure_latency(toy().cuda().eval(), x, warmup=3, repeats=5)
    assert stats["median_ms"] > 0 and stats["peak_memory_kind"] == "cuda max_memory_allocated"
    result = time_reparameterization(toy(), (1, 3, 64, 64), "cuda", warmup=3, repeats=5)
    assert result["max_abs_diff"] < 1e-4
