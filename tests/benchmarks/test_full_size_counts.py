"""The counting cross-check on every full-size registered model (`nox -s bench`).

The test suite runs the same check on a reduced configuration of each model (tests/test_complexity.py),
and proves there that each reduction runs the operators of its full-size model; this is the check on the
models themselves: fvcore's conv+linear+matmul part equals FlopCounterMode/2 on the meta device."""

import pytest

from bench import registry
from bench.complexity import complexity

MODELS = [c.name for c in registry.list_models() if c.name != "bicubic" and "." not in c.name]


@pytest.mark.parametrize("name", MODELS)
def test_full_size_model_counts_consistently_on_a_small_input(benchmark, name, tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path))
    model = registry.make(name, scale=2)
    first = benchmark.pedantic(lambda: complexity(model, 2, hr=(48, 32)), rounds=1, iterations=1)
    assert first["params"] > 0 and first["mult_adds"] > 0
    assert first["cross_check"]["relative_difference"] < 1e-3
    again = complexity(model, 2, hr=(48, 32))
    assert "cached" in again and again["mult_adds"] == first["mult_adds"]
