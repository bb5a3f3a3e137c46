"""CARN and CARN-M (ECCV 2018): sizes against the paper, the authors' releases loading strictly in their own
format, Mult-Adds under the 720p convention, and the published Set5 row of CARN x2.

The releases are not in the repository: the tests read them from ``$BENCH_WEIGHTS_DIR/zoo`` (else the
developers' ../shared copy; the ``zoo`` fixture) and skip when absent.
"""

import json

import pytest
import torch

from bench import BenchError, registry
from bench.__main__ import main
from bench.checkpoints import load_weights
from bench.complexity import lr_size, meta_mult_adds
from bench.reported import reported_numbers
from reproductions.baselines.carn import remap_official

CARN_M_FILE = "CARN-M_x2x3x4.pth"  # nmhkahn/CARN-pytorch checkpoint/carn_m.pth: x2, x3 and x4 upsamplers
CARN_FILES = ("CARN_x2_old.pth", "CARN_x2.pth")  # the x2 branch of the authors' carn.pth, two releases

# MSRA-SR's Table 1 copies CARN's rows (PSNR/SSIM, 1,592K params, Mult-Adds); reported.csv has no CARN-M row.
MSRA_CARN = {(int(r.scale), r.dataset, r.metric): r.value
             for r in reported_numbers() if r.paper == "msra" and r.model == "carn"}
CARN_M_PAPER_PARAMS = 412e3  # CARN paper, printed as 412K (no reported.csv row)


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def multi_scale_params(name: str) -> int:
    """The authors' multi-scale network (the ``multi-scale`` variant), the same at every scale."""
    counts = {n_params(registry.make(f"{name}.multi-scale", scale=s)) for s in (2, 3, 4)}
    assert len(counts) == 1
    return counts.pop()


def test_params_against_the_paper():
    # The paper counts the multi-scale network (all three upsamplers); one scale's model is much smaller.
    assert [n_params(registry.make("carn", scale=s)) for s in (2, 3, 4)] == [964_187, 1_148_827, 1_111_899]
    carn = multi_scale_params("carn")
    assert carn == 1_591_963
    assert carn == n_params(registry.make("carn", scale=2)) + sum(
        n_params(registry.make("carn", scale=s).upsample) for s in (3, 4))  # the x2 network + two upsamplers
    assert abs(carn - MSRA_CARN[(2, "", "params")]) < 500  # printed as 1,592K; the mean shifts are 24 of these
    # CARN-M: 414,811, every value in carn_m.pth; 0.7% above the printed 412K, not within its rounding. Without
    # biases it would be 412,050, but CARN's bias-free count (1,588,626) does not give its 1,592K: no one
    # counting rule reproduces both printed numbers.
    carn_m = multi_scale_params("carn-m")
    assert carn_m == 414_811
    assert abs(carn_m - CARN_M_PAPER_PARAMS) / CARN_M_PAPER_PARAMS < 0.007
    assert [n_params(registry.make("carn-m", scale=s)) for s in (2, 3, 4)] == [257_051, 303_451, 294_171]


def test_carn_m_shares_one_unit_per_block_and_uses_group_convolution():
    model = registry.make("carn-m", scale=2)
    assert not hasattr(model.b1, "b2")
    assert model.b1.b1.body[0].groups == 4 and model.upsample.up2.body[0].groups == 4


@pytest.mark.parametrize("name, scale", [("carn", 2), ("carn", 3), ("carn-m", 4)])
def test_output_size(name, scale):
    model = registry.make(name, scale=scale, channels=8).eval()
    with torch.inference_mode():
        assert model(torch.rand(1, 3, 5, 7)).shape == (1, 3, 5 * scale, 7 * scale)


def test_remap_keeps_the_branches_the_model_holds():
    t = torch.zeros(1)
    official = {"entry.weight": t, "b1.b1.body.0.weight": t, "upsample.up2.body.0.weight": t,
                "upsample.up3.body.0.bias": t, "upsample.up4.body.3.weight": t, "exit.bias": t}
    x4 = registry.make("carn", scale=4, channels=8)
    assert list(remap_official(official, x4)) == ["entry.weight", "b1.b1.body.0.weight",
                                                  "upsample.up4.body.3.weight", "exit.bias"]
    assert list(remap_official(official, registry.make("carn.multi-scale", scale=4, channels=8))) == list(official)
    single = {"module.upsample.up.body.0.weight": t}  # a single-scale (multi_scale=False) DataParallel training
    assert list(remap_official(single, registry.make("carn", scale=3, channels=8))) == ["upsample.up3.body.0.weight"]


def test_multi_scale_network_runs_the_built_scale():
    model = registry.make("carn.multi-scale", scale=3, channels=8).eval()
    with torch.inference_mode():
        assert model(torch.rand(1, 3, 5, 7)).shape == (1, 3, 15, 21)


def test_mult_adds_at_720p_reproduce_the_published():
    """CARN counts Mult-Adds for a 1280x720 HR output: 222.8G at x2 (what MSRA-SR's Table 1 prints, although
    its text states 1024x720, which gives 178.3G). x3's 118.8G is 1280x720 / 9 = 102,400 LR pixels (426.7 x 240),
    where a whole-pixel LR (426 x 240) gives 118.6G."""
    def mult_adds(name, scale, hr):
        with torch.device("meta"):
            model = registry.make(name, scale=scale)
        return meta_mult_adds(model, (1, 3, *lr_size(hr, scale)))

    assert abs(mult_adds("carn", 2, (1280, 720)) - MSRA_CARN[(2, "", "mult_adds")]) < 0.05e9
    assert abs(mult_adds("carn", 2, (1024, 720)) - 178.265e9) < 0.001e9
    assert abs(mult_adds("carn", 4, (1280, 720)) - MSRA_CARN[(4, "", "mult_adds")]) < 0.05e9
    x3 = mult_adds("carn", 3, (1280, 720))
    assert abs(x3 - 118.614e9) < 0.001e9  # every conv's count is linear in the LR area
    assert abs(x3 * (1280 * 720 / 9) / (426 * 240) - MSRA_CARN[(3, "", "mult_adds")]) < 0.05e9


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_carn_m_release_loads_strictly_at_each_scale(zoo, scale):
    path = zoo / CARN_M_FILE
    official = torch.load(path, map_location="cpu", weights_only=True)
    model = load_weights(registry.make("carn-m", scale=scale), path)
    prefix = f"upsample.up{scale}."
    mine = model.state_dict()
    assert sorted(mine) == sorted(k for k in official if not k.startswith("upsample.") or k.startswith(prefix))
    assert all(torch.equal(mine[k], official[k]) for k in mine)


def test_carn_m_release_is_the_multi_scale_network(zoo):
    path = zoo / CARN_M_FILE
    official = torch.load(path, map_location="cpu", weights_only=True)
    mine = load_weights(registry.make("carn-m.multi-scale", scale=3), path).state_dict()
    assert sorted(mine) == sorted(official) and all(torch.equal(mine[k], official[k]) for k in mine)


@pytest.mark.parametrize("file", CARN_FILES)
def test_carn_x2_releases_load_strictly(zoo, file):
    path = zoo / file
    official = torch.load(path, map_location="cpu", weights_only=True)
    model = load_weights(registry.make("carn", scale=2), path)
    mine = model.state_dict()
    assert sorted(mine) == sorted(official) and all(torch.equal(mine[k], official[k]) for k in mine)
    # the authors' input range: RGB in [0, 1], the DIV2K mean subtracted inside the network
    assert torch.allclose(model.sub_mean.shifter.bias, -torch.tensor([0.4488, 0.4371, 0.4040]))


def test_x2_only_release_does_not_fit_x3(zoo):
    with pytest.raises(BenchError, match=r"does not fit carn .*missing keys"):
        load_weights(registry.make("carn", scale=3), zoo / CARN_FILES[0])


def _evaluate(capsys, data_root, dataset, weights, protocol):
    code = main(["evaluate", "carn", "--weights", str(weights), "--dataset", dataset, "--scale", "2",
                 "--protocol", protocol, "--data-root", str(data_root), "--json", "--quiet", "--no-save"])
    assert code == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.data
def test_carn_x2_set14_row_is_the_newer_release_under_its_authors_evaluation(zoo, data_root, capsys):
    """CARN's authors measured with SelfExSR's quant_eval (rounded Y; nmhkahn/CARN-pytorch issues #30 and #46).
    Under it the newer x2 release gives the printed Set14 row (33.533 / 0.9166 vs 33.52 / 0.9166), and B100 and
    Urban100 too (32.104 / 0.8978 and 31.931 / 0.9256 vs 32.09 / 0.8978 and 31.92 / 0.9256: minutes, not tested
    here); the older release gives 33.439 / 0.9164 under basicsr and 33.407 under selfexsr."""
    measured = _evaluate(capsys, data_root, "Set14", zoo / "CARN_x2.pth", "selfexsr")
    assert abs(round(measured["psnr"], 2) - MSRA_CARN[(2, "Set14", "psnr")]) <= 0.01
    assert abs(measured["ssim"] - MSRA_CARN[(2, "Set14", "ssim")]) <= 0.001
