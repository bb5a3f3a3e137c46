"""MSRA-SR's training recipe, as data; every value tagged with where it comes from.

[paper] = MSRA-SR Sec. 4.1 "Implementation Details" (and 4.3 for the ablations); [swinir] = what the
paper inherits by "following SwinIR", read in SwinIR's lightweight training config (cszn/KAIR
options/swinir/train_swinir_sr_lightweight.json); the classical schedule is taken to be the same
(its config was not read here).
The training engine (issue 5) consumes these; nothing here runs by itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Recipe:
    model: str
    train_set: str  # "DIV2K" (800 training images) or "DF2K" (DIV2K + Flickr2K, 3,450 images) [paper]
    lr_patch: int  # LR patch side: 48 for classical on DIV2K, 64 otherwise [paper]
    batch_size: int  # 64 light, 32 classical [paper]
    iterations: int = 500_000  # [paper]
    optimizer: str = "adam"  # [paper]
    betas: tuple[float, float] = (0.9, 0.99)  # [paper]
    learning_rate: float = 2e-4  # [swinir] G_optimizer_lr
    weight_decay: float = 0.0  # [swinir] G_optimizer_wd
    milestones: tuple[int, ...] = (250_000, 400_000, 450_000, 475_000)  # [swinir] MultiStepLR; 500K is the end
    gamma: float = 0.5  # [swinir] G_scheduler_gamma
    loss: str = "l1"  # [paper]
    ema_decay: float = 0.999  # [swinir] E_decay (KAIR keeps an EMA copy of the weights)
    augment: tuple[str, ...] = field(default=("hflip", "vflip", "rot90"))  # [swinir] KAIR's SR dataset
    lr_degradation: str = "matlab-bicubic"  # [paper] bicubic degradation; MATLAB imresize as SwinIR's data


def recipe(model: str = "msra-light", train_set: str = "DIV2K") -> Recipe:
    """The paper's recipe for ``msra-light`` / ``msra-classical`` on DIV2K or DF2K (Table 2's two blocks)."""
    if model == "msra-light":
        return Recipe(model, train_set, lr_patch=64, batch_size=64)
    if model == "msra-classical":
        return Recipe(model, train_set, lr_patch=48 if train_set == "DIV2K" else 64, batch_size=32)
    raise ValueError(f"no MSRA-SR recipe for {model!r}")


# The ablations of Table 4 were trained shorter [paper, Sec. 4.3]: 300K iterations, batch 32.
ABLATION = dict(iterations=300_000, batch_size=32)
