"""SRCNN, FSRCNN and VDSR from their authors' MATLAB releases (``$BENCH_WEIGHTS_DIR/zoo/*.mat``): each loader
checked against a direct numpy transcription of the authors' test code on a small input, and the published
Set5 rows re-measured under the ``matlab`` protocol."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from bench import BenchError, registry
from bench.__main__ import main
from bench.checkpoints import load_weights, read_state_dict
from bench.data.imresize import imresize
from bench.reported import reported_numbers


def loaded(name: str, scale: int, path: Path) -> torch.nn.Module:
    return load_weights(registry.make(name, scale=scale), path).double().eval()


def imfilter(x: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """MATLAB ``imfilter(x, taps, 'same', 'replicate')``: correlation, edge samples repeated."""
    k = taps.shape[0]
    padded = np.pad(x, k // 2, mode="edge")
    out = np.zeros_like(x)
    for a in range(k):
        for b in range(k):
            out += taps[a, b] * padded[a:a + x.shape[0], b:b + x.shape[1]]
    return out


def taps(vector: np.ndarray) -> np.ndarray:
    """``reshape(vector, k, k)`` in MATLAB (column-major)."""
    k = round(vector.size ** 0.5)
    return np.reshape(vector, (k, k), order="F")


def srcnn_reference(im_b: np.ndarray, mat: dict) -> np.ndarray:
    """SRCNN.m of the authors' test package, loop for loop (vectorised over pixels only)."""
    w1, w2, w3 = mat["weights_conv1"], mat["weights_conv2"], mat["weights_conv3"]
    b1, b2, b3 = (mat[f"biases_conv{i}"].ravel() for i in (1, 2, 3))
    conv1 = [np.maximum(imfilter(im_b, taps(w1[:, i])) + b1[i], 0) for i in range(w1.shape[1])]
    conv2 = [np.maximum(sum(imfilter(conv1[j], taps(w2[j, :, i])) for j in range(w2.shape[0])) + b2[i], 0)
             for i in range(w2.shape[2])]
    return sum(imfilter(conv2[i], taps(w3[i, :])) for i in range(w3.shape[0])) + b3[0]


def fsrcnn_reference(im_l: np.ndarray, mat: dict, scale: int) -> np.ndarray:
    """FSRCNN.m and deconv.m of the authors' test package."""
    weights, biases, slopes = ([np.asarray(c) for c in mat[k].ravel()] for k in ("weights_conv", "biases_conv",
                                                                              "prelu_conv"))
    data = [im_l]
    for w, b, a in zip(weights[:-1], biases[:-1], slopes[:-1], strict=True):
        out = []
        for i in range(w.shape[2]):
            z = sum(imfilter(data[j], taps(w[j, :, i])) for j in range(w.shape[0])) + b.ravel()[i]
            out.append(np.maximum(z, 0) + a.item() * np.minimum(z, 0))
        data = out
    hei, wid = im_l.shape
    result = np.zeros((hei * scale, wid * scale))
    for j, plane in enumerate(data):  # deconv.m
        f = taps(weights[-1][0, :, j])
        k = f.shape[0]
        padded = np.pad(plane, 1, mode="edge")
        canvas = np.zeros((padded.shape[0] * scale + k - 1, padded.shape[1] * scale + k - 1))
        for r in range(padded.shape[0]):
            for c in range(padded.shape[1]):
                canvas[r * scale:r * scale + k, c * scale:c * scale + k] += padded[r, c] * f
        start = (k + 1) // 2 + scale - 1  # MATLAB's (fsize + 1)/2 + stride * border, 0-based
        result += canvas[start:start + hei * scale, start:start + wid * scale]
    return result + biases[-1].ravel()[0]


@pytest.fixture(scope="module")
def small_lr() -> torch.Tensor:
    torch.manual_seed(0)
    return torch.rand(1, 1, 7, 6, dtype=torch.float64)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_srcnn_mat_loads_and_runs_as_srcnn_m(zoo, small_lr, scale):
    path = zoo / f"SRCNN_x{scale}.mat"
    mat = read_state_dict(path)
    assert mat["weights_conv1"].shape == (81, 64) and mat["weights_conv2"].shape == (64, 25, 32)
    assert mat["weights_conv3"].shape == (32, 25) and mat["biases_conv3"].shape == (1, 1)
    model = loaded("srcnn", scale, path)
    assert model.conv1.weight.shape == (64, 1, 9, 9) and model.conv3.weight.shape == (1, 32, 5, 5)
    im_b = imresize(small_lr, scale)[0, 0].numpy()
    with torch.no_grad():
        ours = model(small_lr)[0, 0].numpy()
    np.testing.assert_allclose(ours, srcnn_reference(im_b, mat), rtol=0, atol=1e-10)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_fsrcnn_mat_loads_and_runs_as_fsrcnn_m(zoo, small_lr, scale):
    path = zoo / f"FSRCNN_x{scale}.mat"
    mat = read_state_dict(path)
    shapes = [np.asarray(w).shape for w in mat["weights_conv"].ravel()]
    assert shapes == [(1, 25, 56), (56, 1, 12), *[(12, 9, 12)] * 4, (12, 1, 56), (1, 81, 56)]
    model = loaded("fsrcnn", scale, path)
    assert [a.weight.item() for a in model.acts] == pytest.approx(
        [np.asarray(a).item() for a in mat["prelu_conv"].ravel()[:-1]])
    model.shift = 0  # the network itself; the x3 comparison shift is checked below
    with torch.no_grad():
        ours = model(small_lr)[0, 0].numpy()
    reference = fsrcnn_reference(small_lr[0, 0].numpy(), mat, scale)
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-10)
    if scale == 3:  # shave_x3: the output taken one pixel up and left
        shifted = loaded("fsrcnn", scale, path)
        with torch.no_grad():
            moved = shifted(small_lr)[0, 0].numpy()
        np.testing.assert_allclose(moved[1:, 1:], reference[:-1, :-1], rtol=0, atol=1e-10)


def test_vdsr_mat_loads_with_matconvnet_layout(zoo, small_lr):
    path = zoo / "VDSR_x2x3x4.mat"
    mat = read_state_dict(path)
    struct = mat["model"].reshape(-1)[0]
    weights = [np.asarray(w) for w in struct["weight"].ravel()]
    assert len(weights) == 20 and weights[0].shape == (3, 3, 1, 64) and weights[-1].shape == (3, 3, 64)
    model = loaded("vdsr", 3, path)
    im_y = imresize(small_lr, 3)
    with torch.no_grad():
        first = model.convs[0](im_y)[0].numpy()
    # vl_nnconv(im_y, weight{1}, bias{1}, 'Pad', 1): correlation, zero padding, weight [row, col, in, out]
    padded = np.pad(im_y[0, 0].numpy(), 1)
    h, w = im_y.shape[-2:]
    direct = np.stack([sum(weights[0][a, b, 0, o] * padded[a:a + h, b:b + w] for a in range(3) for b in range(3))
                       + struct["bias"].ravel()[0].ravel()[o] for o in range(64)])
    np.testing.assert_allclose(first, direct, rtol=0, atol=1e-10)


def test_mat_files_of_other_models_do_not_fit(zoo):
    with pytest.raises(BenchError, match="does not fit"):
        load_weights(registry.make("srcnn", scale=3), zoo / "FSRCNN_x3.mat")


# The published Set5 rows (reported.csv) that the authors' protocols reach: SRCNN and VDSR through AMMS-Net's
# Table 2 (the VDSR paper's measurements). FSRCNN's x2 row in MSTN's Table I is another evaluation's (below);
# its x4 Set5 30.73/0.8601 is not reached (30.704/0.8657 under the authors' test code, the FSRCNN paper's 30.71).
ROWS: dict[tuple[str, int], dict[str, float]] = {}
for row in reported_numbers():
    if row.dataset == "Set5" and row.paper == "amms" and row.model in ("srcnn", "vdsr"):
        ROWS.setdefault((row.model, int(row.scale)), {})[row.metric] = row.value
FILES = {"srcnn": "SRCNN_x{}.mat", "vdsr": "VDSR_x2x3x4.mat"}


def test_published_rows_are_there():
    assert sorted(ROWS) == [(name, s) for name in ("srcnn", "vdsr") for s in (2, 3, 4)]
    assert all(set(v) == {"psnr", "ssim"} for v in ROWS.values())


@pytest.mark.data
@pytest.mark.parametrize("key", sorted(ROWS), ids=lambda k: f"{k[0]}-x{k[1]}")
def test_published_set5_rows(zoo, data_root, capsys, key):
    name, scale = key
    code = main(["evaluate", name, "--dataset", "Set5", "--scale", str(scale), "--protocol", "matlab",
                 "--weights", str(zoo / FILES[name].format(scale)), "--data-root", str(data_root),
                 "--json", "--quiet", "--no-save"])
    assert code == 0
    measured = json.loads(capsys.readouterr().out)
    assert abs(measured["psnr"] - ROWS[key]["psnr"]) <= 0.01
    assert abs(measured["ssim"] - ROWS[key]["ssim"]) <= 0.0010


def test_mat_files_are_read_for_the_cards_remap(tmp_path):
    """Without the authors' files: a .mat written here goes through read_state_dict and remap_srcnn."""
    import scipy.io

    rng = np.random.default_rng(0)
    arrays = {"weights_conv1": rng.normal(size=(9, 2)), "biases_conv1": rng.normal(size=(2, 1)),
              "weights_conv2": rng.normal(size=(2, 1, 3)), "biases_conv2": rng.normal(size=(3, 1)),
              "weights_conv3": rng.normal(size=(3, 1)), "biases_conv3": rng.normal(size=(1, 1))}
    path = tmp_path / "tiny.mat"
    scipy.io.savemat(path, arrays)
    assert set(read_state_dict(path)) == set(arrays)
    model = load_weights(registry.make("srcnn", scale=2, n1=2, n2=3, f1=3, f2=1, f3=1), path)
    column_major = torch.from_numpy(arrays["weights_conv1"][:, 1].reshape(3, 3).T).float()  # MATLAB reshape
    assert torch.equal(model.conv1.weight[1, 0], column_major)
    broken = tmp_path / "broken.mat"
    broken.write_bytes(b"MATLAB 5.0 MAT-file, truncated")
    with pytest.raises(BenchError, match="cannot read"):
        read_state_dict(broken)


@pytest.mark.data
def test_mstns_fsrcnn_x2_row_is_a_re_evaluation_that_takes_a_grayscale_image_as_its_y(zoo, data_root, capsys):
    """MSTN's Table I FSRCNN x2 row (37.05 / 32.66 on Set5 / Set14) is not the FSRCNN authors' evaluation (36.997 /
    32.627 under `matlab`): the release gives it under LapSRN's (LR of the double RGB, the Y network with bicubic
    CbCr) with Set14's grayscale `bridge` taken as its own Y. With `bridge` as RGB (LapSRN's own rows) Set14 is
    0.09 dB higher, which is how this test tells the two apart."""
    printed = {(r.dataset, r.metric): r.value for r in reported_numbers()
               if r.paper == "mstn" and r.model == "fsrcnn" and int(r.scale) == 2}

    def measure(dataset, protocol):
        assert main(["evaluate", "fsrcnn", "--dataset", dataset, "--scale", "2", "--protocol", protocol,
                     "--weights", str(zoo / "FSRCNN_x2.mat"), "--data-root", str(data_root), "--json", "--quiet",
                     "--no-save"]) == 0
        return json.loads(capsys.readouterr().out)

    for dataset in ("Set5", "Set14"):
        measured = measure(dataset, "lapsrn-gray-y")
        assert abs(round(measured["psnr"], 2) - printed[dataset, "psnr"]) <= 0.01
        assert abs(measured["ssim"] - printed[dataset, "ssim"]) <= 0.001
    assert measure("Set14", "lapsrn")["psnr"] - printed["Set14", "psnr"] > 0.08
    assert printed["Set5", "psnr"] - measure("Set5", "matlab")["psnr"] > 0.04


def test_mstns_x4_set5_column_is_not_the_authors_evaluation():
    """MSTN's Table I x4 Set5 cells of SRCNN and VDSR differ from the same cells in AMMS-Net's Table 2, which the
    releases reproduce (test_published_set5_rows), one way for every model: PSNR 0.01-0.02 dB above, SSIM
    0.004-0.006 below. The column, not the models, differs (LapSRN's and FSRCNN's cells there are as far below
    their measured 0.8865 and 0.8657)."""
    cell = {(r.paper, r.model, r.metric): r.value for r in reported_numbers()
            if r.dataset == "Set5" and int(r.scale or 0) == 4 and r.model in ("srcnn", "vdsr")}
    for name in ("srcnn", "vdsr"):
        assert 0.01 - 1e-9 <= cell["mstn", name, "psnr"] - cell["amms", name, "psnr"] <= 0.02 + 1e-9
        assert 0.004 <= cell["amms", name, "ssim"] - cell["mstn", name, "ssim"] <= 0.006


@pytest.mark.data
def test_srcnn_set14_x2_is_its_authors_row_not_vdsrs_re_evaluation(zoo, data_root, capsys):
    """SRCNN's x2 release on Set14 under its authors' protocol gives SRCNN's own row (32.45/0.9067, which MSTN's
    Table I copies), 0.03 dB above the VDSR paper's re-evaluation of the same release that AMMS-Net's Table 2
    copies (32.42): VDSR's authors' Set14 evaluation, not the model or the protocol, makes AMMS-Net's x2/x3 Set14
    cells of SRCNN and VDSR 0.03 dB lower than ours, while their Set5 cells match (test_published_set5_rows)."""
    printed = {(r.paper, r.metric): r.value for r in reported_numbers()
               if (r.model, r.scale, r.dataset) == ("srcnn", "2", "Set14")}
    assert main(["evaluate", "srcnn", "--dataset", "Set14", "--scale", "2", "--protocol", "matlab",
                 "--weights", str(zoo / "SRCNN_x2.mat"), "--data-root", str(data_root), "--json", "--quiet",
                 "--no-save"]) == 0
    measured = json.loads(capsys.readouterr().out)
    assert round(measured["psnr"], 2) == printed["mstn", "psnr"]
    assert abs(measured["ssim"] - printed["mstn", "ssim"]) <= 0.0005
    assert 0.025 <= measured["psnr"] - printed["amms", "psnr"] <= 0.04
