"""A training run of the tiny model of test_train.py that tests/test_fault_injection.py kills and resumes.
Arguments: run folder, data root, iterations."""

import dataclasses
import sys

import torch
from test_train import CONFIG, SPEC  # registers tiny-sr

from bench.train import train

if __name__ == "__main__":
    torch.set_num_threads(1)
    config = dataclasses.replace(CONFIG, iterations=int(sys.argv[3]), checkpoint_every=7, val_every=0, ema_decay=0.9,
                                 milestones=(40,), train_sets=("DIV2K-train",), val_set="Set5")
    train(SPEC, config, sys.argv[1], data_root=sys.argv[2], progress=False)
