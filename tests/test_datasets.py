"""Loading test sets, and the one clear error each bad input gets."""

import dataclasses
import json
import shutil

import pytest
import torch
from PIL import Image

from bench import BenchError, registry
from bench.__main__ import main
from bench.data.benchmarks import SAMPLES_TEST, SAMPLES_TRAIN, load_test_set, make_lr, mod_crop


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def make_set(root, name="Toy", sizes=((40, 30), (33, 21)), gray=False):
    hr = root / name / "HR"
    hr.mkdir(parents=True)
    for i, (w, h) in enumerate(sizes):
        mode = "L" if gray else "RGB"
        Image.new(mode, (w, h), 120 if gray else (10 * i, 90, 200)).save(hr / f"im{i}.png")
    return root


def test_mod_crop():
    assert mod_crop(torch.zeros(3, 31, 45), 4).shape == (3, 28, 44)


def test_a_non_integer_scale_crops_as_liif_and_resizes_to_a_whole_lr(tmp_path):
    make_set(tmp_path, "Set5", sizes=((40, 30),))
    test_set = load_test_set("Set5", 1.7, tmp_path)
    hr = test_set.pairs[0].hr
    assert hr.shape[-2:] == (29, 39)  # round(floor(30 / 1.7) * 1.7) = round(28.9), round(floor(40 / 1.7) * 1.7)
    assert make_lr(hr, 1.7).shape[-2:] == (17, 23)  # floor(30 / 1.7), floor(40 / 1.7)
    assert load_test_set("Set5", 2.0, tmp_path).scale == 2  # a whole float is the int (paired folders are X2)
    card = registry.get("liif-edsr-baseline")
    card.check_scale(1.5)  # arbitrary-scale models take any scale >= 1
    with pytest.raises(BenchError, match="at least 1"):
        card.check_scale(0.5)
    with pytest.raises(BenchError, match="whole number"):
        registry.get("edsr-baseline").check_scale(2.5)


@pytest.mark.data
def test_set14_bridge_stays_grayscale_and_pairs_match(data_root):
    test_set = load_test_set("set14", 3, data_root)  # spelling is forgiving
    assert test_set.name == "Set14" and len(test_set.pairs) == 14
    bridge = next(p for p in test_set.pairs if p.name == "bridge")
    assert bridge.hr.shape[0] == 1 and bridge.lr.shape[0] == 1
    for pair in test_set.pairs:
        assert pair.hr.shape[-1] % 3 == 0 and pair.hr.shape[-2] % 3 == 0
        assert pair.lr.shape[-2:] == (pair.hr.shape[-2] // 3, pair.hr.shape[-1] // 3)
    assert test_set.lr_source.startswith("paired")


def test_samples_split_is_fixed_and_disjoint():
    assert not set(SAMPLES_TEST) & set(SAMPLES_TRAIN)
    test_set = load_test_set("samples", 4)
    assert [p.name for p in test_set.pairs] == list(SAMPLES_TEST)
    assert "no paper reports numbers" in test_set.note
    assert any(p.hr.shape[0] == 1 for p in test_set.pairs)  # camera is grayscale


def test_samples_evaluate_on_a_fresh_machine(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no datasets/ folder anywhere
    monkeypatch.delenv("BENCH_DATA_ROOT", raising=False)
    code, out, err = run_cli(capsys, "evaluate", "bicubic", "--json")
    result = json.loads(out)
    assert code == 0 and result["dataset"] == "samples" and result["scale"] == 4
    assert 20 < result["psnr"] < 40 and result["n_images"] == 5
    assert "no paper reports numbers" in result["note"]


def test_missing_data_root_lists_where_it_looked(capsys, tmp_path):
    roots = f"{tmp_path / 'a'}:{tmp_path / 'b'}"
    code, out, err = run_cli(capsys, "evaluate", "bicubic", "--dataset", "Set5", "--data-root", roots)
    assert code == 2 and out == ""
    assert str(tmp_path / "a" / "Set5" / "HR") in err and str(tmp_path / "b" / "Set5" / "HR") in err
    assert "python -m bench data download Set5" in err
    assert "Traceback" not in err and err.startswith("error: ")


def test_corrupt_png_names_the_file(capsys, tmp_path):
    make_set(tmp_path, "Set5")
    (tmp_path / "Set5" / "HR" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    code, _, err = run_cli(capsys, "evaluate", "bicubic", "--dataset", "Set5", "--data-root", str(tmp_path))
    assert code == 2 and "broken.png" in err and "cannot read image" in err


@pytest.mark.parametrize("argv, message", [
    (["--dataset", "Set7"], "unknown dataset 'Set7'"),
    (["--scale", "0"], "scale must be a number of at least 1"),
    (["--protocol", "ycbcr"], "unknown protocol"),
])
def test_bad_arguments(capsys, argv, message):
    code, _, err = run_cli(capsys, "evaluate", "bicubic", *argv)
    assert code == 2 and message in err


def test_unknown_model_suggests(capsys):
    code, _, err = run_cli(capsys, "evaluate", "bicubik")
    assert code == 2 and "unknown model 'bicubik'" in err and "bicubic" in err


def test_hr_smaller_than_scale(tmp_path):
    make_set(tmp_path, "Set5", sizes=((40, 30), (3, 40)))
    with pytest.raises(BenchError, match=r"im1.png is 3x40, smaller than scale x4"):
        load_test_set("Set5", 4, tmp_path)


def test_paired_lr_of_wrong_size_is_named(tmp_path):
    make_set(tmp_path, "Set5", sizes=((40, 32),))
    lr_dir = tmp_path / "Set5" / "LR_bicubic" / "X2"
    lr_dir.mkdir(parents=True)
    Image.new("RGB", (19, 16)).save(lr_dir / "im0x2.png")
    with pytest.raises(BenchError, match=r"im0x2.png is 19x16, expected 20x16"):
        load_test_set("Set5", 2, tmp_path)
    shutil.rmtree(lr_dir)
    assert load_test_set("Set5", 2, tmp_path).lr_source.startswith("generated")


def test_self_ensemble_is_exact_for_a_symmetric_model_and_not_for_others():
    from bench.evaluate import self_ensemble

    lr = torch.rand(1, 3, 7, 9, dtype=torch.float64)
    bicubic = registry.make("bicubic", scale=2)  # MATLAB bicubic commutes with flips and 90-degree turns
    torch.testing.assert_close(self_ensemble(bicubic, lr), bicubic(lr), rtol=0, atol=1e-12)
    torch.manual_seed(0)
    skewed = torch.nn.Conv2d(3, 3, 3, padding=1).double()
    assert (self_ensemble(skewed, lr) - skewed(lr)).abs().max() > 1e-3


def test_evaluation_runs_the_largest_image_first_and_reports_in_set_order(tmp_path):
    """The largest image claims the memory the others reuse; the per-image scores keep the set's order, each the
    score of its own image."""
    from bench.evaluate import evaluate
    from bench.metrics import get_protocol

    test_set = load_test_set("Set5", 2, make_set(tmp_path, "Set5", sizes=((20, 16), (40, 30), (24, 24), (40, 30))))
    bicubic = registry.make("bicubic", scale=2)
    seen = []
    model = torch.nn.Sequential(torch.nn.Identity(), bicubic)
    model[0].register_forward_hook(lambda module, args, out: seen.append(tuple(out.shape[-2:])))
    result = evaluate(model, registry.get("bicubic"), test_set, get_protocol("basicsr"), progress=False)
    assert seen == [(15, 20), (15, 20), (12, 12), (8, 10)]  # LR sizes, largest first, ties in set order
    assert [r["name"] for r in result["per_image"]] == ["im0", "im1", "im2", "im3"]
    alone = [evaluate(bicubic, registry.get("bicubic"), dataclasses.replace(test_set, pairs=[pair]),
                      get_protocol("basicsr"), progress=False)["per_image"][0] for pair in test_set.pairs]
    assert result["per_image"] == alone


@pytest.mark.data
def test_bicubic_at_a_fractional_scale_fits_the_cropped_hr(capsys, data_root):
    """Set5 x2.5: woman's HR crops to round(floor(344 / 2.5) * 2.5) = 342 rows; MATLAB's imresize(lr, 2.5) rounds
    137 * 2.5 up to 343 (issue 21 item 5). At whole scales the output is MATLAB's imresize(lr, s) exactly."""
    code, out, _ = run_cli(capsys, "evaluate", "bicubic", "--dataset", "Set5", "--scale", "2.5", "--data-root",
                           str(data_root), "--json", "--no-save")
    assert code == 0 and json.loads(out)["n_images"] == 5
    from bench.data.imresize import imresize

    lr = torch.rand(1, 3, 13, 17, dtype=torch.float64)
    for scale in (2, 3, 4):
        assert torch.equal(registry.make("bicubic", scale=scale)(lr), imresize(lr, scale))
