"""AMMS-Net's training recipe, as data; every value tagged with where it comes from.

[paper] = Sec. 4.1-4.2 of arXiv 2004.03939 ("Training Details"); [spec] = our reading where the paper is
silent (README, "Reconstructions").
"""

from __future__ import annotations

from bench.train import TrainConfig

HR_PATCH = 192  # [paper] "16 HR RGB image patches with a size of 192 x 192"
EPOCH = 1000  # [paper] "1,000 iterations of back-propagation constitute an epoch"


def recipe(scale: int = 2) -> TrainConfig:
    """One model per scale, trained from scratch [paper]."""
    if scale not in (2, 3, 4):
        raise ValueError(f"AMMS has x2, x3 and x4 models, not x{scale}")
    return TrainConfig(
        iterations=1000 * EPOCH,  # [paper] 1000 epochs ("about 5 days" on a GTX 1080Ti)
        batch_size=16,  # [paper]
        lr_patch=HR_PATCH // scale,  # [paper] HR 192: LR 96 / 64 / 48
        learning_rate=1e-4,  # [paper]
        betas=(0.9, 0.999),  # [paper]
        eps=1e-8,  # [paper]
        schedule="multistep",
        milestones=tuple(200 * EPOCH * k for k in range(1, 5)),  # [paper] halved every 200 epochs
        gamma=0.5,  # [paper]
        loss="l1",  # [paper]
        augment=True,  # [paper] random flips and 90-degree rotations
        train_sets=("291",),  # [paper] Timofte's 91 images + BSD200 (T91 + BSD200)
        val_set="Set5",  # [paper] Table 1 reports Set5
    )
