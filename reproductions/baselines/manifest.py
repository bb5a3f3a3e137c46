"""What the compared methods contribute to the papers' tables: ``python -m bench reproduce baselines``.

Bicubic under the MATLAB-era protocol on every benchmark set present, x2/x3/x4 (the bicubic rows that
AMMS's Table 2 and many others print); the authors' public IMDN checkpoints, and SRCNN's, FSRCNN's and VDSR's
MATLAB releases (run as their authors' test code runs them, on Y), LapSRN's MatConvNet releases under its
authors' evaluation, CARN's x2 release, and LatticeNet's x2/x3/x4 releases with the x8 self-ensemble (as its
published rows are), on every set present; params and Mult-Adds of the baselines the papers compare sizes
with, at each paper's HR size; and the SwinIR-light x2 training (the training engine's must-show), evaluated
on Set5 and Set14.
"""

from pathlib import Path

from bench.paper import Evaluate, Paper, Sizes, Train

SMALL = {"hr": (64, 64), "lr_pad": "none"}  # the ci budget counts every size at a small HR
ZOO = "$BENCH_WEIGHTS_DIR/zoo, from the authors' test packages (see the README's weights table)"


def _released(name: str, file: str, ci_sets: tuple[str, ...] = ("Set5", "Set14")) -> Evaluate:
    """A MATLAB-era Y network's release under the matlab protocol (its authors' evaluation)."""
    return Evaluate(id=name, models=(name,), scales=(2, 3, 4), protocol="matlab", weights="{weights_dir}/zoo/" + file,
                    weights_source=ZOO, fallback="", tiers={"ci": {"sets": ci_sets}, "smoke": {}, "paper": {}})
EVERY_TIER_SMALL = {"ci": SMALL, "smoke": {}, "paper": {}}

PAPER = Paper(
    name="baselines",
    title="Compared methods: bicubic, released weights and sizes of the models the papers compare against",
    reported=Path(__file__).with_name("reported.csv"),
    about=__doc__.split("\n\n")[1],
    other_titles={"imdn": "IMDN: lightweight image SR with information multi-distillation (ACM MM 2019)"},
    steps=(
        Evaluate(id="bicubic", models=("bicubic",), scales=(2, 3, 4), protocol="matlab", fallback=""),
        Evaluate(id="imdn", models=("imdn",), scales=(2, 3, 4), weights="{weights_dir}/imdn_x{scale}.pth",
                 weights_source="https://github.com/Zheng222/IMDN (checkpoints/IMDN_x{2,3,4}.pth), saved as "
                                "imdn_x{s}.pth in $BENCH_WEIGHTS_DIR",
                 tiers={"ci": {"sets": ("Set5", "Set14")}, "smoke": {}, "paper": {}}),
        _released("srcnn", "SRCNN_x{scale}.mat"),
        _released("fsrcnn", "FSRCNN_x{scale}.mat"),
        # MSTN's Table I prints a re-evaluation of FSRCNN at x2 (a grayscale image as its own Y, the rest as LapSRN's)
        Evaluate(id="fsrcnn-x2-re-evaluated", models=("fsrcnn",), scales=(2,), protocol="lapsrn-gray-y",
                 weights="{weights_dir}/zoo/FSRCNN_x{scale}.mat", weights_source=ZOO, fallback="",
                 tiers={"ci": {"sets": ("Set5", "Set14")}, "smoke": {}, "paper": {}}),
        _released("vdsr", "VDSR_x2x3x4.mat", ci_sets=("Set5",)),  # 20 full-resolution convs: Set14 adds minutes
        # LapSRN: its authors' evaluation (LR of the double RGB, Y network + bicubic CbCr); no x3 release: the authors'
        # SR_LapSRN.m resizes the x4 model's output (x3_from=4)
        Evaluate(id="lapsrn", models=("lapsrn",), scales=(2, 4), protocol="lapsrn",
                 weights="{weights_dir}/zoo/LapSRN_x{scale}.mat", weights_source=ZOO, fallback="",
                 tiers={"ci": {"sets": ("Set5", "Set14")}, "smoke": {}, "paper": {}}),
        Evaluate(id="lapsrn-x3", models=("lapsrn",), scales=(3,), protocol="lapsrn",
                 weights="{weights_dir}/zoo/LapSRN_x4.mat", weights_source=ZOO, fallback="",
                 tiers={"ci": {"sets": ("Set5", "Set14")}, "smoke": {}, "paper": {}}),
        # CARN x2: the newer of the two releases of the authors' carn.pth x2 branch under their evaluation (SelfExSR's
        # rounded Y, as they say in their issue tracker) gives the printed Set14 and B100 rows; the older one
        # matches Set5 alone, under basicsr. No x3/x4 release is available.
        Evaluate(id="carn", models=("carn",), scales=(2,), protocol="selfexsr", weights="{weights_dir}/zoo/CARN_x2.pth",
                 weights_source=ZOO, fallback="", tiers={"ci": {"sets": ("Set5", "Set14")}, "smoke": {}, "paper": {}}),
        # LatticeNet's printed rows (copied by MSRA-SR's Table 1) are its x8 self-ensemble numbers: the releases
        # give them with it, 0.08-0.13 dB less without (Set5; Set14 x4). Eight passes per image: ci runs Set5.
        Evaluate(id="latticenet", models=("latticenet",), scales=(2, 3, 4), ensemble=True,
                 weights="{weights_dir}/zoo/LatticeNet_x{scale}.pt", weights_source=ZOO, fallback="",
                 tiers={"ci": {"sets": ("Set5",)}, "smoke": {}, "paper": {}}),
        # IMDN's, CARN's and LatticeNet's own 720p rule (MSRA-SR's Table 1 copies their counts); MSRA-SR's
        # Tables 1 and 3 at 1024x720 with SwinIR's padded LR (RCAN too, at MSRA-SR's window 16: 832G; 734G at
        # the true LR);
        # MSIT's Table I and MSTN's Table II print params only (EDSR-baseline, RDN and the arbitrary-scale
        # decoders on them; EDSR, MSRN, SRMDNF at x2), which no HR size changes.
        Sizes(id="sizes-720p", rows=(("imdn", 2), ("imdn", 3), ("imdn", 4), ("carn.multi-scale", 2),
                                     ("carn.multi-scale", 3), ("carn.multi-scale", 4), ("latticenet", 2),
                                     ("latticenet", 3), ("latticenet", 4)), hr=(1280, 720),
              tiers=EVERY_TIER_SMALL),
        Sizes(id="sizes-swinir", rows=(("swinir-light", 2), ("swinir-light", 3), ("swinir-light", 4),
                                       ("swinir-classical", 4)), lr_pad="swinir", tiers=EVERY_TIER_SMALL),
        Sizes(id="sizes-msra", rows=(("rcan", 4),), lr_pad="swinir-16", tiers=EVERY_TIER_SMALL),
        Sizes(id="sizes-params", rows=tuple((name, 2) for name in (
            "rdn", "edsr-baseline", "liif-edsr-baseline", "liif-rdn", "metasr-edsr-baseline", "metasr-rdn",
            "lte-edsr-baseline", "lte-rdn", "ultrasr-edsr-baseline", "ultrasr-rdn", "clit-edsr-baseline",
            "clit-rdn", "edsr", "msrn", "srmdnf")), hr=(64, 64)),
        # MSRA-SR's Table 1 LAPAR-A rows at its stated 1024x720, and at LAPAR's own 1280x720, where the model's
        # analytic_mult_adds (LAPAR's published rule) gives the printed 171.0 / 114.0 / 94.0 G; its Table 3 ART-S
        # at the LR its own model is counted at, (HR // 4 // 16 + 1) * 16 per side, where fvcore gives 941 G.
        Sizes(id="sizes-msra-lapar-art", rows=(("lapar-a", 2), ("lapar-a", 3), ("lapar-a", 4)), tiers=EVERY_TIER_SMALL),
        Sizes(id="sizes-lapar-720p", rows=(("lapar-a", 2), ("lapar-a", 3), ("lapar-a", 4)), hr=(1280, 720),
              tiers={"ci": "sizes-msra-lapar-art counts LAPAR-A at the ci size", "smoke": {}, "paper": {}}),
        Sizes(id="sizes-msra-art-s", rows=(("art-s", 4),), lr_pad="swinir-16", tiers=EVERY_TIER_SMALL),
        Train(id="train", model="swinir-light", scales=(2,),
              tiers={"ci": {"budget": {"iterations": 40, "train_sets": ("samples-train",)}}, "smoke": {}, "paper": {}}),
        Evaluate(id="evaluate", models=("swinir-light",), scales=(2,), weights="train", sets=("Set5", "Set14"),
                 tiers={"ci": {"sets": ("Set5",)}, "smoke": {}, "paper": {}}),
    ),
)
