"""How much can MESR's refinement block gain over a fixed first stage? The ``rb-probe`` step of MESR's manifest:
``python -m bench reproduce mesr --steps train,rb-probe``.

The decision aid behind ``rb_space`` (model.py). The first stage of a trained MESR is frozen and its coarse
images are computed once, for a pool of training patches and for Set5; a fresh RB (Eq. 19) is then trained
alone under each reading and learning rate, and the probe prints refined - coarse PSNR on Set5 (``basicsr``
protocol) before and after. A decision aid, not a paper number: each row is stored as an ``rb-probe`` record.
"""

from __future__ import annotations

import dataclasses
import sys

import torch

from bench import registry
from bench.checkpoints import load_weights
from bench.data.benchmarks import load_test_set
from bench.data.training import PatchSampler, load_training_images
from bench.evaluate import model_input
from bench.metrics import get_protocol, score
from bench.train import training_loss
from reproductions.mesr.model import RB_INITS, RB_SPACES, RefinementBlock
from reproductions.mesr.recipe import recipe


def _mean_psnr(images: list[torch.Tensor], truths: list[torch.Tensor], scale: int) -> float:
    protocol = get_protocol("basicsr")
    return sum(score(sr, hr, scale, protocol)[0] for sr, hr in zip(images, truths, strict=True)) / len(images)


def rb_headroom(first_stage: torch.nn.Module, scale: int, data_root=None, train_sets=("B100", "Urban100"),
                eval_set: str = "Set5", patches: int = 640, lr_patch: int = 32, batch: int = 16,
                steps: int = 1500, learning_rates=(1e-4, 1e-3), spaces=RB_SPACES, inits=RB_INITS,
                seed: int = 0) -> list[dict]:
    """One row per (space, init, learning rate): Set5 PSNR of refined - coarse before and after training."""
    if first_stage.output != "coarse":
        raise ValueError(f"the probe needs the first stage alone: build MESR with output='coarse', "
                         f"not {first_stage.output!r}")
    first_stage = first_stage.eval()
    mean = first_stage.mean
    sampler = PatchSampler(load_training_images(list(train_sets), scale, data_root), scale, lr_patch)
    draws = torch.Generator().manual_seed(seed)
    pool_coarse, pool_hr = [], []
    with torch.no_grad():
        for start in range(0, patches, batch):
            lr, hr = sampler.batch(draws, min(batch, patches - start))
            pool_coarse.append(first_stage(lr))
            pool_hr.append(hr)
        pool_coarse, pool_hr = torch.cat(pool_coarse), torch.cat(pool_hr)
        card, protocol = registry.get("mesr"), get_protocol("basicsr")
        inputs = [model_input(p, scale, protocol, card) for p in load_test_set(eval_set, scale, data_root).pairs]
        test_coarse = [first_stage(lr)[0] for lr, _ in inputs]
    truths = [truth for _, truth in inputs]
    coarse_psnr = _mean_psnr(test_coarse, truths, scale)
    loss_config = dataclasses.replace(recipe(scale), loss_weights=())  # Charbonnier on the refined image

    rows = []
    for space in spaces:
        for init in inits:
            for rate in learning_rates:
                torch.manual_seed(seed)
                rb = RefinementBlock(init=init)
                centre = mean if space == "centred" else torch.zeros_like(mean)  # as MESR.forward

                def gain(rb=rb, centre=centre) -> float:
                    with torch.no_grad():
                        refined = [rb(c[None] - centre)[0] + centre[0] for c in test_coarse]
                    return _mean_psnr(refined, truths, scale) - coarse_psnr

                before = gain()
                optimizer = torch.optim.Adam(rb.parameters(), rate)
                picks = torch.Generator().manual_seed(seed + 1)
                for _ in range(steps):
                    i = torch.randint(len(pool_coarse), (batch,), generator=picks)
                    loss = training_loss(loss_config, rb(pool_coarse[i] - centre) + centre, pool_hr[i])
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                row = {"space": space, "init": init, "learning_rate": rate, "steps": steps,
                       "gain_at_init": before, "gain_after": gain(), "coarse_psnr": coarse_psnr}
                rows.append(row)
                print(f"{space:8} {init:14} lr {rate:g}: refined - coarse on {eval_set} {before:+.3f} dB at init, "
                      f"{row['gain_after']:+.3f} dB after {steps} RB-only steps", file=sys.stderr)
    return rows


def probe(ctx) -> list[dict]:
    """The manifest step: the first stage of this run's x2 MESR, frozen; one record per reading."""
    from bench.reproduce import weights_budget

    weights = ctx.weights.get(("train", 2))
    if weights is None:
        ctx.skip("rb-probe", "needs this run's x2 MESR: --steps train,rb-probe")
        return []
    first_stage = load_weights(registry.make("mesr", scale=2, output="coarse"), weights)
    print(f"RB-only training on a frozen first stage ({weights}); a decision aid, not a paper number",
          file=sys.stderr)
    spent = weights_budget(weights)
    return [{"model": "mesr", "variant": "", "scale": 2, "weights": weights, **row,
             "budget": {**spent, "note": f"first stage: {spent.get('note', '')}; RB alone {row['steps']} steps"}}
            for row in rb_headroom(first_stage, 2, ctx.data_root)]
