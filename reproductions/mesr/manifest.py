"""MESR's experiments as steps: ``python -m bench reproduce mesr`` (= ``nox -s reproduce-mesr``).

Params and Mult-Adds (fvcore, HR 1024x720, LR = HR // s; the model's own conv formula beside it) of MESR
x2/x3/x4 and of every Table 1 / Table 2 row at x4 (the paper's size cells were lost). Activations at
initialisation, merged against literal skips. MESR trained at x2 and x4, both stage outputs (refined, and
the first stage's coarse image) evaluated beside bicubic: Set5 after a smoke run of 4000 steps (about 80
minutes a scale on 2 cores), every benchmark after the paper's. Opt-in (``--steps``): the Table 1/2 rows
trained at x4 and evaluated on Set14 (Table 1's setting), and ``rb-probe``, what the refinement block can
gain over this run's frozen x2 first stage.
"""

from pathlib import Path

from bench.paper import BENCHMARKS, Evaluate, Paper, Probe, Sizes, Train
from reproductions.mesr.probes import init_activations
from reproductions.mesr.rb_probe import probe

TABLE_ROWS = ("single-scale", "with-msfeb", "with-rffb", "with-rb", "rb-dagger")
MAIN = (("mesr", 2), ("mesr", 3), ("mesr", 4))
# On Set5 x2 a 3000-step run ended 0.14 dB under bicubic; 4000 steps (milestones scale with it) passed it.
SMOKE = {"iterations": 4000}
CI_TRAIN = {"iterations": 30, "train_sets": ("samples-train",)}
_TABLE_1 = "the paper does not say how long the Table 1 models trained (the full recipe is assumed)"

PAPER = Paper(
    name="mesr",
    title="MESR: multistage enhancement network for image SR (IEEE Access 2022)",
    reported=Path(__file__).with_name("reported.csv"),
    about=__doc__.split("\n\n")[1],
    steps=(
        Sizes(id="sizes", rows=MAIN + tuple((f"mesr.{row}", 4) for row in TABLE_ROWS),
              tiers={"ci": {"rows": MAIN, "hr": (64, 64), "cache": False}, "smoke": {}, "paper": {}}),
        Probe(id="init-activations", kind="init-activations", run=init_activations),
        Train(id="train", model="mesr", scales=(2, 4), budget=SMOKE,
              tiers={"ci": {"model": "mesr.ci-reduced", "scales": (2,), "budget": CI_TRAIN}, "smoke": {}, "paper": {}}),
        Evaluate(id="evaluate", models=("mesr", "mesr.coarse"), scales=(2, 4), weights="train", against="bicubic",
                 tiers={"ci": {"models": ("mesr.ci-reduced", "mesr.ci-reduced-coarse"), "scales": (2,),
                               "sets": ("Set5",)}, "smoke": {"sets": ("Set5",)}, "paper": {"sets": BENCHMARKS}}),
        *(step for row in TABLE_ROWS for step in (
            Train(id=f"train-{row}", model=f"mesr.{row}", scales=(4,), budget=SMOKE, opt_in=True,
                  tiers={"smoke": {}, "paper": {}}),
            Evaluate(id=f"evaluate-{row}", models=(f"mesr.{row}",), scales=(4,), weights=f"train-{row}",
                     sets=("Set14",), opt_in=True, tiers={"smoke": {}, "paper": {}}))),
        Probe(id="rb-probe", kind="rb-probe", run=probe, opt_in=True, tiers={"smoke": {}, "paper": {}}),
    ),
    flags=(
        "the paper's tables are missing from the text available here (lost in extraction): none of its size, "
        "Mult-Adds or benchmark cells could be typed; the two Table 1 values below are stated in its text "
        "(lines 963-966), and the sizes and evaluations measured here are listed under 'Measured here, no "
        "reported twin'",
    ),
    known_differences={
        ("mesr", "mesr", "single-scale", "4", "psnr"): (
            "the paper names only 'a single-scale 3x3 kernel' for the baseline's extractor; here each funnel unit "
            "becomes 3x3-ReLU-3x3 inside the same block (an inferred layout); " + _TABLE_1),
        ("mesr", "mesr", "with-msfeb", "4", "psnr"): (
            "derived from the text (28.18 + 0.19 dB), not a printed cell; " + _TABLE_1),
    },
)
