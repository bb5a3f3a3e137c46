"""One checkpoint format: safetensors carrying the spec (and the budget); the CLI builds from that spec."""

import dataclasses
import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file
from torch import nn

from bench import BenchError, registry
from bench.__main__ import main
from bench.checkpoints import load_model, load_weights, read_spec, read_state_dict, save_model, training_budget
from bench.data.benchmarks import load_test_set
from bench.evaluate import evaluate
from bench.metrics import get_protocol
from bench.train import TrainConfig, train

BUDGET = {"tier": "smoke", "overrides": {"iterations": 2}, "note": "smoke: iterations 2 (paper 300000)"}


class TinyNet(nn.Module):
    def __init__(self, scale: int, width: int = 4):
        super().__init__()
        self.body = nn.Conv2d(3, 3 * scale * scale, 3, padding=1)
        self.extra = nn.Conv2d(3, width, 1)  # an option that changes the architecture
        self.shuffle = nn.PixelShuffle(scale)

    def forward(self, x):
        return self.shuffle(self.body(x))


@dataclasses.dataclass(frozen=True)
class TinyConfig:
    width: int = registry.option(4, "test: an option that changes the architecture")


if "tiny-ckpt" not in [c.name for c in registry.list_models()]:
    registry.register("tiny-ckpt", paper="test", scales=(2, 3), config=TinyConfig)(TinyNet)


@pytest.fixture
def tiny_set(tmp_path):
    """A one-image Set5 (24 x 24): evaluating a full-size model on it takes a fraction of a second."""
    folder = tmp_path / "data" / "Set5" / "HR"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    smooth = np.kron(rng.integers(0, 256, (3, 3, 3)), np.ones((8, 8, 1))).astype(np.uint8)
    Image.fromarray(smooth).save(folder / "tiny.png")
    return tmp_path / "data"


def randomized(model: nn.Module) -> nn.Module:
    """New random values in every trained parameter, so that a wrong load cannot pass by chance (fixed
    ones, like EDSR's mean shift, kept)."""
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.normal_(0, 0.02)
    return model


def run_json(capsys, *argv: str) -> tuple[int, dict]:
    code = main([*argv, "--json", "--quiet"])
    out = capsys.readouterr().out
    return code, json.loads(out) if code == 0 else {}


# ---- the format ---------------------------------------------------------------------------------------

def test_save_model_round_trip_keeps_spec_weights_and_budget(tmp_path):
    model = randomized(registry.make("edsr-baseline", scale=2, mean_shift=False))
    path = save_model(tmp_path / "run" / "final.safetensors", model, budget=BUDGET)
    assert [p.name for p in path.parent.iterdir()] == ["final.safetensors"]  # no temporary file left
    assert read_spec(path) == {"name": "edsr-baseline", "args": {"scale": 2, "mean_shift": False}}
    assert training_budget(path) == BUDGET
    loaded = load_model(path)
    assert loaded.spec == model.spec and loaded.mean_shift is False
    ours, theirs = model.state_dict(), loaded.state_dict()
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
    assert training_budget(save_model(tmp_path / "plain.safetensors", model)) is None
    with pytest.raises(BenchError, match="no spec"):
        save_model(tmp_path / "x.safetensors", nn.Conv2d(3, 3, 1))
    with pytest.raises(BenchError, match="name it x.safetensors"):  # the loaders would read a .pt as a pickle
        save_model(tmp_path / "x.pt", model)
    assert not (tmp_path / "x.pt").exists()


def test_budget_of_a_file_written_before_budgets_were_json_is_its_label(tmp_path):
    model = registry.make("tiny-ckpt", scale=2)
    path = tmp_path / "final.safetensors"
    save_file(model.state_dict(), str(path), metadata={"spec": json.dumps(model.spec), "budget": "smoke: old label"})
    assert training_budget(path) == "smoke: old label"
    assert load_model(path).spec == model.spec


def test_load_model_reads_a_run_final_file_and_its_step_checkpoints(tmp_path, tiny_set):
    spec = {"name": "tiny-ckpt", "args": {"scale": 2, "width": 5}}
    config = TrainConfig(iterations=2, batch_size=1, lr_patch=8, learning_rate=1e-3, train_sets=("Set5",),
                         val_set="Set5", checkpoint_every=1, ema_decay=0.5, budget="smoke: test")
    run = tmp_path / "run"
    summary = train(spec, config, run, data_root=tiny_set, progress=False)
    final, step = run / "final.safetensors", run / "checkpoints" / "step-0000002.safetensors"
    assert summary["weights"] == str(final) and training_budget(final) == config.budget_record()
    assert load_model(final).spec == spec and load_model(step).spec == spec
    assert training_budget(step) == config.budget_record()  # from the step's recipe
    stored = json.loads(step.with_suffix(".json").read_text())
    assert stored["spec"] == read_spec(step) == spec
    from safetensors.torch import load_file

    tensors = load_file(str(step))
    weights = load_model(step).state_dict()
    assert all(torch.equal(weights[k], tensors[f"model/{k}"]) for k in weights)  # the model's, not the EMA's
    assert not torch.equal(tensors["model/body.weight"], tensors["ema/body.weight"])
    ema = load_model(final).state_dict()
    assert all(torch.equal(ema[k], tensors[f"ema/{k}"]) for k in ema)  # final: the EMA copy
    # a step checkpoint parted from its .json is no longer self-describing, but still loads by name
    step.with_suffix(".json").unlink()
    assert read_spec(step) is None
    assert read_state_dict(step).keys() == weights.keys()
    load_weights(registry.make(spec), step)


def test_foreign_files_load_by_name_through_torch_load_weights_only(tmp_path):
    model = randomized(registry.make("tiny-ckpt", scale=2))
    release = tmp_path / "release.pth"
    torch.save({"params": model.state_dict(), "iteration": 5}, release)
    assert read_spec(release) is None
    fresh = load_weights(registry.make("tiny-ckpt", scale=2), release)
    assert torch.equal(fresh.body.weight, model.body.weight)
    with pytest.raises(BenchError, match="carries no spec"):
        load_model(release)
    with pytest.raises(BenchError, match="does not fit tiny-ckpt"):
        load_weights(registry.make("tiny-ckpt", scale=3), release)
    unsafe = tmp_path / "unsafe.pt"
    torch.save({"state_dict": model.state_dict(), "config": TrainConfig(1, 1, 8, 1e-3)}, unsafe)
    with pytest.raises(BenchError, match="weights_only=True"):
        read_state_dict(unsafe)
    with pytest.raises(BenchError, match="does not exist"):
        load_model(tmp_path / "missing.safetensors")


def test_a_weights_name_is_found_in_the_weights_dir_and_its_zoo(tmp_path, monkeypatch):
    model = randomized(registry.make("tiny-ckpt", scale=2))
    (tmp_path / "zoo").mkdir()
    torch.save(model.state_dict(), tmp_path / "zoo" / "release_x2.pth")
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path))
    fresh = load_weights(registry.make("tiny-ckpt", scale=2), "release_x2.pth")
    assert torch.equal(fresh.body.weight, model.body.weight)
    with pytest.raises(BenchError, match=r"does not exist \(nor in .*zoo"):
        load_weights(registry.make("tiny-ckpt", scale=2), "release_x3.pth")


# ---- the CLI builds the model from the checkpoint's spec -------------------------------------------------

def test_evaluate_builds_the_architecture_the_checkpoint_carries(tmp_path, tiny_set, capsys):
    model = randomized(registry.make("edsr-baseline", scale=2, mean_shift=False))
    path = save_model(tmp_path / "edsr.safetensors", model, budget=BUDGET)
    code, result = run_json(capsys, "evaluate", "edsr-baseline", "--weights", str(path), "--dataset", "Set5",
                            "--data-root", str(tiny_set))
    assert code == 0 and result["scale"] == 2  # the checkpoint's scale: --scale was not given
    assert result["spec"] == {"name": "edsr-baseline", "args": {"scale": 2, "mean_shift": False}}
    with open(result["stored_as"]) as handle:
        assert json.load(handle)["spec"] == result["spec"]  # the stored record says so too

    def psnr(candidate):
        card, protocol = registry.get("edsr-baseline"), get_protocol("basicsr")
        return evaluate(candidate, card, load_test_set("Set5", 2, tiny_set), protocol, progress=False)["psnr"]

    assert result["psnr"] == pytest.approx(psnr(model), abs=1e-9)  # measured with mean_shift=False ...
    default = load_weights(registry.make("edsr-baseline", scale=2), path)
    assert abs(psnr(default) - result["psnr"]) > 0.01  # ... which the default architecture would not give


def test_a_fixed_scale_checkpoint_refuses_another_scale_and_another_model(tmp_path, tiny_set, capsys):
    path = save_model(tmp_path / "edsr.safetensors", randomized(registry.make("edsr-baseline", scale=2)))
    data = ["--dataset", "Set5", "--data-root", str(tiny_set), "--no-save"]
    code, result = run_json(capsys, "evaluate", "edsr-baseline", "--scale", "2", "--weights", str(path), *data)
    assert code == 0 and result["scale"] == 2
    assert main(["evaluate", "edsr-baseline", "--scale", "3", "--weights", str(path), *data]) == 2
    assert "x2 weights" in capsys.readouterr().err
    assert main(["evaluate", "imdn", "--weights", str(path), *data]) == 2
    assert "checkpoint of edsr-baseline" in capsys.readouterr().err
    assert main(["time", "edsr-baseline", "--scale", "4", "--weights", str(path), "--no-save"]) == 2
    assert "fixed-scale" in capsys.readouterr().err


def test_an_arbitrary_scale_checkpoint_evaluates_at_its_scale_or_the_one_given(tmp_path, tiny_set, capsys):
    model = randomized(registry.make("msit-edsr", scale=2))
    path = save_model(tmp_path / "final.safetensors", model, budget=BUDGET)
    data = ["--dataset", "Set5", "--data-root", str(tiny_set), "--no-save"]
    code, result = run_json(capsys, "evaluate", "msit-edsr", "--weights", str(path), *data)
    assert code == 0 and result["scale"] == 2 and result["spec"] == model.spec
    assert result["budget"] == BUDGET
    code, result = run_json(capsys, "evaluate", "msit-edsr", "--scale", "3", "--weights", str(path), *data)
    assert code == 0 and result["scale"] == 3 and result["spec"] == {"name": "msit-edsr", "args": {"scale": 3}}


def test_time_builds_the_architecture_the_checkpoint_carries(tmp_path, capsys):
    path = save_model(tmp_path / "edsr.safetensors", randomized(registry.make("edsr-baseline", scale=3,
                                                                             mean_shift=False)))
    code, result = run_json(capsys, "time", "edsr-baseline", "--weights", str(path), "--lr", "12x12",
                            "--warmup", "0", "--repeats", "1", "--device", "cpu", "--no-save")
    assert code == 0 and result["scale"] == 3
    assert result["spec"] == {"name": "edsr-baseline", "args": {"scale": 3, "mean_shift": False}}
    code, result = run_json(capsys, "time", "tiny-ckpt", "--lr", "12x12", "--warmup", "0", "--repeats", "1",
                            "--device", "cpu", "--no-save", "--scale", "2")
    assert code == 0 and result["spec"] == {"name": "tiny-ckpt", "args": {"scale": 2}}
