"""Issue 21 items 7 and 8: where the CLI promises one ``error:`` line and exit status 2, bad input gets exactly
that (never a traceback), and a refused input leaves nothing half-written. The results store, the report and
the gate are also fed arbitrary JSON and bytes (hypothesis)."""

import contextlib
import io
import json
import math
import os
import re
import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from bench import registry, regression, report, results
from bench.__main__ import main as cli
from bench.checkpoints import save_model
from bench.measurements import budget


def one_error_line(err: str) -> str:
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    return errors[0]


def cli_error(capsys, argv: list[str]) -> str:
    assert cli(argv) == 2
    return one_error_line(capsys.readouterr().err)


# ---- item 8, through `python -m bench` --------------------------------------------------------------------

def test_a_truncated_safetensors_is_one_error_line(tmp_path, capsys):
    """(Already an error line since the checkpoint-spec fix of item 3; kept so that it stays one.)"""
    whole = save_model(tmp_path / "fsrcnn.safetensors", registry.make("fsrcnn", scale=2)).read_bytes()
    for cut in (5, len(whole) // 2, len(whole) - 1):
        (tmp_path / "cut.safetensors").write_bytes(whole[:cut])
        for command in ("evaluate", "time"):
            line = cli_error(capsys, [command, "fsrcnn", "--weights", str(tmp_path / "cut.safetensors"), "--quiet",
                                      "--no-save"])
            assert "cut.safetensors" in line


def test_nan_model_output_is_one_error_line_naming_model_and_image_and_stores_nothing(tmp_path, capsys):
    model = registry.make("fsrcnn", scale=2)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.fill_(float("nan"))
    weights = save_model(tmp_path / "nan.safetensors", model)
    store = tmp_path / "store"
    line = cli_error(capsys, ["evaluate", "fsrcnn", "--weights", str(weights), "--dataset", "samples", "--quiet",
                              "--results-dir", str(store)])
    assert "fsrcnn" in line and "rocket" in line and "NaN" in line  # the largest sample, evaluated first
    assert not store.exists() or not any(store.iterdir())  # no partial record, no temporary file


def test_a_nan_value_is_never_stored(tmp_path):
    with pytest.raises(results.BenchError, match="NaN or infinite"):
        results.append({"model": "x", "max_abs_diff": float("nan")}, "time", tmp_path)
    assert not any(tmp_path.iterdir())


def test_a_decompression_bomb_png_is_one_error_line(tmp_path, capsys, monkeypatch):
    (tmp_path / "Set5" / "HR").mkdir(parents=True)
    Image.new("RGB", (64, 64), (10, 20, 30)).save(tmp_path / "Set5" / "HR" / "bomb.png")
    # PIL refuses an image of more than twice MAX_IMAGE_PIXELS; a small limit makes a small file a bomb
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 64 * 64 // 4)
    line = cli_error(capsys, ["evaluate", "bicubic", "--dataset", "Set5", "--scale", "2", "--data-root",
                              str(tmp_path), "--quiet", "--no-save"])
    assert "bomb.png" in line


# ---- item 8: the results store, read by the report and the gate -------------------------------------------

GOOD = {"model": "bicubic", "variant": "", "scale": 2, "dataset": "Set5", "protocol": "matlab", "psnr": 33.6611,
        "ssim": 0.92991, "budget": budget("none", "inference only"), "self_ensemble": False}

BAD_FILES = {
    "not-utf8.json": b"\xff\xfe{\x00",
    "not-json.json": b"{not json",
    "a-list.json": b"[1, 2, 3]",
    "a-number.json": b"7",
    "no-kind.json": b'{"model": "bicubic", "psnr": 30}',
    "text-psnr.json": b'{"kind": "evaluate", "model": "bicubic", "scale": 2, "dataset": "Set5", '
                      b'"protocol": "matlab", "psnr": "high"}',
    "number-model.json": b'{"kind": "complexity", "model": 5, "scale": 2, "params": 1}',
    "list-scale.json": b'{"kind": "complexity", "model": "imdn", "scale": [2], "params": 1}',
    "huge-int.json": b'{"kind": "complexity", "model": "imdn", "scale": 2, "params": 1' + b"0" * 400 + b"}",
    "list-budget.json": b'{"kind": "complexity", "model": "imdn", "scale": 2, "params": 1, "budget": [1]}',
    "list-provenance.json": b'{"kind": "complexity", "model": "imdn", "scale": 2, "params": 1, "provenance": []}',
}


@pytest.fixture
def messy_store(tmp_path):
    store = tmp_path / "store"
    results.append(GOOD, "evaluate", store)
    for name, data in BAD_FILES.items():
        (store / name).write_bytes(data)
    return store


def skipped_names(err: str) -> set[str]:
    """The files named by the loader's warning lines."""
    return {Path(found).name for found in re.findall(r"^warning: skipping (?:unreadable )?result (\S+\.json): ",
                                                       err, flags=re.M)}


def test_the_report_skips_bad_result_files_with_a_warning_naming_each(messy_store, tmp_path, capsys):
    assert report.main(["--markdown", "--out", str(tmp_path / "out"), "--results-dir", str(messy_store)]) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert skipped_names(err) == set(BAD_FILES)
    assert "33.661" in (tmp_path / "out" / "report.md").read_text()  # the good record is still used


def test_the_gate_skips_bad_result_files_with_a_warning_naming_each(messy_store, tmp_path, capsys):
    good = tmp_path / "good"
    results.append(GOOD, "evaluate", good)
    baseline = tmp_path / "baseline.json"
    assert regression.main(["--baseline", str(baseline), "--results-dir", str(good), "--update"]) == 0
    capsys.readouterr()
    assert regression.main(["--baseline", str(baseline), "--results-dir", str(messy_store)]) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and skipped_names(err) == set(BAD_FILES)


@pytest.mark.parametrize("text", [b"\xff\xfe", b"[]", b'{"entries": [{"key": 1}]}', b'{"entries": "x"}',
                                  b'{"entries": [{"key": {"model": "m"}, "tier": "none", "value": 1}]}',
                                  b'{"entries": [{"key": {"model": "m", "variant": "", "scale": "2", '
                                  b'"metric": "psnr"}, "tier": "none", "value": "30"}]}'],
                         ids=["not-utf8", "a-list", "key-not-object", "entries-not-list", "key-incomplete",
                              "value-text"])
def test_a_malformed_baseline_is_one_error_line(tmp_path, capsys, text):
    store = tmp_path / "store"
    results.append(GOOD, "evaluate", store)
    baseline = tmp_path / "baseline.json"
    baseline.write_bytes(text)
    for extra in ([], ["--update"]):
        assert regression.main(["--baseline", str(baseline), "--results-dir", str(store), *extra]) == 2
        one_error_line(capsys.readouterr().err)


# ---- item 7: a NaN PSNR fails the gate, and says why -------------------------------------------------------

def nan_store(folder: Path) -> Path:
    folder.mkdir(parents=True)
    # written by hand: the store itself never writes a NaN (json's NaN literal, as another tool might)
    (folder / "20990101T000000.000000-evaluate-nan.json").write_text(
        json.dumps({"kind": "evaluate", **GOOD, "psnr": float("nan")}))
    return folder


def test_a_nan_psnr_fails_the_gate_with_a_clear_message(tmp_path, capsys):
    good = tmp_path / "good"
    results.append(GOOD, "evaluate", good)
    baseline = tmp_path / "baseline.json"
    assert regression.main(["--baseline", str(baseline), "--results-dir", str(good), "--update"]) == 0
    capsys.readouterr()
    assert regression.main(["--baseline", str(baseline), "--results-dir", str(nan_store(tmp_path / "nan"))]) == 1
    row = next(line for line in capsys.readouterr().out.splitlines() if "psnr Set5" in line)
    assert "FELL" in row and "not a finite number" in row


def test_a_baseline_is_never_made_from_or_holds_a_nan(tmp_path, capsys):
    baseline = tmp_path / "baseline.json"
    store = nan_store(tmp_path / "nan")
    line = cli_error_of(regression.main, ["--baseline", str(baseline), "--results-dir", str(store), "--update"],
                        capsys)
    assert "not a finite number" in line and not baseline.exists()
    baseline.write_text('{"entries": [{"key": {"model": "bicubic", "variant": "", "scale": "2", "metric": "psnr", '
                        '"dataset": "Set5", "protocol": "matlab"}, "tier": "none", "value": NaN}]}')
    good = tmp_path / "good"
    results.append(GOOD, "evaluate", good)
    line = cli_error_of(regression.main, ["--baseline", str(baseline), "--results-dir", str(good)], capsys)
    assert "not a finite number" in line


def cli_error_of(main, argv, capsys) -> str:
    assert main(argv) == 2
    return one_error_line(capsys.readouterr().err)


# ---- item 8: a `$` in a figure label is drawn, not parsed as TeX -------------------------------------------

def test_a_dollar_in_a_learning_curve_title_is_drawn(tmp_path):
    from bench.figures import learning_curve

    pytest.importorskip("matplotlib")
    metrics = tmp_path / "metrics.csv"
    metrics.write_text("step,loss,val_psnr\n1,0.5,\n2,0.4,30.1\n")
    assert learning_curve(metrics, "imdn x2: smoke: lr $\\frac$ and $x^$", tmp_path / "curve.png")
    assert (tmp_path / "curve.png").stat().st_size > 0


@pytest.mark.parametrize("text", [b"step,loss\n1,high\n", b"\xff\xfe\n", b"a,b\n1,2\n"],
                         ids=["text-loss", "not-utf8", "other-columns"])
def test_a_damaged_metrics_csv_draws_no_curve_and_says_so(tmp_path, capsys, text):
    from bench.figures import learning_curve

    pytest.importorskip("matplotlib")
    (tmp_path / "metrics.csv").write_bytes(text)
    assert not learning_curve(tmp_path / "metrics.csv", "run", tmp_path / "curve.png")
    assert "warning: no learning curve from" in capsys.readouterr().err


def test_a_dollar_in_a_run_label_does_not_break_the_html_report(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    run = tmp_path / "run $x^$"
    run.mkdir()
    (run / "metrics.csv").write_text("step,loss,val_psnr\n1,0.5,\n2,0.4,30.1\n")
    store = tmp_path / "store"
    results.append({"model": "imdn", "variant": "", "scale": 2, "run_dir": str(run), "steps": 2, "it_per_s": 1.0,
                    "val_set": "Set5", "val_psnr": 30.1, "budget": budget("smoke", "a $\\frac$ budget")},
                   "train", store)
    out = tmp_path / "out"
    assert report.main(["--html", "--out", str(out), "--results-dir", str(store)]) == 0
    assert "Traceback" not in capsys.readouterr().err
    assert any(out.glob("*-training-0.png"))


# ---- the property: any JSON value or bytes in the store: a skip with a message, or one error line ----------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
FIELDS = ("model", "variant", "scale", "dataset", "protocol", "psnr", "ssim", "params", "mult_adds", "hr_size",
          "max_abs_diff", "margin", "reference", "budget", "provenance", "self_ensemble", "after_ms", "run_dir",
          "per_image")
# record-like objects reach past the first checks: a real kind, then any value in any field the readers use
record_like = st.builds(
    lambda kind, fields: {"kind": kind, **fields},
    st.sampled_from(["evaluate", "complexity", "time", "compare", "train", "other"]) | json_values,
    st.dictionaries(st.sampled_from(FIELDS), json_values | st.sampled_from(["bicubic", "Set5", "matlab", "2"]),
                    max_size=8),
)
file_bytes = (st.binary(max_size=64) | json_values.map(lambda v: json.dumps(v).encode())
              | record_like.map(lambda v: json.dumps(v).encode()))


@settings(max_examples=int(os.environ.get("BENCH_PROPERTY_EXAMPLES", "60")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(file_bytes, min_size=1, max_size=4))
def test_any_result_file_is_a_skip_with_a_message_or_one_error_line(files):
    with tempfile.TemporaryDirectory() as folder:
        store, out = Path(folder) / "store", Path(folder) / "out"
        store.mkdir()
        for index, data in enumerate(files):
            (store / f"r{index}.json").write_bytes(data)
        baseline = Path(folder) / "baseline.json"
        baseline.write_text(json.dumps({"entries": [{"key": {"model": "bicubic", "variant": "", "scale": "2",
                                                             "metric": "psnr", "dataset": "Set5",
                                                             "protocol": "matlab"}, "tier": "none", "value": 33.0}]}))

        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            loaded = results.load_records(store)
        warned = skipped_names(err.getvalue())
        assert len(loaded) + len(warned) == len(files)  # each file: a record, or a warning naming it

        for main, argv in ((report.main, ["--markdown", "--out", str(out), "--results-dir", str(store)]),
                           (regression.main, ["--baseline", str(baseline), "--results-dir", str(store)])):
            err, stdout = io.StringIO(), io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(stdout):
                status = main(argv)
            assert "Traceback" not in err.getvalue()
            assert skipped_names(err.getvalue()) == warned
            if status == 2:
                one_error_line(err.getvalue())
            else:
                assert status in (0, 1) and "error:" not in err.getvalue()


def test_values_the_property_relies_on():
    """The loader keeps a NaN measurement (the gate must see it to fail it) and skips what no reader can use."""
    assert results.record_problem({"kind": "evaluate", "psnr": math.nan}) is None
    assert results.record_problem({"kind": "evaluate", "psnr": True}) is not None
    assert results.record_problem({"kind": "evaluate", "psnr": 10 ** 400}) is not None


EXTRA_FIELDS = ("variant", "scale", "steps", "it_per_s", "val_set", "val_psnr", "budget", "run_dir", "before_ms",
                "after_ms", "max_abs_diff", "lr_size", "device", "provenance", "psnr", "reference_psnr", "margin",
                "dataset", "protocol", "reference", "beats")
extra_like = st.builds(
    lambda kind, fields: {"kind": kind, "model": "imdn", **fields},
    st.sampled_from(["time", "train", "compare"]),
    st.dictionaries(st.sampled_from(EXTRA_FIELDS), json_values | st.floats(0, 100) | st.just(""), max_size=14),
)


@settings(max_examples=int(os.environ.get("BENCH_PROPERTY_EXAMPLES", "10")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(extra_like.map(lambda v: json.dumps(v).encode()), min_size=1, max_size=3))
def test_any_timing_training_or_comparison_record_renders_or_is_left_out(files):
    """The HTML page's extra sections (timings, training runs, comparisons) read more fields than the tables:
    a record without them is left out with a warning, never a traceback."""
    pytest.importorskip("jinja2")
    with tempfile.TemporaryDirectory() as folder:
        store = Path(folder) / "store"
        store.mkdir()
        for index, data in enumerate(files):
            (store / f"r{index}.json").write_bytes(data)
        err, stdout = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(stdout):
            status = report.main(["--html", "--out", str(Path(folder) / "out"), "--results-dir", str(store)])
        assert "Traceback" not in err.getvalue()
        assert status == 0 or (status == 2 and one_error_line(err.getvalue()))


def test_evaluate_shows_its_progress_in_a_log(capsys):
    """Off a terminal (nohup, CI) an evaluation still says how far it got, as plain lines on stderr; --quiet
    silences it."""
    assert cli(["evaluate", "bicubic", "--scale", "2", "--no-save"]) == 0
    err = capsys.readouterr().err
    assert "bicubic samples x2: 5/5 (100%)" in err and "\r" not in err
    assert cli(["evaluate", "bicubic", "--scale", "2", "--no-save", "--quiet"]) == 0
    assert capsys.readouterr().err == ""
