import os
from pathlib import Path

import pytest
import torch
from image_cache import ImageCache

REPO = Path(__file__).resolve().parents[1]
SHARED_BENCHMARKS = REPO.parent / "shared" / "data" / "benchmarks"
SHARED_WEIGHTS = REPO.parent / "shared" / "data" / "weights"
DEFAULT_THREADS = torch.get_num_threads()  # torch's own choice (OMP_NUM_THREADS, else the cores)
TEST_THREADS = int(os.environ.get("BENCH_TEST_THREADS", "1"))


def benchmark_root() -> Path | None:
    """Where the benchmark images are: $BENCH_DATA_ROOT, else the developers' ../shared copy."""
    for candidate in [*os.environ.get("BENCH_DATA_ROOT", "").split(os.pathsep), str(SHARED_BENCHMARKS)]:
        if candidate and (Path(candidate) / "Set5" / "HR").is_dir():
            return Path(candidate)
    return None


def absent(message: str):
    """Skip a test whose data or weights are not here; fail it where they must be (CI sets BENCH_REQUIRE_DATA)."""
    if os.environ.get("BENCH_REQUIRE_DATA") == "1":
        pytest.fail(message)  # CI has them: a missing folder there is a failure, not a skip
    pytest.skip(message)


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = benchmark_root()
    if root is None:
        absent("benchmark images not found (set BENCH_DATA_ROOT to a folder holding Set5/HR ...)")
    return root


@pytest.fixture(scope="session")
def weights_root() -> Path:
    """Published weights: $BENCH_WEIGHTS_DIR, else the developers' ../shared copy (IMDN's checkpoints at its top)."""
    for candidate in (os.environ.get("BENCH_WEIGHTS_DIR", ""), str(SHARED_WEIGHTS)):
        if candidate and (Path(candidate) / "imdn_x2.pth").is_file():
            return Path(candidate)
    absent("published weights not found (set BENCH_WEIGHTS_DIR to a folder holding imdn_x2.pth ...)")


@pytest.fixture(scope="session")
def zoo(weights_root) -> Path:
    """The compared methods' releases, in ``zoo/`` of the weights folder."""
    found = weights_root / "zoo"
    if not (found / "SRCNN_x3.mat").is_file() or not (found / "CARN-M_x2x3x4.pth").is_file():
        absent(f"the authors' releases are not in {found} (SRCNN_x3.mat, CARN-M_x2x3x4.pth ...)")
    return found


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


@pytest.fixture(autouse=True)
def _threads(request, monkeypatch):
    """Tests run one intra-op thread (BENCH_TEST_THREADS=N for another count), benchmarks torch's default.

    The suite is thousands of small tensor ops, where a second OpenMP thread gains nothing; on a machine that
    runs other work, each op then waits until that thread is scheduled again. On a busy 2-core machine MESR's
    five variant builds took 18.7 s with 2 threads and 0.3 s with 1, and the whole suite 15 min against 3.
    Subprocesses (the CLI tests) get the same count through OMP_NUM_THREADS."""
    if request.node.path.parent.name == "benchmarks":
        torch.set_num_threads(DEFAULT_THREADS)
        return
    torch.set_num_threads(TEST_THREADS)
    monkeypatch.setenv("OMP_NUM_THREADS", str(TEST_THREADS))
