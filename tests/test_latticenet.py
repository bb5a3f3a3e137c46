"""LatticeNet (ECCV 2020): sizes against the rows MSRA-SR's Table 1 copies, the authors' releases loading
strictly in their own format, Mult-Adds under LatticeNet's own 720p count, and the published Set5 x2 row,
which is a self-ensemble number.

The releases are not in the repository: the tests read them from ``$BENCH_WEIGHTS_DIR/zoo`` (else the
developers' ../shared copy; the ``zoo`` fixture) and skip when absent.
"""

import json
import re

import pytest
import torch

from bench import BenchError, registry
from bench.__main__ import main
from bench.checkpoints import load_weights
from bench.complexity import lr_size, meta_mult_adds
from bench.report import key_for
from bench.reported import reported_numbers
from reproductions.baselines.latticenet import remap_official

RELEASE = "LatticeNet_x{}.pt"  # the authors' EDSR-framework state_dicts, one per scale
ROWS = [r for r in reported_numbers() if r.paper == "msra" and r.model == "latticenet"]
MSRA = {(int(r.scale), r.dataset, r.metric): r for r in ROWS}


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def authors_name(key: str) -> str:
    """Our key -> the authors' (the inverse of remap_official), to build their format without the files."""
    key = re.sub(r"^blocks\.(\d+)\.", lambda m: f"body_unit{int(m.group(1)) + 1}.", key)
    key = re.sub(r"^fusion\.top\.(\d+)\.", lambda m: f"T_tdm{int(m.group(1)) + 1}.", key)
    return re.sub(r"^fusion\.lateral\.(\d+)\.", lambda m: f"L_tdm{int(m.group(1)) + 1}.", key)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_params_round_to_the_printed(scale):
    """756K / 765K / 777K: every parameter, the MeanShift convs' 24 included (trained, as the releases show)."""
    model = registry.make("latticenet", scale=scale)
    assert round(n_params(model) / 1e3) == MSRA[(scale, "", "params")].value / 1e3
    assert all(p.requires_grad for p in model.parameters())  # the authors' MeanShift was left trainable


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_output_size(scale):
    model = registry.make("latticenet", scale=scale).eval()
    with torch.inference_mode():
        assert model(torch.rand(1, 3, 6, 7)).shape == (1, 3, 6 * scale, 7 * scale)


def test_mult_adds_are_latticenet_own_720p_count():
    """169.5 / 76.3 / 43.6 G count a 1280x720 HR output (the CARN/IMDN rule), not MSRA-SR's stated 1024x720.
    x3's 76.3 G takes a 427-wide LR (1280 / 3 rounded up); the harness's whole-pixel LR, 426 wide, is 0.2%
    less, within the tolerance."""
    def mult_adds(scale, lr):
        with torch.device("meta"):
            model = registry.make("latticenet", scale=scale)
        return meta_mult_adds(model, (1, 3, *lr))

    for scale in (2, 4):
        printed = MSRA[(scale, "", "mult_adds")].value
        assert round(mult_adds(scale, lr_size((1280, 720), scale)) / 1e8) == round(printed / 1e8)
        assert mult_adds(scale, lr_size((1024, 720), scale)) < 0.85 * printed
    printed = MSRA[(3, "", "mult_adds")].value
    assert round(mult_adds(3, (240, 427)) / 1e8) == round(printed / 1e8)
    assert abs(mult_adds(3, lr_size((1280, 720), 3)) / printed - 1) < 0.003


def test_reported_rows_pair_with_self_ensemble_runs_and_the_720p_count():
    quality = [r for r in ROWS if r.metric in ("psnr", "ssim")]
    assert len(quality) == 24 and all(key_for(r)[0].self_ensemble for r in quality)
    sizes = [key_for(r)[0] for r in ROWS if r.metric == "mult_adds"]
    assert len(sizes) == 3 and {k.protocol for k in sizes} == {"1280x720"}


def test_remap_renames_the_authors_keys_and_the_load_names_what_does_not_fit(tmp_path):
    model = registry.make("latticenet", scale=2)
    ours = model.state_dict()
    official = {authors_name(k): v for k, v in ours.items()}
    assert "body_unit4.x_ca2.conv_std.2.bias" in official and "T_tdm3.0.weight" in official
    assert list(remap_official(official)) == list(ours)
    assert list(remap_official({f"module.{k}": v for k, v in official.items()})) == list(ours)

    broken = dict(official)
    del broken["body_unit2.compress.weight"]
    broken["body_unit5.compress.weight"] = torch.zeros(1)
    path = tmp_path / "broken.pt"
    torch.save(broken, path)
    with pytest.raises(BenchError, match=r"does not fit latticenet .*missing keys 1: blocks\.1\.compress\.weight"
                                         r".*unexpected keys 1: blocks\.4\.compress\.weight"):
        load_weights(registry.make("latticenet", scale=2), path)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_release_loads_strictly(zoo, scale):
    path = zoo / RELEASE.format(scale)
    official = torch.load(path, map_location="cpu", weights_only=True)
    model = load_weights(registry.make("latticenet", scale=scale), path)
    mine = model.state_dict()
    assert sorted(mine) == sorted(remap_official(official))
    assert all(torch.equal(mine[k], official[authors_name(k)]) for k in mine)
    assert n_params(model) == sum(v.numel() for v in official.values())  # the printed size counts the file
    # rgb_range 255, and MeanShift convs trained away from their start (identity, -255 x the DIV2K mean)
    assert model.sub_mean.bias.abs().max() > 100
    assert not torch.equal(model.sub_mean.weight.flatten(1), torch.eye(3))


def _evaluate(capsys, data_root, scale, weights, *extra):
    code = main(["evaluate", "latticenet", "--weights", str(weights), "--dataset", "Set5", "--scale", str(scale),
                 "--data-root", str(data_root), "--json", "--quiet", *extra])
    assert code == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.data
def test_x2_set5_with_self_ensemble_matches_published(zoo, data_root, capsys):
    """The printed 38.15 / 0.9610 is the release with the x8 self-ensemble, to the printed digit."""
    measured = _evaluate(capsys, data_root, 2, zoo / RELEASE.format(2), "--self-ensemble")
    assert measured["self_ensemble"]
    assert f"{measured['psnr']:.2f}" == MSRA[(2, "Set5", "psnr")].printed
    assert f"{measured['ssim']:.4f}" == MSRA[(2, "Set5", "ssim")].printed
