import os
from pathlib import Path

import pytest
from image_cache import ImageCache

REPO = Path(__file__).resolve().parents[1]
SHARED_BENCHMARKS = REPO.parent / "shared" / "data" / "benchmarks"


def benchmark_root() -> Path | None:
    """Where the benchmark images are: $BENCH_DATA_ROOT, else the developers' ../shared copy."""
    for candidate in [*os.environ.get("BENCH_DATA_ROOT", "").split(os.pathsep), str(SHARED_BENCHMARKS)]:
        if candidate and (Path(candidate) / "Set5" / "HR").is_dir():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = benchmark_root()
    if root is None:
        message = "benchmark images not found (set BENCH_DATA_ROOT to a folder holding Set5/HR ...)"
        if os.environ.get("BENCH_REQUIRE_DATA") == "1":
            pytest.fail(message)  # CI has them: a missing folder there is a failure, not a skip
        pytest.skip(message)
    return root


@pytest.fixture(autouse=True)
def _isolated_results(tmp_path, monkeypatch):
    """No test writes into the real results store."""
    monkeypatch.setenv("BENCH_RESULTS_DIR", str(tmp_path / "results"))


@pytest.fixture(scope="session")
def image_cache() -> ImageCache:
    """One per test run: sample images decoded once, every HR MATLAB-resized once (see image_cache.py)."""
    return ImageCache()


@pytest.fixture(autouse=True)
def _images_once(request, monkeypatch):
    """Training and evaluation in the tests take their LR images from the run's cache; the benchmarks
    (tests/benchmarks, `nox -s bench`) time the real thing."""
    if request.node.path.parent.name != "benchmarks":
        request.getfixturevalue("image_cache").install(monkeypatch.setattr)
