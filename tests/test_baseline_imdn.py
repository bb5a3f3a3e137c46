"""IMDN (ACM MM 2019): size, strict loading of the authors' checkpoints, and the published Set5 rows."""

import json
from pathlib import Path

import pytest
import torch

from bench import BenchError, registry
from bench.__main__ import main
from bench.checkpoints import load_weights
from bench.reported import reported_numbers
from reproductions.baselines.imdn import remap_official

REPORTED = {}
for row in reported_numbers():
    if row.paper == "imdn":
        REPORTED[(row.dataset, int(row.scale), row.metric)] = row.value


@pytest.fixture(scope="session")
def weights_dir(weights_root) -> Path:
    return weights_root


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_params_match_published():
    measured = n_params(registry.make("imdn", scale=2))
    assert measured == 694_404
    assert abs(measured - REPORTED[("", 2, "params")]) <= 0.005 * REPORTED[("", 2, "params")]
    # Only the upsampler's conv grows with the scale.
    assert n_params(registry.make("imdn", scale=3)) == 703_059
    assert n_params(registry.make("imdn", scale=4)) == 715_176


def test_output_size():
    model = registry.make("imdn", scale=3).eval()
    with torch.inference_mode():
        assert model(torch.rand(1, 3, 7, 9)).shape == (1, 3, 21, 27)


def test_remap_renames_the_official_keys():
    t = torch.zeros(1)
    official = {"module.fea_conv.weight": t, "module.IMDB1.c1.bias": t, "module.IMDB6.cca.conv_du.2.weight": t,
                "module.c.0.weight": t, "module.LR_conv.bias": t, "module.upsampler.0.weight": t}
    assert list(remap_official(official)) == ["fea_conv.weight", "blocks.0.c1.bias", "blocks.5.cca.conv_du.2.weight",
                                              "c.0.weight", "lr_conv.bias", "upsampler.0.weight"]


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_official_checkpoints_load_strictly(weights_dir, scale):
    model = load_weights(registry.make("imdn", scale=scale), weights_dir / f"imdn_x{scale}.pth")
    official = torch.load(weights_dir / f"imdn_x{scale}.pth", map_location="cpu", weights_only=True)
    assert torch.equal(model.blocks[5].cca.conv_du[2].weight, official["module.IMDB6.cca.conv_du.2.weight"])
    assert torch.equal(model.lr_conv.bias, official["module.LR_conv.bias"])


def test_wrong_scale_checkpoint_is_a_readable_error(weights_dir):
    with pytest.raises(BenchError, match=r"imdn_x3\.pth does not fit imdn .*upsampler\.0\.weight"):
        load_weights(registry.make("imdn", scale=2), weights_dir / "imdn_x3.pth")


@pytest.mark.data
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_set5_matches_published(data_root, weights_dir, capsys, scale):
    code = main(["evaluate", "imdn", "--weights", str(weights_dir / f"imdn_x{scale}.pth"), "--dataset", "Set5",
                 "--scale", str(scale), "--data-root", str(data_root), "--json", "--quiet"])
    assert code == 0
    measured = json.loads(capsys.readouterr().out)
    assert abs(measured["psnr"] - REPORTED[("Set5", scale, "psnr")]) <= 0.02
    assert abs(measured["ssim"] - REPORTED[("Set5", scale, "ssim")]) <= 0.001
