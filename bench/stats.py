"""Two models on the same images: is the difference in PSNR (and SSIM) more than the images' spread?

``paired_difference`` is the statistics: the mean per-image difference, a paired bootstrap interval of it and
the Wilcoxon signed-rank test. ``compare`` picks two stored evaluations (records of kind ``evaluate`` with
per-image scores) of the same set, scale and protocol, pairs their images by name and applies it to PSNR and
SSIM; ``python -m bench compare A B --dataset D --scale S`` prints it.

A model is named as everywhere else: ``model`` (the registered default) or ``model.variant`` (an ablation
row). Where several evaluations of it match, the most recent is taken, and the result says so.
"""

from __future__ import annotations

import os
import sys
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import wilcoxon

from bench import BenchError, registry, results
from bench.measurements import scale_text, tier_of

__all__ = ["RESAMPLES", "SEED", "CONFIDENCE", "PairedDifference", "paired_difference", "compare",
           "against_reference"]

RESAMPLES = 10_000
SEED = 0
CONFIDENCE = 0.95


@dataclass(frozen=True)
class PairedDifference:
    n: int  # image pairs
    mean: float  # mean of a - b
    low: float  # the paired bootstrap's CONFIDENCE interval of that mean
    high: float
    p_value: float  # Wilcoxon signed-rank, two-sided (scipy; zero differences dropped); 1 when all are zero
    a_better: int  # images with a > b
    b_better: int
    ties: int


def paired_difference(a: Any, b: Any, resamples: int = RESAMPLES, seed: int = SEED,
                      confidence: float = CONFIDENCE) -> PairedDifference:
    """``a - b`` image by image (``a[i]`` and ``b[i]`` are the same image's scores)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.ndim != 1 or a.shape != b.shape or a.size == 0 or not np.isfinite(a - b).all():
        raise BenchError(f"a paired comparison needs two equally long lists of finite scores, got {a.shape} "
                         f"and {b.shape}")
    differences = a - b
    n = differences.size
    rng = np.random.default_rng(seed)
    batch = max(1, 1_000_000 // n)  # resamples drawn at once: bounded memory for a large set
    means = np.concatenate([differences[rng.integers(0, n, size=(min(batch, resamples - start), n))].mean(axis=1)
                            for start in range(0, resamples, batch)])
    low, high = np.quantile(means, [(1 - confidence) / 2, (1 + confidence) / 2])
    # scipy warns and answers NaN when every difference is zero: no evidence either way
    p_value = float(wilcoxon(differences).pvalue) if differences.any() else 1.0
    return PairedDifference(n, float(differences.mean()), float(low), float(high), p_value,
                            int((differences > 0).sum()), int((differences < 0).sum()), int((differences == 0).sum()))


# ---- stored evaluations -------------------------------------------------------------------------------------

def _evaluated(images: pd.DataFrame, name: str, dataset: str, scale: str) -> pd.DataFrame:
    """The per-image rows of ``name``'s evaluations on ``dataset`` at ``scale``."""
    model, variant = registry.split_name(name)
    mine = images[(images["kind"] == "evaluate") & (images["model"] == model) & (images["variant"] == variant)]
    if mine.empty:
        variants = sorted(set(images.loc[images["model"] == model, "variant"]))
        rows = ", ".join(registry.join_name(model, v) for v in variants)
        raise BenchError(f"no evaluation of {name} with per-image scores in the results store" +
                         (f"; it holds {rows}" if rows else " (`python -m bench results --kind evaluate` lists them)"))
    where = mine[(mine["dataset"] == dataset) & (mine["scale"] == scale)]
    if where.empty:
        sets = ", ".join(sorted(set(mine["dataset"] + " x" + mine["scale"])))
        raise BenchError(f"{name} is not evaluated on {dataset} x{scale}; it is on {sets}")
    return where


def _protocol(a: pd.DataFrame, b: pd.DataFrame, names: tuple[str, str], protocol: str | None, where: str) -> str:
    have = {name: sorted(set(rows["protocol"])) for name, rows in zip(names, (a, b), strict=True)}
    common = sorted(set(have[names[0]]) & set(have[names[1]]))
    if protocol is not None and protocol in common:
        return protocol
    said = "; ".join(f"{name} under {', '.join(protocols)}" for name, protocols in have.items())
    if protocol is not None:
        raise BenchError(f"both must be evaluated under {protocol}: {said}")
    if not common:
        raise BenchError(f"no protocol in common ({said}): scores under different protocols are not comparable; "
                         f"evaluate one under the other's (`python -m bench evaluate {names[1]} {where} --protocol "
                         f"{have[names[0]][0]}`, with its --weights unless it is parameter-free like bicubic)")
    if len(common) > 1:
        raise BenchError(f"both are evaluated under {', '.join(common)}: say which with --protocol")
    return common[0]


def _latest(rows: pd.DataFrame, name: str, where: str, records: list[dict[str, Any]]
            ) -> tuple[pd.DataFrame, dict[str, Any], str]:
    """The images of the most recent of the evaluations in ``rows``, what it is, and a note if there were several."""
    runs = rows.drop_duplicates("record").sort_values(["time", "record"], na_position="first")
    chosen = int(runs["record"].iloc[-1])
    record, given = records[chosen], records[chosen].get("provenance") or {}
    about = {"name": name, "psnr": record.get("psnr"), "ssim": record.get("ssim"),
             "self_ensemble": record.get("self_ensemble") is True, "tier": tier_of(record.get("budget", "")),
             "time": given.get("time"), "git_commit": given.get("git_commit")}
    note = (f"{len(runs)} evaluations of {name} match {where}: took the most recent ({about['time']})"
            if len(runs) > 1 else "")
    return rows[rows["record"] == chosen], about, note


def _paired(a: pd.DataFrame, b: pd.DataFrame, metric: str, names: tuple[str, str]) -> tuple[PairedDifference, str]:
    """``metric`` of the images both have a finite score for, and a note on those left out."""
    both = a[["image", metric]].merge(b[["image", metric]], on="image", suffixes=("_a", "_b")).dropna()
    if both.empty:
        raise BenchError(f"{names[0]} and {names[1]} have no image with a {metric} in common")
    left_out = len(set(a["image"]) | set(b["image"])) - len(both)
    note = (f"{metric}: {left_out} images without a finite score on both sides left out (an infinite PSNR is an "
            f"output equal to the ground truth; otherwise the evaluations differ in images)") if left_out else ""
    return paired_difference(both[f"{metric}_a"], both[f"{metric}_b"]), note


def _compare(records: list[dict[str, Any]], images: pd.DataFrame, a: str, b: str, dataset: str, scale: str,
             protocol: str | None) -> dict[str, Any]:
    names = (a, b)
    found = [_evaluated(images, name, dataset, scale) for name in names]
    protocol = _protocol(*found, names, protocol, f"--dataset {dataset} --scale {scale}")
    where = f"{dataset} x{scale} ({protocol})"
    (rows_a, about_a, note_a), (rows_b, about_b, note_b) = (
        _latest(rows[rows["protocol"] == protocol], name, where, records) for name, rows in zip(names, found,
                                                                                             strict=True))
    psnr, note_psnr = _paired(rows_a, rows_b, "psnr", names)
    ssim, note_ssim = _paired(rows_a, rows_b, "ssim", names)
    return {"a": about_a, "b": about_b, "dataset": dataset, "scale": scale, "protocol": protocol,
            "psnr": asdict(psnr), "ssim": asdict(ssim), "resamples": RESAMPLES, "seed": SEED,
            "confidence": CONFIDENCE, "notes": [n for n in (note_a, note_b, note_psnr, note_ssim) if n]}


def compare(a: str, b: str, dataset: str, scale: Any, protocol: str | None = None,
            directory: str | os.PathLike | None = None, *, records: list[dict[str, Any]] | None = None
            ) -> dict[str, Any]:
    """``a`` against ``b`` (model names) on ``dataset`` at ``scale``, under ``protocol`` (default: the one both are
    evaluated under): the chosen evaluations, and ``paired_difference`` of their PSNR and SSIM as dicts. Raises
    BenchError when the store cannot answer, saying why."""
    records = results.load_records(directory) if records is None else records
    return _compare(records, results.image_frame(records=records), a, b, dataset, scale_text(scale), protocol)


def against_reference(records: list[dict[str, Any]], reference: str = "bicubic") -> list[dict[str, Any]]:
    """``compare`` of every other evaluated model against ``reference`` on every set, scale and protocol where both
    have per-image scores (the latest evaluation of each), ordered by model, set, scale and protocol."""
    images = results.image_frame(records=records)
    where = ["dataset", "scale", "protocol"]
    evaluated = images[images["kind"] == "evaluate"].dropna(subset=["model", *where])
    model, variant = registry.split_name(reference)
    is_reference = (evaluated["model"] == model) & (evaluated["variant"] == variant)
    pairs = evaluated.loc[~is_reference, ["model", "variant", *where]].drop_duplicates().merge(
        evaluated.loc[is_reference, where].drop_duplicates(), on=where).sort_values(["model", "variant", *where])
    found = []
    for pair in pairs.itertuples(index=False):
        name = registry.join_name(pair.model, pair.variant)
        try:
            found.append(_compare(records, images, name, reference, pair.dataset, pair.scale, pair.protocol))
        except BenchError as err:  # e.g. no image with a finite score on both sides
            print(f"warning: no paired comparison of {name} with {reference} on {pair.dataset} x{pair.scale} "
                  f"({pair.protocol}): {err}", file=sys.stderr)
    return found
