"""MSRA-SR's training recipe, as data; every value tagged with where it comes from.

[paper] = MSRA-SR Sec. 4.1 "Implementation Details" (and 4.3 for the ablations); [swinir] = what the
paper inherits by "following SwinIR", read in SwinIR's lightweight training config (cszn/KAIR
options/swinir/train_swinir_sr_lightweight.json); the classical schedule is taken to be the same
(its config was not read here).
"""

from __future__ import annotations

from bench.train import TrainConfig


def recipe(model: str = "msra-light", train_set: str = "DIV2K") -> TrainConfig:
    """The paper's recipe for ``msra-light`` / ``msra-classical`` on DIV2K or DF2K (Table 2's two blocks)."""
    if model not in ("msra-light", "msra-classical"):
        raise ValueError(f"no MSRA-SR recipe for {model!r}")
    light = model == "msra-light"
    return TrainConfig(
        iterations=500_000,  # [paper]
        batch_size=64 if light else 32,  # [paper]
        lr_patch=48 if not light and train_set == "DIV2K" else 64,  # [paper]
        learning_rate=2e-4,  # [swinir] G_optimizer_lr
        betas=(0.9, 0.99),  # [paper]
        weight_decay=0.0,  # [swinir] G_optimizer_wd
        schedule="multistep",  # [swinir] MultiStepLR
        milestones=(250_000, 400_000, 450_000, 475_000),  # [swinir] (500K is the end)
        gamma=0.5,  # [swinir]
        loss="l1",  # [paper]
        ema_decay=0.999,  # [swinir] E_decay
        augment=True,  # [swinir] flips and rotations (KAIR's SR dataset)
        train_sets=("DIV2K-train",) if train_set == "DIV2K" else ("DIV2K-train", "Flickr2K"),  # [paper]
        val_set="Set5",
    )


# The ablations of Table 4 [paper, Sec. 4.3]: DIV2K, x2, 300K iterations, batch 32.
ABLATION = dict(iterations=300_000, batch_size=32)
