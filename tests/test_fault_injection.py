"""Kill training at random moments (issue 21): 20 times, a run is started (resuming the last one), and once it is
stepping it gets a SIGKILL after a random few milliseconds (mid-step, mid-row, mid-checkpoint: a checkpoint every
7 steps, one step about 2 ms). The finished run equals an uninterrupted one bit for bit, and metrics.csv has
exactly one row per step."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file
from test_multinode import tiny_sets

from bench.data.prepared import prepare

SCRIPT = Path(__file__).with_name("killable_train.py")
ITERATIONS = 1000
KILLS = 20


def _start(run: Path, root: Path) -> subprocess.Popen:
    """A training process; its stderr goes to ``<run>.stderr`` (no pipe is left open when it is killed)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(
        [str(SCRIPT.parent), str(SCRIPT.parent.parent), os.environ.get("PYTHONPATH", "")])}
    with open(f"{run}.stderr", "w") as err:
        return subprocess.Popen([sys.executable, str(SCRIPT), str(run), str(root), str(ITERATIONS)], env=env,
                                stdout=subprocess.DEVNULL, stderr=err)


def _stderr(run: Path) -> str:
    return Path(f"{run}.stderr").read_text()[-2000:]


def _rows(run: Path) -> list[list[str]]:
    return [row.split(",") for row in (run / "metrics.csv").read_text().splitlines()[1:]]


@pytest.mark.slow
def test_twenty_random_kills_leave_a_run_that_resumes_bit_exact(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    tiny_sets(tmp_path)
    prepare("DIV2K-train", 2, tmp_path, workers=1, progress=False)
    reference = _start(tmp_path / "reference", tmp_path)
    assert reference.wait(timeout=600) == 0, _stderr(tmp_path / "reference")

    rng = random.Random(0)
    run = tmp_path / "killed"
    for _ in range(KILLS):
        done = len(_rows(run)) if (run / "metrics.csv").is_file() else 0
        process = _start(run, tmp_path)
        while process.poll() is None and (not (run / "metrics.csv").is_file() or len(_rows(run)) <= done):
            time.sleep(0.002)  # until it steps beyond where it resumed
        time.sleep(rng.uniform(0, 0.03))
        process.send_signal(signal.SIGKILL)
        assert process.wait() == -signal.SIGKILL, "the run ended before it was killed: lengthen ITERATIONS"
    final = _start(run, tmp_path)
    assert final.wait(timeout=600) == 0, _stderr(run)

    rows = _rows(run)
    assert [int(r[0]) for r in rows] == list(range(1, ITERATIONS + 1))  # one row per step, none twice
    assert [r[1] for r in rows] == [r[1] for r in _rows(tmp_path / "reference")]  # the same loss at every step
    a, b = load_file(str(tmp_path / "reference" / "final.safetensors")), load_file(str(run / "final.safetensors"))
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)
    assert not list((run / "checkpoints").glob("*.tmp"))
