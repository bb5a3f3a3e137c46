"""LapSRN (CVPR 2017) from its authors' MatConvNet releases, and the ``lapsrn`` protocol (their test code).

The loader is checked against a numpy interpreter of the release's own DagNN graph (its ``layers`` walked in
order, MatConvNet's conv/convt semantics spelled out), and the protocol against LapSRN's published Set5 x2 row.
"""

import json

import numpy as np
import pytest
import torch

from bench import registry
from bench.__main__ import main
from bench.checkpoints import load_weights, read_state_dict
from bench.data.benchmarks import Pair
from bench.data.imresize import imresize
from bench.evaluate import model_input, runner
from bench.metrics import get_protocol, reference_planes, rgb_to_y, rgb_to_ycbcr, ycbcr_to_rgb
from bench.reported import reported_numbers
from reproductions.baselines.lapsrn import LapSRN, remap_lapsrn


def _text(value) -> str:
    return str(np.asarray(value).reshape(-1)[0])


def _names(cell) -> list[str]:
    return [_text(v) for v in np.asarray(cell).reshape(-1)]


def vl_nnconv(x: np.ndarray, f: np.ndarray, b: np.ndarray, pad: int) -> np.ndarray:
    """MatConvNet conv: correlation of ``x [H, W, C]`` with ``f [h, w, C, K]`` (row index first), zero padding."""
    f = f.reshape(*f.shape, *([1] * (4 - f.ndim)))
    xp = np.pad(x, ((pad, pad), (pad, pad), (0, 0)))
    oh, ow = xp.shape[0] - f.shape[0] + 1, xp.shape[1] - f.shape[1] + 1
    out = np.zeros((oh, ow, f.shape[3]))
    for u in range(f.shape[0]):
        for v in range(f.shape[1]):
            out += xp[u:u + oh, v:v + ow, :] @ f[u, v]
    return out + b.reshape(-1)


def vl_nnconvt(x: np.ndarray, f: np.ndarray, b, up: int, crop: list[int]) -> np.ndarray:
    """MatConvNet transposed conv: input pixel (i, j) adds ``f(:, :, k, c)`` at ``(up*i, up*j)``, then
    ``crop = [top bottom left right]`` is cut off the full ``up*(H-1) + h`` output."""
    f = f.reshape(*f.shape, *([1] * (4 - f.ndim)))  # [h, w, out, in]
    h, w = x.shape[:2]
    full = np.zeros((up * (h - 1) + f.shape[0], up * (w - 1) + f.shape[1], f.shape[2]))
    for i in range(h):
        for j in range(w):
            full[up * i:up * i + f.shape[0], up * j:up * j + f.shape[1]] += f @ x[i, j]
    out = full[crop[0]:full.shape[0] - crop[1], crop[2]:full.shape[1] - crop[3]]
    return out if b is None else out + b.reshape(-1)


def dagnn_forward(net, lr: np.ndarray) -> np.ndarray:
    """``net.eval({'LR', lr})`` of the release, layer by layer, in float64; returns ``level1_output``."""
    params = {_text(p["name"]): np.asarray(p["value"], dtype=np.float64) for p in net["params"].reshape(-1)}
    values = {"LR": lr[:, :, None]}
    for layer in net["layers"].reshape(-1):
        kind, inputs, outputs = _text(layer["type"]), _names(layer["inputs"]), _names(layer["outputs"])
        if kind.startswith("dagnn.vllab"):  # the training losses
            continue
        block = layer["block"].reshape(-1)[0]
        weights = [params[n] for n in _names(layer["params"])] if np.asarray(layer["params"]).size else []
        x = values[inputs[0]]
        if kind == "dagnn.Conv":
            y = vl_nnconv(x, weights[0], weights[1], int(np.asarray(block["pad"]).reshape(-1)[0]))
        elif kind == "dagnn.ConvTranspose":
            up = int(np.asarray(block["upsample"]).reshape(-1)[0])
            y = vl_nnconvt(x, weights[0], weights[1] if len(weights) > 1 else None, up,
                           [int(c) for c in np.asarray(block["crop"]).reshape(-1)])
        elif kind == "dagnn.ReLU":
            leak = float(np.asarray(block["leak"]).reshape(-1)[0])
            y = np.where(x > 0, x, leak * x)
        elif kind == "dagnn.Sum":
            y = sum(values[n] for n in inputs)
        else:
            raise AssertionError(f"unexpected layer type {kind}")
        values[outputs[0]] = y
    return values["level1_output"][:, :, 0]


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_release_runs_as_its_dagnn_graph(zoo, scale):
    path = zoo / f"LapSRN_x{scale}.mat"
    if not path.is_file():
        pytest.skip(f"{path} is not here")
    net = read_state_dict(path)["net"].reshape(-1)[0]
    lr = np.random.default_rng(scale).random((7, 6))
    # x8 is not a registered scale: built directly, three levels of 5 convs (the x8 release's depth)
    model = LapSRN(scale, depth=5 if scale == 8 else 10)
    model.load_state_dict(remap_lapsrn(read_state_dict(path)), strict=True)
    model = model.double().eval()
    with torch.no_grad():
        ours = model(torch.from_numpy(lr)[None, None])[0, 0].numpy()
    assert ours.shape == (7 * scale, 6 * scale)
    np.testing.assert_allclose(ours, dagnn_forward(net, lr), rtol=0, atol=1e-10)


@pytest.mark.parametrize("scale,file", [(2, 2), (3, 4), (4, 4)])
def test_releases_load_strictly(zoo, scale, file):
    model = load_weights(registry.make("lapsrn", scale=scale), zoo / f"LapSRN_x{file}.mat")
    assert len(model.levels) == {2: 1, 4: 2}[file]
    assert sum(p.numel() for p in model.parameters()) == 640 + len(model.levels) * (10 * 36928 + 36928 + 577 + 16)


def test_x3_is_the_x4_output_resized(zoo):
    x3 = load_weights(registry.make("lapsrn", scale=3), zoo / "LapSRN_x4.mat").double().eval()
    x4 = load_weights(registry.make("lapsrn", scale=4), zoo / "LapSRN_x4.mat").double().eval()
    lr = torch.rand(1, 1, 8, 6, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(x3(lr), imresize(x4(lr), 0.75), rtol=0, atol=1e-12)


def test_ycbcr_round_trip_is_matlab():
    rgb = torch.rand(2, 3, 5, 4, dtype=torch.float64)
    ycbcr = rgb_to_ycbcr(rgb)
    torch.testing.assert_close(ycbcr[:, :1] * 255, rgb_to_y(rgb), rtol=0, atol=1e-12)
    white = rgb_to_ycbcr(torch.ones(3, 1, 1, dtype=torch.float64)).flatten() * 255
    torch.testing.assert_close(white, torch.tensor([235.0, 128.0, 128.0], dtype=torch.float64))
    torch.testing.assert_close(ycbcr_to_rgb(ycbcr), rgb, rtol=0, atol=1e-12)


def test_lapsrn_protocol_lr_is_bicubic_of_the_double_rgb():
    torch.manual_seed(1)
    hr = torch.randint(0, 256, (3, 24, 18), dtype=torch.uint8)
    protocol, card = get_protocol("lapsrn"), registry.get("lapsrn")
    lr, truth = model_input(Pair("x", hr, None), 3, protocol, card)
    expected = imresize(hr.double()[None] / 255, 1 / 3)
    assert lr.dtype == torch.float64 and torch.equal(lr, expected)
    assert not torch.equal(lr * 255, torch.round(lr * 255))  # not quantised to 8 bits
    torch.testing.assert_close(truth, rgb_to_y(hr.double() / 255))  # Y unrounded
    gray = hr[:1]
    lr_gray, truth_gray = model_input(Pair("g", gray, None), 3, protocol, card)
    assert lr_gray.shape[1] == 3 and torch.equal(lr_gray[:, 0], lr_gray[:, 2])  # equal RGB channels
    torch.testing.assert_close(truth_gray, reference_planes(gray.expand(3, -1, -1).contiguous(), protocol))
    rgb_card = registry.get("imdn")
    assert model_input(Pair("x", hr, None), 3, protocol, rgb_card)[0].dtype == torch.float32


def test_y_network_with_bicubic_cbcr_is_bicubic_rgb_for_bicubic():
    """Bicubic is linear: bicubic Y + bicubic CbCr, back to RGB, is bicubic RGB."""
    lr = torch.rand(1, 3, 6, 5, dtype=torch.float64)
    run = runner(registry.make("bicubic", scale=2), registry.get("bicubic"), get_protocol("lapsrn"))
    torch.testing.assert_close(run(lr), imresize(lr, 2), rtol=0, atol=1e-12)
    assert runner(run, registry.get("bicubic"), get_protocol("basicsr")) is run


@pytest.mark.data
def test_published_set5_x2(zoo, data_root, capsys):
    """LapSRN's own Set5 x2 (37.52 / 0.9591, the row MSTN and AMMS-Net copy) under its authors' test code."""
    code = main(["evaluate", "lapsrn", "--dataset", "Set5", "--scale", "2", "--protocol", "lapsrn",
                 "--weights", str(zoo / "LapSRN_x2.mat"), "--data-root", str(data_root),
                 "--json", "--quiet", "--no-save"])
    assert code == 0
    measured = json.loads(capsys.readouterr().out)
    assert round(measured["psnr"], 2) == 37.52 and round(measured["ssim"], 4) == 0.9591
    assert measured["lr_source"].startswith("RGB of HR, float64")


@pytest.mark.data
def test_set5_x4_ssim_of_mstn_is_not_lapsrns(zoo, data_root, capsys):
    """LapSRN's own x4 Set5 PSNR (31.54, which MSTN copies) is reached; MSTN's SSIM 0.8811 is not (the release
    gives 0.8865 here and 0.8856 under ``matlab``): a known difference of MSTN's row."""
    code = main(["evaluate", "lapsrn", "--dataset", "Set5", "--scale", "4", "--protocol", "lapsrn",
                 "--weights", str(zoo / "LapSRN_x4.mat"), "--data-root", str(data_root),
                 "--json", "--quiet", "--no-save"])
    assert code == 0
    measured = json.loads(capsys.readouterr().out)
    assert round(measured["psnr"], 2) == 31.54
    assert abs(measured["ssim"] - 0.8855) <= 0.002 < abs(measured["ssim"] - 0.8811)


@pytest.mark.data
def test_set5_x4_of_amms_is_a_matlab_re_evaluation(zoo, data_root, capsys):
    """AMMS-Net's LapSRN x4 Set5 cell (31.51/0.8855) is not LapSRN's own 31.54: the release gives it under the
    VDSR-era ``matlab`` protocol (LR of the Y channel), and misses it under LapSRN's own evaluation."""
    printed = {r.metric: r.value for r in reported_numbers()
               if (r.paper, r.model, r.scale, r.dataset) == ("amms", "lapsrn", "4", "Set5")}

    def measure(protocol):
        assert main(["evaluate", "lapsrn", "--dataset", "Set5", "--scale", "4", "--protocol", protocol,
                     "--weights", str(zoo / "LapSRN_x4.mat"), "--data-root", str(data_root),
                     "--json", "--quiet", "--no-save"]) == 0
        return json.loads(capsys.readouterr().out)

    matlab = measure("matlab")
    assert abs(round(matlab["psnr"], 2) - printed["psnr"]) <= 0.01 + 1e-9
    assert abs(matlab["ssim"] - printed["ssim"]) <= 0.001
    assert measure("lapsrn")["psnr"] - printed["psnr"] > 0.02


@pytest.mark.data
def test_set14_x4_of_mstn_is_a_matlab_re_evaluation(zoo, data_root, capsys):
    """MSTN's LapSRN x4 Set14 cell (28.09/0.7694) is not LapSRN's own 28.19/0.7720 (AMMS-Net copies that one, and
    LapSRN's evaluation of its release gives it): the VDSR-era ``matlab`` protocol gives MSTN's pair."""
    printed = {(r.paper, r.metric): r.value for r in reported_numbers()
               if (r.model, r.scale, r.dataset) == ("lapsrn", "4", "Set14")}

    def measure(protocol):
        assert main(["evaluate", "lapsrn", "--dataset", "Set14", "--scale", "4", "--protocol", protocol,
                     "--weights", str(zoo / "LapSRN_x4.mat"), "--data-root", str(data_root),
                     "--json", "--quiet", "--no-save"]) == 0
        return json.loads(capsys.readouterr().out)

    matlab, own = measure("matlab"), measure("lapsrn")
    assert abs(round(matlab["psnr"], 2) - printed["mstn", "psnr"]) <= 0.01 + 1e-9
    assert abs(matlab["ssim"] - printed["mstn", "ssim"]) <= 0.001
    assert round(own["psnr"], 2) == printed["amms", "psnr"]
    assert abs(own["ssim"] - printed["amms", "ssim"]) <= 0.001 + 1e-9
