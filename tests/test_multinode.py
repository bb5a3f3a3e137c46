"""Multi-node training (issue 19): two torchrun agents on localhost, two gloo processes each, rendezvous over
c10d as two machines would, train on a prepared set and follow one process with the same global batch."""

import dataclasses
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from test_train import CONFIG, SPEC, losses

from bench.data.prepared import prepare
from bench.train import train

SCRIPT = Path(__file__).with_name("multinode_train.py")


def tiny_sets(root: Path) -> None:
    rng = np.random.default_rng(0)
    for name, count, size in (("DIV2K-train", 4, 48), ("Set5", 2, 24)):
        (root / name / "HR").mkdir(parents=True)
        for i in range(count):
            image = rng.integers(0, 256, (size, size + 4, 3), dtype=np.uint8)
            Image.fromarray(image).save(root / name / "HR" / f"{i}.png")


def test_two_nodes_of_two_gloo_processes_follow_one_process(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    tiny_sets(tmp_path)
    prepare("DIV2K-train", 2, tmp_path, workers=1, progress=False)
    config = dataclasses.replace(CONFIG, ema_decay=0.0, train_sets=("DIV2K-train",), val_set="Set5")
    train(SPEC, config, tmp_path / "one", data_root=tmp_path, progress=False)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(
        [str(SCRIPT.parent), str(SCRIPT.parent.parent), os.environ.get("PYTHONPATH", "")])}
    nodes = [subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "2",
         "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", "two-nodes",
         "--rdzv-conf", f"is_host={int(node == 0)}", "--max-restarts", "0",
         str(SCRIPT), str(tmp_path / "four"), str(tmp_path)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for node in (0, 1)]
    outputs = [node.communicate(timeout=600)[0] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], "\n".join(outputs)[-3000:]
    torch.testing.assert_close(torch.tensor(losses(tmp_path / "four")), torch.tensor(losses(tmp_path / "one")),
                               rtol=1e-5, atol=1e-6)
