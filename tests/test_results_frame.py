"""Issue 22: the results store and the reported numbers as pandas frames, and ``python -m bench results``."""

import csv
import io
import json

import pandas as pd
import pytest

from bench import results
from bench.__main__ import main as cli
from bench.measurements import budget
from bench.reported import reported_frame, reported_numbers

INFERENCE = budget("none", "inference only")


def evaluation(model, psnrs, dataset="Set5", scale=2, protocol="matlab", variant="", **extra):
    """An evaluate record with per-image scores (image i: PSNR psnrs[i], SSIM psnrs[i] / 100)."""
    per_image = [{"name": f"img{i}", "psnr": p, "ssim": None if p is None else p / 100} for i, p in enumerate(psnrs)]
    finite = [p for p in psnrs if p is not None]
    return {"model": model, "variant": variant, "scale": scale, "dataset": dataset, "protocol": protocol,
            "self_ensemble": False, "psnr": sum(finite) / len(finite), "ssim": sum(finite) / len(finite) / 100,
            "per_image": per_image, "budget": INFERENCE, **extra}


@pytest.fixture
def store(tmp_path):
    folder = tmp_path / "store"
    results.append(evaluation("bicubic", [30.0, 31.0, 32.0]), "evaluate", folder)
    results.append(evaluation("vdsr", [31.0, None, 33.5]), "evaluate", folder)  # img1: an infinite PSNR
    results.append({"model": "imdn", "scale": 2, "params": 715_176, "mult_adds": 158.9e9, "hr_size": "1280x720",
                    "budget": budget("none", "model size only")}, "complexity", folder)
    results.append(evaluation("msit-edsr", [28.0], scale=1.5, protocol="liif-y", budget=budget("smoke", "x")),
                   "evaluate", folder)
    return folder


def test_the_frame_has_one_row_per_record_with_its_provenance(store):
    table = results.frame(store)
    assert list(table.index) == [0, 1, 2, 3] and table.index.name == "record"
    assert list(table["kind"]) == ["evaluate", "evaluate", "complexity", "evaluate"]
    assert list(table["model"]) == ["bicubic", "vdsr", "imdn", "msit-edsr"]
    assert list(table["scale"]) == ["2", "2", "2", "1.5"]  # as reported.csv types scales
    assert list(table["tier"]) == ["none", "none", "none", "smoke"]
    assert table.loc[2, "params"] == 715_176 and table.loc[2, "hr_size"] == "1280x720"
    assert table.loc[1, "psnr"] == pytest.approx((31.0 + 33.5) / 2)
    stored = results.load_records(store)
    for field in ("git_commit", "device_name", "torch", "command"):
        assert list(table[field]) == [r["provenance"][field] for r in stored]
    assert list(table["time"]) == [pd.Timestamp(r["provenance"]["time"]) for r in stored]
    assert "per_image" not in table and "provenance" not in table  # nested fields stay out


def test_the_image_frame_has_one_row_per_image_and_joins_the_frame_by_record(store):
    images = results.image_frame(store)
    assert len(images) == 3 + 3 + 1
    vdsr = images[images["model"] == "vdsr"]
    assert list(vdsr["image"]) == ["img0", "img1", "img2"]
    assert vdsr["psnr"].isna().tolist() == [False, True, False]  # infinite PSNR stored as null
    assert list(vdsr["ssim"].dropna()) == pytest.approx([0.31, 0.335])
    joined = images.merge(results.frame(store)[["command"]], left_on="record", right_index=True)
    assert len(joined) == len(images) and joined["command"].notna().all()


def test_frames_of_an_empty_store_are_empty_with_their_columns(tmp_path):
    assert results.frame(tmp_path).empty and {"kind", "model", "time", "git_commit"} <= set(results.frame(tmp_path))
    assert results.image_frame(tmp_path).empty and {"record", "image", "psnr"} <= set(results.image_frame(tmp_path))


def test_malformed_per_image_scores_are_left_out_not_fatal(tmp_path):
    record = evaluation("bicubic", [30.0])
    record["per_image"] += [5, {"psnr": 1.0}, {"name": "text", "psnr": "high", "ssim": 0.5}]
    results.append(record, "evaluate", tmp_path)
    results.append({**evaluation("vdsr", [30.0]), "per_image": 7}, "evaluate", tmp_path)
    images = results.image_frame(tmp_path)
    assert list(images["image"]) == ["img0", "text"]  # a name is needed to pair an image
    assert images["psnr"].isna().tolist() == [False, True]


def test_the_reported_frame_holds_every_reported_number():
    rows = reported_numbers()
    table = reported_frame()
    assert len(table) == len(rows)
    assert table["value"].tolist() == [r.value for r in rows] and table["source"].tolist() == [r.source for r in rows]
    assert {"paper", "table", "model", "variant", "scale", "dataset", "metric", "protocol", "printed"} <= set(table)


# ---- python -m bench results ---------------------------------------------------------------------------------

def run(capsys, *argv):
    status = cli(["results", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_results_filters_and_formats(store, capsys):
    status, out, _ = run(capsys, "--results-dir", str(store), "--kind", "evaluate", "--format", "json")
    payload = json.loads(out)
    assert status == 0 and payload["count"] == 3 and payload["stored"] == 4
    assert [r["model"] for r in payload["rows"]] == ["bicubic", "vdsr", "msit-edsr"]
    _, out, _ = run(capsys, "--results-dir", str(store), "--model", "v*", "--format", "csv")
    (row,) = csv.DictReader(io.StringIO(out))
    assert (row["model"], row["record"], float(row["psnr"])) == ("vdsr", "1", (31.0 + 33.5) / 2)
    _, out, _ = run(capsys, "--results-dir", str(store), "--scale", "1.5")
    assert "msit-edsr" in out and "bicubic" not in out
    _, out, _ = run(capsys, "--results-dir", str(store), "--dataset", "Set5", "--scale", "2.0", "--format", "markdown")
    lines = out.splitlines()
    assert lines[0].startswith("| kind | model |") and len(lines) == 2 + 2  # header, rule, bicubic, vdsr
    _, out, _ = run(capsys, "--results-dir", str(store), "--per-image", "--model", "bicubic", "--json")
    assert [(r["image"], r["psnr"]) for r in json.loads(out)["rows"]] == [("img0", 30.0), ("img1", 31.0),
                                                                          ("img2", 32.0)]
    _, out, _ = run(capsys, "--results-dir", str(store), "--paper", "imdn")  # the models IMDN's table prints
    assert "imdn" in out and "vdsr" not in out


@pytest.mark.parametrize("argv, message", [
    (["--kind", "evalute"], "no stored result has --kind evalute (there: complexity, evaluate)"),
    (["--model", "edsr*"], "no stored result has --model edsr* (there: bicubic, imdn, msit-edsr, vdsr)"),
    (["--kind", "complexity", "--dataset", "Set5"], "--dataset Set5 among those the other filters keep"),
    (["--scale", "two"], "--scale takes a number"),
    (["--paper", "nope"], "--paper 'nope' is not a paper with reported numbers"),
])
def test_a_bad_filter_is_one_error_line_naming_what_there_is(store, capsys, argv, message):
    status, out, err = run(capsys, "--results-dir", str(store), *argv)
    assert status == 2 and out == "" and "Traceback" not in err
    (line,) = err.splitlines()
    assert line.startswith("error: ") and message in line


def test_an_empty_store_is_one_error_line(tmp_path, capsys):
    status, _, err = run(capsys, "--results-dir", str(tmp_path / "none"))
    assert status == 2 and err.startswith("error: the results store") and "holds no results" in err
