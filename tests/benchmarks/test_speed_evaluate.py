"""Evaluation speed (pytest-benchmark; skipped in the test run, `nox -s bench` runs it)."""

import pytest

from bench import registry
from bench.data.benchmarks import load_test_set
from bench.evaluate import evaluate
from bench.metrics import get_protocol


@pytest.mark.data
def test_bicubic_set14_x2_end_to_end(benchmark, data_root):
    """Load Set14 (HR + paired LR), upsample, score every image: the whole `evaluate` path."""
    card = registry.get("bicubic")
    protocol = get_protocol("basicsr")

    def run():
        test_set = load_test_set("Set14", 2, data_root)
        return evaluate(registry.make("bicubic", scale=2), card, test_set, protocol, progress=False)

    result = benchmark.pedantic(run, rounds=7, warmup_rounds=1)
    assert result["n_images"] == 14
