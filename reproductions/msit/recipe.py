"""MSIT's two-stage training recipe, as data; every value tagged with where it comes from.

[paper] = MSIT Sec. IV-A; [src] = the official configs (Jinchen2028/MSIT configs/train/*_MSIT{,_rim}.yaml,
``train.py``, ``scheduler.py``, ``datasets/cascaded_wrappers.py``)).

Stage A trains the model with plain convolutions; stage B swaps the 21 multi-scale convolutions for RIM,
starts from stage A's weights (``init_from``, set by whoever runs stage B) and trains again with a wider
scale range. An epoch is 1000 iterations (DIV2K 800 x repeat 40 / batch 32) [inf: arithmetic].
"""

from __future__ import annotations

from bench.train import TrainConfig

EPOCH = 1000  # iterations per epoch [inf: 800 images x repeat 40 / batch 32]


def recipe(stage: str = "b", train_set: str = "DIV2K", scale_range: tuple[float, float] | None = None,
           init_from: str = "") -> TrainConfig:
    """Stage ``a`` (plain convs, scale U(1, 4)) or ``b`` (RIM from stage A, U(1, 8) for the final models)."""
    if stage not in ("a", "b"):
        raise ValueError(f"MSIT has stages 'a' and 'b', not {stage!r}")
    if scale_range is None:
        scale_range = (1.0, 4.0) if stage == "a" else (1.0, 8.0)  # [paper Table V + src]; Table III used U(1, 4)
    return TrainConfig(
        iterations=1050 * EPOCH,  # [src epoch_max 1050: 50 warm-up + 1000 cosine; the paper says 1000 epochs]
        batch_size=32,  # [paper+src]
        lr_patch=48,  # [paper+src]
        learning_rate=1e-4,  # [src] reached after the warm-up
        betas=(0.9, 0.999),  # [src utils.make_optimizer: Adam defaults]
        schedule="cosine",  # [src CosineAnnealingLR(T_max=1000 epochs)], to ~0
        warmup=50 * EPOCH,  # [src GradualWarmupScheduler(multiplier=10, total_epoch=50)]
        warmup_start=0.1,  # [src] the warm-up climbs from 1e-5 to 1e-4
        loss="l1",  # [paper+src] on (x - 0.5) / 0.5 values; Adam makes the factor 2 immaterial [inf]
        augment=True,  # [src] hflip, vflip, transpose: the 8 dihedral transforms
        train_sets=("DIV2K-train",) if train_set == "DIV2K" else ("DIV2K-train", "Flickr2K"),  # [src]; [paper] DF2K
        val_set="Set5",
        sampler="arbitrary",  # [paper+src] LIIF-style coordinate queries
        scale_range=scale_range,
        scale_per="batch",  # [src collate_fn: one scale per batch; LIIF draws one per sample]
        queries=2304,  # [paper+src] sample_q = 48 x 48
        init_from=init_from,  # stage B: stage A's weights [src pre_train]
    )


# The ablations of Tables III-V [paper + src FDT ablation configs]: DIV2K, batch 16, repeat 20 (1000 its/epoch).
ABLATION = dict(batch_size=16)
