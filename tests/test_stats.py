"""Issue 22: the paired comparison of two models image by image (``bench.stats``, ``python -m bench compare``),
checked against answers known exactly."""

import json

import numpy as np
import pytest

from bench import BenchError, report, results, stats
from bench.__main__ import main as cli
from bench.measurements import budget


def test_n_images_all_favouring_a_give_the_exact_wilcoxon_p_value_and_mean():
    b = np.array([30.0, 28.5, 33.0, 25.0, 31.0, 29.0, 27.5, 35.0, 26.0, 32.0])
    shifts = np.arange(1, 11) / 10  # 0.1 ... 1.0 dB: distinct, all positive; mean 0.55
    d = stats.paired_difference(b + shifts, b)
    assert d.mean == pytest.approx(0.55, abs=1e-12)
    assert d.p_value == pytest.approx(2 / 2**10, rel=1e-12)  # exact: all signs positive, or (mirror) all negative
    assert (d.n, d.a_better, d.b_better, d.ties) == (10, 10, 0, 0)
    assert 0.1 <= d.low < 0.55 < d.high <= 1.0  # a resampled mean lies within the differences' range
    reverse = stats.paired_difference(b, b + shifts)
    assert (reverse.mean, reverse.low, reverse.high) == pytest.approx((-0.55, -d.high, -d.low), abs=1e-12)
    assert reverse.p_value == d.p_value and (reverse.a_better, reverse.b_better) == (0, 10)


def test_a_constant_difference_has_a_zero_width_interval():
    d = stats.paired_difference([31.0, 32.0, 40.0], [30.75, 31.75, 39.75])
    assert (d.mean, d.low, d.high) == (0.25, 0.25, 0.25)


def test_the_bootstrap_interval_of_a_large_sample_holds_its_mean_and_has_the_normal_width():
    noise = np.random.default_rng(1).normal(0.0, 1.0, 300)
    noise = np.concatenate([noise, -noise])  # symmetric: the sample's mean difference is exactly the shift
    reference = np.full(noise.size, 30.0)
    shifted = stats.paired_difference(reference + 0.5 + noise, reference)
    assert shifted.mean == pytest.approx(0.5, abs=1e-12)
    assert shifted.low < 0.5 < shifted.high and shifted.low > 0  # a shift of ten standard errors excludes 0
    standard_error = noise.std() / np.sqrt(noise.size)
    assert (shifted.high - shifted.low) / 2 == pytest.approx(1.96 * standard_error, rel=0.1)
    assert shifted.p_value < 1e-10
    unshifted = stats.paired_difference(noise, np.zeros(noise.size))  # exact differences: |d| tie in pairs
    assert unshifted.mean == pytest.approx(0.0, abs=1e-12)
    assert unshifted.low < 0 < unshifted.high
    assert unshifted.p_value == pytest.approx(1.0)  # mirrored differences: the signed ranks cancel exactly


def test_identical_scores_are_no_evidence_and_a_seed_repeats():
    same = stats.paired_difference([30.0, 31.0, 29.0], [30.0, 31.0, 29.0])
    assert (same.mean, same.low, same.high, same.p_value, same.ties) == (0.0, 0.0, 0.0, 1.0, 3)
    a, b = np.random.default_rng(2).normal(30, 1, (2, 20))
    assert stats.paired_difference(a, b) == stats.paired_difference(a, b)
    assert stats.paired_difference(a, b, seed=1) != stats.paired_difference(a, b)  # the interval depends on it
    with pytest.raises(BenchError, match="equally long"):
        stats.paired_difference([1.0, 2.0], [1.0])


# ---- stored evaluations, and the command --------------------------------------------------------------------

BICUBIC = [30.0, 28.5, 33.0, 25.0, 31.0, 29.0, 27.5, 35.0, 26.0, 32.0]
SHIFTS = [(i + 1) / 10 for i in range(10)]


def evaluation(model, psnrs, protocol="matlab", dataset="Set5", scale=2, names=None, variant="", tier="none"):
    names = names or [f"img{i}" for i in range(len(psnrs))]
    per_image = [{"name": n, "psnr": p, "ssim": p / 100} for n, p in zip(names, psnrs, strict=True)]
    return {"model": model, "variant": variant, "scale": scale, "dataset": dataset, "protocol": protocol,
            "self_ensemble": False, "psnr": float(np.mean(psnrs)), "ssim": float(np.mean(psnrs)) / 100,
            "per_image": per_image, "budget": budget(tier, "test")}


@pytest.fixture
def store(tmp_path):
    folder = tmp_path / "store"
    results.append(evaluation("bicubic", BICUBIC), "evaluate", folder)
    # stored in another order, with an image bicubic lacks: pairing is by name
    shifted = [(f"img{i}", BICUBIC[i] + SHIFTS[i]) for i in reversed(range(10))] + [("extra", 40.0)]
    results.append(evaluation("vdsr", [p for _, p in shifted], names=[n for n, _ in shifted]), "evaluate", folder)
    results.append(evaluation("imdn", BICUBIC, protocol="basicsr"), "evaluate", folder)
    return folder


def test_compare_pairs_images_by_name(store):
    result = stats.compare("vdsr", "bicubic", "Set5", 2, directory=store)
    assert result["protocol"] == "matlab"  # the one protocol both have
    assert result["psnr"]["mean"] == pytest.approx(0.55, abs=1e-12)
    assert result["psnr"]["p_value"] == pytest.approx(2 / 2**10, rel=1e-12)
    assert result["ssim"]["mean"] == pytest.approx(0.0055, abs=1e-12)
    assert (result["psnr"]["n"], result["psnr"]["a_better"]) == (10, 10)
    assert any("1 images without a finite score on both sides" in note for note in result["notes"])


def test_compare_takes_the_most_recent_evaluation_and_says_so(store):
    results.append(evaluation("vdsr", [p + 1.0 for p in BICUBIC]), "evaluate", store)
    result = stats.compare("vdsr", "bicubic", "Set5", 2, directory=store)
    assert (result["psnr"]["mean"], result["psnr"]["low"], result["psnr"]["high"]) == pytest.approx((1.0, 1.0, 1.0))
    assert any(note.startswith("2 evaluations of vdsr match Set5 x2 (matlab): took the most recent")
               for note in result["notes"])


def test_compare_names_a_variant_as_the_registry_does(store):
    results.append(evaluation("mesr", BICUBIC, variant="ci-reduced", tier="ci"), "evaluate", store)
    result = stats.compare("mesr.ci-reduced", "bicubic", "Set5", 2, directory=store)
    assert result["psnr"]["ties"] == 10 and result["a"]["tier"] == "ci"
    with pytest.raises(BenchError, match="it holds mesr.ci-reduced"):
        stats.compare("mesr", "bicubic", "Set5", 2, directory=store)


@pytest.mark.parametrize("a, b, dataset, scale, protocol, message", [
    ("imdn", "bicubic", "Set5", 2, None, "no protocol in common (imdn under basicsr; bicubic under matlab)"),
    ("vdsr", "bicubic", "Set5", 2, "basicsr", "both must be evaluated under basicsr"),
    ("vdsr", "bicubic", "Set14", 2, None, "vdsr is not evaluated on Set14 x2; it is on Set5 x2"),
    ("edsr", "bicubic", "Set5", 2, None, "no evaluation of edsr with per-image scores"),
])
def test_compare_says_why_it_cannot_answer(store, a, b, dataset, scale, protocol, message):
    with pytest.raises(BenchError, match=message.replace("(", r"\(").replace(")", r"\)")):
        stats.compare(a, b, dataset, scale, protocol, directory=store)


def test_several_common_protocols_need_one_named(store):
    results.append(evaluation("vdsr", BICUBIC, protocol="basicsr"), "evaluate", store)
    results.append(evaluation("bicubic", BICUBIC, protocol="basicsr"), "evaluate", store)
    with pytest.raises(BenchError, match="under basicsr, matlab: say which with --protocol"):
        stats.compare("vdsr", "bicubic", "Set5", 2, directory=store)
    assert stats.compare("vdsr", "bicubic", "Set5", 2, "basicsr", directory=store)["psnr"]["ties"] == 10


def test_the_command_prints_the_comparison_and_one_json_object(store, capsys):
    assert cli(["compare", "vdsr", "bicubic", "--dataset", "Set5", "--scale", "2", "--results-dir", str(store)]) == 0
    text = capsys.readouterr().out
    assert "vdsr vs bicubic on Set5 x2, protocol matlab" in text
    assert "PSNR vdsr - bicubic = +0.550 dB" in text and "10 of 10 images favour vdsr, 0 bicubic, 0 tied" in text
    assert f"Wilcoxon p = {2 / 2**10:.2g}" in text
    assert cli(["compare", "vdsr", "bicubic", "--dataset", "Set5", "--scale", "2", "--results-dir", str(store),
                "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["psnr"]["mean"] == pytest.approx(0.55) and payload["a"]["name"] == "vdsr"


def test_the_command_turns_what_it_cannot_answer_into_one_error_line(store, tmp_path, capsys):
    for argv in (["imdn", "bicubic", "--dataset", "Set5", "--scale", "2", "--results-dir", str(store)],
                 ["vdsr", "bicubic", "--dataset", "Set5", "--scale", "2", "--results-dir", str(tmp_path / "none")]):
        assert cli(["compare", *argv]) == 2
        out, err = capsys.readouterr()
        assert out == "" and len(err.splitlines()) == 1 and err.startswith("error: ")


def test_the_report_shows_each_model_against_bicubic_image_by_image(store, tmp_path):
    out = tmp_path / "out"
    assert report.main(["--html", "--markdown", "--out", str(out), "--results-dir", str(store)]) == 0
    row = (f"| vdsr | 2 | Set5 | matlab | 10 | +0.550 [{{}}] | {2 / 2**10:.2g} | 10 / 0 | +0.0055 [{{}}] "
           f"| {2 / 2**10:.2g} | none |")
    markdown = (out / "report.md").read_text()
    lines = [line for line in markdown.splitlines() if line.startswith("| vdsr | 2 | Set5 |")]
    assert len(lines) == 2  # on the pages of both papers whose tables print VDSR (AMMS-Net, MSTN)
    low_high = [part.split("]")[0] for part in lines[0].split("[")[1:]]
    assert lines == [row.format(*low_high)] * 2
    assert "| imdn |" not in markdown.split("against bicubic")[-1]  # another protocol: no pair
    page = (out / "amms.html").read_text()  # AMMS-Net's tables print VDSR's rows
    assert "Image by image against bicubic" in page and "<td>vdsr</td><td>2</td><td>Set5</td>" in page


def test_evaluations_missing_what_pairs_them_are_no_pair_and_no_traceback(store, tmp_path, capsys):
    """Hand-made records without a model, a set or a variant, or with images the reference lacks: the report
    leaves them out of the comparison (a warning where a pair was possible) and still renders."""
    for record in ({"dataset": "Set5", "scale": 2, "protocol": "matlab"}, {"model": "vdsr", "scale": 2},
                   {**evaluation("fsrcnn", BICUBIC), "per_image": [{"name": "other", "psnr": 30.0, "ssim": 0.9}]}):
        results.append({"per_image": [{"name": "img0", "psnr": 30.0, "ssim": 0.9}], **record}, "evaluate", store)
    record = evaluation("srcnn", BICUBIC)
    del record["variant"]  # the registered default, as for the report's cells
    results.append(record, "evaluate", store)
    assert report.main(["--markdown", "--out", str(tmp_path / "out"), "--results-dir", str(store)]) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "warning: no paired comparison of fsrcnn with bicubic on Set5 x2 (matlab)" in err
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "| srcnn | 2 | Set5 | matlab | 10 | +0.000 [+0.000, +0.000] | 1 | 0 / 0 |" in markdown
