"""Full-size complexity and CPU inference efficiency (pytest-benchmark; `nox -s bench`).

The full complexity table is slow on a CPU (a full forward pass per model and scale), so it lives
here rather than in the test suite; so do the full-size checks of the published Mult-Adds."""

import time

import pytest
import torch

from bench import registry
from bench.complexity import complexity, lr_size
from bench.reported import reported_numbers

REPORTED = {(r.model, r.scale, r.metric): r.value for r in reported_numbers() if r.metric in ("params", "mult_adds")}


def test_full_complexity_table(benchmark):
    """Every registered model at every scale it has (x2/x3/x4 for arbitrary-scale ones), 1024x720 HR, no cache."""

    def table():
        rows = []
        for card in registry.list_models():
            for scale in card.scales or (2, 3, 4):
                if card.name == "bicubic" or scale not in (2, 3, 4):
                    continue
                result = complexity(registry.make(card.name, scale=scale), scale, use_cache=False, cross_check=False)
                rows.append((card.name, scale, result["params"], result["mult_adds"]))
        return rows

    rows = benchmark.pedantic(table, rounds=1, iterations=1)
    benchmark.extra_info["table"] = [f"{n} x{s}: {p:,} params, {m / 1e9:.2f} G" for n, s, p, m in rows]
    for line in benchmark.extra_info["table"]:
        print(line)


@pytest.mark.parametrize("name, scale, hr, lr_pad", [
    ("swinir-classical", 4, (1024, 720), "swinir"),  # MSRA-SR Table 3: fvcore at SwinIR's padded LR
    ("imdn", 2, (1280, 720), "none"),                # IMDN's own 720p rule, though MSRA-SR says 1024x720
    ("imdn", 4, (1280, 720), "none"),
])
def test_published_mult_adds_full_size(benchmark, name, scale, hr, lr_pad):
    model = registry.make(name, scale=scale)
    result = benchmark.pedantic(lambda: complexity(model, scale, hr=hr, lr_pad=lr_pad, use_cache=False,
                                                   cross_check=False), rounds=1, iterations=1)
    published = REPORTED.get((name, str(scale), "mult_adds"))
    benchmark.extra_info.update(mult_adds=result["mult_adds"], published=published, lr=result["lr_size"])
    assert abs(result["mult_adds"] - published) / published < 0.02


def _matmul_gflops(size: int = 2048, repeats: int = 5) -> float:
    a, b = torch.rand(size, size), torch.rand(size, size)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9


def _timed_against_matmul(benchmark, model, x: torch.Tensor, macs: int, rounds: int) -> tuple[float, float, float]:
    """(median seconds of a forward pass, its GFLOP/s at 2 per counted MAC, a large matmul's GFLOP/s timed
    after it in the same run), also kept in the benchmark's extra_info. One untimed pass runs first."""
    with torch.inference_mode():
        model(x)
        benchmark.pedantic(model, args=(x,), rounds=rounds, warmup_rounds=0)
    seconds = benchmark.stats.stats.median
    peak = _matmul_gflops()
    achieved = 2 * macs / seconds / 1e9
    benchmark.extra_info.update(seconds=seconds, gflops=achieved, matmul_gflops=peak,
                                fraction_of_matmul=achieved / peak)
    return seconds, achieved, peak


@pytest.mark.parametrize("name, scale", [("swinir-light", 4), ("imdn", 4)])
def test_cpu_inference_efficiency(benchmark, name, scale):
    """Forward at the LR of a 1024x720 HR (256x180 for x4): ms, and achieved GFLOP/s (2 FLOPs per counted
    MAC) as a fraction of a large fp32 matmul measured in the same run."""
    model = registry.make(name, scale=scale).eval()
    lr_h, lr_w = lr_size((1024, 720), scale)
    macs = complexity(model, scale)["mult_adds"]
    seconds, achieved, peak = _timed_against_matmul(benchmark, model, torch.rand(1, 3, lr_h, lr_w), macs, rounds=5)
    print(f"{name} x{scale} LR {lr_w}x{lr_h}: {seconds * 1000:.0f} ms, "
          f"{achieved:.1f} GFLOP/s = {100 * achieved / peak:.0f}% of fp32 matmul ({peak:.1f} GFLOP/s)")


# The paper models at a Urban100-sized LR (Urban100's HR is about 1024x768): 512x384 at x2, 256x192 at x4.
# BENCH_SPEED_LR=WIDTHxHEIGHT runs them all at one smaller LR instead (a quick look; say so beside the numbers).
PAPER_MODELS = [("msra-light", 2), ("msra-classical", 4), ("mstn", 2), ("mstn", 4), ("mesr", 2), ("mesr", 4),
                ("amms", 2), ("amms", 4), ("msit-edsr", 2), ("msit-edsr", 4), ("msit-rdn", 4)]


@pytest.mark.parametrize("name, scale", PAPER_MODELS)
def test_paper_model_speed(benchmark, name, scale):
    """Seconds per forward pass (deployed form, fp32, inference mode) and achieved GFLOP/s (2 per fvcore
    Mult-Add) as a fraction of a 2048x2048 fp32 matmul timed in the same run, on this machine's threads."""
    import os

    from bench.fastcount import fvcore_rules_mult_adds
    from bench.reparam import reparameterize

    given = os.environ.get("BENCH_SPEED_LR")
    width, height = (int(v) for v in given.split("x")) if given else (1024 // scale, 768 // scale)
    model = registry.make(name, scale=scale).eval()
    reparameterize(model)
    macs = fvcore_rules_mult_adds(model, (1, 3, height, width))["mult_adds"]
    # One timed pass (the largest models take minutes a pass) after one untimed pass at the same size: the
    # first pass at a new size grows the heap that later passes reuse (bench.keep_freed_memory), as the first
    # image of an evaluation does, and sets up the thread pool and oneDNN's kernels.
    seconds, achieved, peak = _timed_against_matmul(benchmark, model, torch.rand(1, 3, height, width), macs, rounds=1)
    benchmark.extra_info.update(lr=f"{width}x{height}", threads=torch.get_num_threads())
    print(f"{name} x{scale} LR {width}x{height}: {seconds:.2f} s, {achieved:.1f} GFLOP/s = "
          f"{100 * achieved / peak:.0f}% of fp32 matmul ({peak:.1f} GFLOP/s, {torch.get_num_threads()} threads)")
