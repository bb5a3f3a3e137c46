"""One rank of the two-"node" gloo test (tests/test_multinode.py), started by torchrun: trains the tiny model
of test_train.py on a prepared set. Arguments: run folder, data root."""

import dataclasses
import sys

import torch
import torch.distributed as dist
from test_train import CONFIG, SPEC  # registers tiny-sr

from bench.train import train

if __name__ == "__main__":
    torch.set_num_threads(1)
    config = dataclasses.replace(CONFIG, ema_decay=0.0, train_sets=("DIV2K-train",), val_set="Set5")
    train(SPEC, config, sys.argv[1], data_root=sys.argv[2], progress=False)
    dist.destroy_process_group()
