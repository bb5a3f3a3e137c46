"""The CI gate: PSNR falls beyond tolerance, changed counts, broken reparameterisation and missing
measurements fail; the committed baseline agrees with the papers' bicubic rows."""

import json
from pathlib import Path

import pytest

from bench import regression, results
from bench.measurements import budget
from bench.reported import reported_numbers

REPO = Path(__file__).resolve().parents[1]


CI_BUDGET = budget("ci", "tiny", iterations=30)


def _store(folder, psnr=30.0, params=1000, max_abs_diff=1e-6, spent=CI_BUDGET):
    results.append({"model": "m", "scale": 2, "dataset": "Set5", "protocol": "basicsr", "psnr": psnr, "ssim": 0.9,
                    "budget": spent}, "evaluate", folder)
    results.append({"model": "m", "scale": 2, "params": params, "mult_adds": 5e9, "hr_size": "64x64",
                    "budget": budget("none", "model size only")}, "complexity", folder)
    results.append({"model": "m", "scale": 2, "before_ms": 2.0, "after_ms": 1.0, "max_abs_diff": max_abs_diff,
                    "budget": budget("none", "random weights")}, "time", folder)
    return folder


@pytest.fixture
def baseline(tmp_path):
    path = tmp_path / "baseline.json"
    assert regression.main(["--baseline", str(path), "--results-dir", str(_store(tmp_path / "a")), "--update"]) == 0
    return path


def _gate(baseline, folder, capsys):
    status = regression.main(["--baseline", str(baseline), "--results-dir", str(folder)])
    return status, capsys.readouterr().out


def test_the_gate_passes_on_the_run_it_was_made_from(baseline, tmp_path, capsys):
    entries = json.loads(baseline.read_text())["entries"]
    assert sorted(e["key"]["metric"] for e in entries) == ["mult_adds", "params", "psnr", "reparam_max_abs_diff"]
    status, out = _gate(baseline, tmp_path / "a", capsys)
    assert status == 0 and "4 of 4 baselined measurements hold, 0 regressed" in out


def test_the_gate_fails_on_a_deliberately_raised_baseline_psnr(baseline, tmp_path, capsys):
    data = json.loads(baseline.read_text())
    for entry in data["entries"]:
        if entry["key"]["metric"] == "psnr":
            entry["value"] += 0.06  # as if today's PSNR fell 0.06 dB below the committed one
    baseline.write_text(json.dumps(data))
    status, out = _gate(baseline, tmp_path / "a", capsys)
    assert status == 1 and "FELL" in out


@pytest.mark.parametrize("change, status_word", [
    (dict(psnr=29.96), None),  # 0.04 dB: inside the default 0.05 dB
    (dict(psnr=31.0), None),  # a rise is reported, not failed
    (dict(psnr=29.9), "FELL"),
    (dict(params=1001), "CHANGED"),
    (dict(max_abs_diff=0.1), "BROKEN"),
    (dict(spent=budget("smoke", "other")), "MISSING"),  # a PSNR of another tier does not stand in
    (dict(spent=budget("ci", "a changed recipe", iterations=40)), None),  # the same tier is compared, not missing
    (dict(spent=budget("ci", "a changed recipe", iterations=40), psnr=29.9), "FELL"),
])
def test_what_fails_the_gate(baseline, tmp_path, capsys, change, status_word):
    status, out = _gate(baseline, _store(tmp_path / "b", **change), capsys)
    assert status == (1 if status_word else 0)
    if status_word:
        assert status_word in out


def test_a_nan_measurement_never_holds():
    from bench.verdicts import regression as status

    assert status("psnr", 30.0, float("nan"))[0] == "FELL"
    assert status("reparam_max_abs_diff", 0.0, float("nan"))[0] == "BROKEN"
    assert status("params", 1000.0, float("nan"))[0] == "CHANGED"


def test_per_entry_tolerance_is_kept_by_update(baseline, tmp_path, capsys):
    data = json.loads(baseline.read_text())
    psnr = next(e for e in data["entries"] if e["key"]["metric"] == "psnr")
    psnr["tolerance"] = 0.2
    baseline.write_text(json.dumps(data))
    assert _gate(baseline, _store(tmp_path / "b", psnr=29.85), capsys)[0] == 0
    regression.main(["--baseline", str(baseline), "--results-dir", str(tmp_path / "b"), "--update"])
    kept = next(e for e in json.loads(baseline.read_text())["entries"] if e["key"]["metric"] == "psnr")
    assert kept["tolerance"] == 0.2 and kept["value"] == 29.85


def test_missing_baseline_or_store_is_an_error(tmp_path, capsys):
    assert regression.main(["--baseline", str(tmp_path / "none.json"), "--results-dir", str(tmp_path / "x")]) == 2
    _store(tmp_path / "s")
    assert regression.main(["--baseline", str(tmp_path / "none.json"), "--results-dir", str(tmp_path / "s")]) == 2
    assert "--update" in capsys.readouterr().err


def test_committed_ci_baseline_holds_the_published_bicubic_rows():
    """The baseline CI gates on must itself agree with the papers: its bicubic PSNRs (MATLAB protocol)
    are the published bicubic rows within 0.01 dB."""
    entries = json.loads((REPO / "reports" / "baselines" / "ci.json").read_text())["entries"]
    published = {(r.scale, r.dataset): r.value for r in reported_numbers()
                 if r.model == "bicubic" and r.protocol == "matlab" and r.metric == "psnr"}
    bicubic = [e for e in entries if e["key"]["model"] == "bicubic" and e["key"]["metric"] == "psnr"
               and e["key"]["protocol"] == "matlab"]
    assert len(bicubic) == len(published) == 12
    for entry in bicubic:
        assert entry["value"] == pytest.approx(published[(entry["key"]["scale"], entry["key"]["dataset"])], abs=0.01)
