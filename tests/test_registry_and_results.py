"""Registry (register / make / discovery through entry points) and the results store."""

import dataclasses
import json
import os
import re
import subprocess
import sys

import pytest
import torch

from bench import BenchError, registry, results
from bench.reported import COLUMNS, read_reported, reported_numbers


def test_entry_points_register_bicubic():
    names = [card.name for card in registry.list_models()]
    assert "bicubic" in names
    assert [c.name for c in registry.list_models("bic*")] == ["bicubic"]


def test_make_builds_from_spec_and_keeps_it():
    model = registry.make({"name": "bicubic", "args": {"scale": 3}})
    assert model.spec == {"name": "bicubic", "args": {"scale": 3}}
    assert model(torch.rand(1, 3, 5, 7)).shape == (1, 3, 15, 21)


def test_make_rejects_unknown_options_and_missing_scale():
    with pytest.raises(BenchError, match="no option depth"):
        registry.make("bicubic", scale=2, depth=3)
    with pytest.raises(BenchError, match="needs a scale"):
        registry.make("bicubic")


@dataclasses.dataclass(frozen=True)
class ToyConfig:
    width: int = registry.option(8, "test: a width")


class Toy(torch.nn.Module):
    def __init__(self, scale, width):
        super().__init__()
        self.width = width


def test_register_checks_names_scales_and_duplicates():
    with pytest.raises(ValueError, match="lower-case"):
        registry.register("My_Model", paper="x", scales=(2,))
    with pytest.raises(ValueError, match="unknown options"):
        registry.register("toy-bad", paper="x", scales=(2,), config=ToyConfig,
                          variants={"deep": registry.Variant({"depth": 3})})(Toy)
    registry.register("toy-net", paper="test", scales=(2, 4), config=ToyConfig,
                      variants={"wide": registry.Variant({"width": 32}, "a wider row")})(Toy)
    try:
        card = registry.get("toy-net")
        assert card.defaults == {"width": 8}
        assert card.config_fields() == [{"name": "width", "type": "int", "default": 8, "source": "test: a width"}]
        with pytest.raises(BenchError, match="no x3 variant; it supports x2, x4"):
            registry.make("toy-net", scale=3)
        with pytest.raises(ValueError, match="registered twice"):
            registry.register("toy-net", paper="test", scales=(2,))(lambda scale: torch.nn.Identity())
        wide = registry.make("toy-net.wide", scale=2)
        assert wide.width == 32 and wide.spec == {"name": "toy-net.wide", "args": {"scale": 2}}
        assert registry.make("toy-net.wide", scale=2, width=4).width == 4  # a given option wins over the row's
        assert (registry.get("toy-net.wide").base, registry.get("toy-net.wide").variant_name) == ("toy-net", "wide")
    finally:
        for name in ("toy-net", "toy-net.wide", "toy-bad"):
            registry._MODELS.pop(name, None)


def test_every_table_row_is_a_registered_name_everywhere(tmp_path, capsys):
    """timm's habit: an ablation row builds by name, and the CLI counts it and lists its config."""
    from bench.__main__ import main as cli

    assert cli(["complexity", "msra-light.wo-ga", "--scale", "2", "--hr", "32x32", "--no-cache", "--json",
                "--results-dir", str(tmp_path)]) == 0
    counted = json.loads(capsys.readouterr().out)
    full = registry.make("msra-light", scale=2)
    assert counted["params"] < sum(p.numel() for p in full.parameters())  # the global branch is gone
    (stored,) = results.load_records(tmp_path)
    assert (stored["model"], stored["variant"], stored["budget"]["tier"]) == ("msra-light", "wo-ga", "none")
    assert cli(["list", "msra-light.*", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["models"]
    assert len(listed) == 15 and all(m["config"] for m in listed)
    wo_ga = next(m for m in listed if m["model"] == "msra-light.wo-ga")
    assert {f["name"]: f["default"] for f in wo_ga["config"]}["ga_hidden"] is None


def test_reported_numbers_are_well_formed(tmp_path):
    rows = reported_numbers()
    assert rows and all(re.fullmatch(r"\w+/reported\.csv:\d+", r.source) for r in rows)
    assert all(r.printed and float(r.printed) == r.value for r in rows)
    keys = [(r.paper, r.table, r.model, r.variant, r.scale, r.dataset, r.metric) for r in rows]
    assert len(keys) == len(set(keys)), "a reported number is typed twice"
    bad = tmp_path / "reported.csv"
    bad.write_text(",".join(COLUMNS) + "\namms,T2,bicubic,,2,Set5,psnr,33.6x,matlab,\n")
    with pytest.raises(BenchError, match="reported.csv:2: value '33.6x' is not a number"):
        read_reported(bad)


def test_results_are_appended_atomically_with_provenance(tmp_path):
    first = results.append({"model": "bicubic", "psnr": 30.0}, "evaluate", tmp_path)
    second = results.append({"model": "bicubic", "psnr": 31.0}, "evaluate", tmp_path)
    assert first != second and first.exists() and second.exists()
    (tmp_path / "garbage.json").write_text("{not json")
    records = results.load_records(tmp_path, kind="evaluate")
    assert sorted(r["psnr"] for r in records) == [30.0, 31.0]
    prov = records[0]["provenance"]
    assert {"git_commit", "torch", "device_name", "command", "time"} <= set(prov)
    assert not list(tmp_path.glob(".tmp-*"))


def test_a_failed_write_leaves_earlier_records_and_no_debris(tmp_path):
    results.append({"psnr": 1.0}, "evaluate", tmp_path)
    with pytest.raises(BenchError, match="NaN or infinite"):
        results.append({"psnr": float("nan")}, "evaluate", tmp_path)  # not valid JSON: refused, one error line
    assert [r["psnr"] for r in results.load_records(tmp_path)] == [1.0]
    assert not list(tmp_path.glob(".tmp-*"))


def test_cli_json_is_one_object_on_stdout_progress_on_stderr(tmp_path):
    env = {**os.environ, "BENCH_RESULTS_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "bench", "evaluate", "bicubic", "--scale", "3", "--json"],
                          capture_output=True, text=True, env=env, timeout=300, check=True)
    payload = json.loads(done.stdout)  # exactly one object: anything else would not parse
    for key in ("model", "scale", "dataset", "psnr", "ssim", "device", "protocol"):
        assert key in payload
    assert payload["model"] == "bicubic" and payload["scale"] == 3
    stored = results.load_records(tmp_path)
    assert len(stored) == 1 and stored[0]["psnr"] == payload["psnr"]


def test_records_come_back_in_the_order_they_were_stored(tmp_path):
    for index in range(30):  # many within one second: the order must not hang on the random suffix
        results.append({"index": index}, "evaluate", tmp_path)
    assert [r["index"] for r in results.load_records(tmp_path)] == list(range(30))
