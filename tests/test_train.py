"""The training engine: exact resume, DDP equivalence (gloo, 2 processes), schedules, budgets, patches."""

import dataclasses
import json
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp
from image_cache import ImageCache
from safetensors.torch import load_file
from torch import nn

from bench import BenchError, registry
from bench.data.imresize import imresize
from bench.data.training import PatchSampler
from bench.train import TrainConfig, _load_initial_weights, learning_rate_factor, smoke, train, training_loss


class TinySR(nn.Module):
    def __init__(self, scale: int, poison_after: int = 0):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(8, 3 * scale * scale, 3, padding=1))
        self.shuffle = nn.PixelShuffle(scale)
        self.poison_after, self.calls = poison_after, 0

    def forward(self, x):
        self.calls += 1
        y = self.shuffle(self.body(x))
        return y * float("nan") if self.poison_after and self.training and self.calls > self.poison_after else y


@dataclasses.dataclass(frozen=True)
class TinyConfig:
    poison_after: int = registry.option(0, "test: NaN outputs after this many training calls (0: never)")


if "tiny-sr" not in [c.name for c in registry.list_models()]:
    registry.register("tiny-sr", paper="test", scales=(2,), config=TinyConfig)(
        lambda scale, poison_after: TinySR(scale, poison_after))

SPEC = {"name": "tiny-sr", "args": {"scale": 2}}
CONFIG = TrainConfig(iterations=6, batch_size=4, lr_patch=8, learning_rate=1e-3, milestones=(4,),
                     train_sets=("samples-train",), val_set="samples", checkpoint_every=3, ema_decay=0.9, budget="test")


def losses(run_dir) -> list[float]:
    rows = (run_dir / "metrics.csv").read_text().splitlines()[1:]
    return [float(r.split(",")[1]) for r in rows]


def test_resume_after_a_kill_is_bit_exact(tmp_path):
    straight = train(SPEC, CONFIG, tmp_path / "a", progress=False)
    stopped = train(SPEC, CONFIG, tmp_path / "b", progress=False, stop_after=4)  # "killed" after step 4
    assert not stopped["finished"]
    assert json.loads((tmp_path / "b" / "checkpoints" / "latest.json").read_text())["step"] == 3
    # killed after step 4, its last checkpoint at step 3, mid-write of the next files: resuming forgets step 4's
    # metrics row and the half-written files (issue 21 item 6)
    folder = tmp_path / "b" / "checkpoints"
    (folder / "step-0000006.safetensors.tmp").write_bytes(b"half")
    (folder / "step-0000005.json").write_text("{}")
    resumed = train(SPEC, CONFIG, tmp_path / "b", progress=False)
    steps = [int(row.split(",")[0]) for row in (tmp_path / "b" / "metrics.csv").read_text().splitlines()[1:]]
    assert steps == list(range(1, CONFIG.iterations + 1))  # one row per step
    assert sorted(p.name for p in folder.iterdir()) == ["latest.json", "step-0000006.json",
                                                        "step-0000006.safetensors"]
    assert resumed["finished"] and straight["finished"]
    a, b = load_file(str(tmp_path / "a" / "final.safetensors")), load_file(str(tmp_path / "b" / "final.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert losses(tmp_path / "a") == losses(tmp_path / "b")
    assert len(list((tmp_path / "b" / "checkpoints").glob("*.safetensors"))) == 1  # older ones removed


def _ddp_worker(rank: int, world: int, port: int, run_dir: str, lrs: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    ImageCache(lrs).install()  # the LR images the single process made (a fresh process of its own)
    train(SPEC, dataclasses.replace(CONFIG, ema_decay=0.0), run_dir, progress=False)
    torch.distributed.destroy_process_group()


def test_two_gloo_processes_follow_one_process(tmp_path, image_cache):
    single = tmp_path / "single"
    train(SPEC, dataclasses.replace(CONFIG, ema_decay=0.0), single, progress=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mp.spawn(_ddp_worker, args=(2, port, str(tmp_path / "ddp"), image_cache.lrs), nprocs=2, join=True)
    torch.testing.assert_close(torch.tensor(losses(tmp_path / "ddp")), torch.tensor(losses(single)),
                               rtol=1e-5, atol=1e-6)
    one = load_file(str(single / "final.safetensors"))
    two = load_file(str(tmp_path / "ddp" / "final.safetensors"))
    for key in one:
        torch.testing.assert_close(two[key], one[key], rtol=1e-4, atol=1e-6)


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    spec = {"name": "tiny-sr", "args": {"scale": 2, "poison_after": 4}}
    with pytest.raises(BenchError, match=r"loss became nan at step 5; stopped. Last good checkpoint: .*step-0000003"):
        train(spec, CONFIG, tmp_path, progress=False)
    assert (tmp_path / "checkpoints" / "step-0000003.safetensors").is_file()


def test_schedules():
    multistep = TrainConfig(iterations=100, batch_size=1, lr_patch=8, learning_rate=1, milestones=(50, 75), gamma=0.5)
    assert [learning_rate_factor(multistep, s) for s in (0, 49, 50, 74, 75, 99)] == [1, 1, 0.5, 0.5, 0.25, 0.25]
    cosine = dataclasses.replace(multistep, schedule="cosine", warmup=10)
    assert learning_rate_factor(cosine, 0) == pytest.approx(0.1)
    assert learning_rate_factor(cosine, 10) == pytest.approx(1.0)
    assert learning_rate_factor(cosine, 55) == pytest.approx(0.5)
    from_a_tenth = dataclasses.replace(cosine, warmup_start=0.1)  # MSIT's warm-up: 1e-5 up to 1e-4
    assert learning_rate_factor(from_a_tenth, 0) == pytest.approx(0.19)
    assert learning_rate_factor(from_a_tenth, 9) == pytest.approx(1.0)


def test_smoke_changes_only_the_budget_and_says_so():
    paper = registry.get("swinir-light").build_recipe(2)
    quick = smoke(paper)
    changed = {f.name for f in dataclasses.fields(TrainConfig) if getattr(paper, f.name) != getattr(quick, f.name)}
    assert changed <= {"iterations", "batch_size", "lr_patch", "train_sets", "val_set", "milestones", "warmup",
                       "checkpoint_every", "val_every", "ema_decay", "budget", "tier", "overrides"}
    assert quick.budget.startswith("smoke:") and "iterations 900 (paper 500000)" in quick.budget
    assert quick.tier == "smoke" and quick.overrides["iterations"] == 900 and quick.overrides["ema_decay"] == 0.0
    assert smoke(paper, iterations=30, tier="ci", val_every=0).budget_record()["overrides"]["val_every"] == 0
    assert (quick.val_every, smoke(paper, iterations=30, tier="ci").val_every) == (300, 0)  # ci validates at the end
    assert quick.milestones == (450, 720, 810, 855)
    assert "ema_decay 0.0 (paper 0.999)" in quick.budget


def test_patches_are_aligned_and_augmented_consistently():
    torch.manual_seed(0)
    image = (torch.rand(3, 8, 10) * 255).to(torch.uint8)
    image = torch.nn.functional.interpolate(image[None].float(), size=(96, 120), mode="bilinear")[0].to(torch.uint8)
    sampler = PatchSampler([image], scale=2, lr_patch=16)
    lr, hr = sampler.batch(torch.Generator().manual_seed(1), 8)
    assert lr.shape == (8, 3, 16, 16) and hr.shape == (8, 3, 32, 32)
    for i in range(8):  # away from the patch border, the LR patch is MATLAB bicubic of the HR patch: a shift by
        # one pixel would be tens of levels off; rotated patches differ by 1 where the 8-bit pass order swaps
        ours = torch.round(imresize(hr[i], 0.5, uint8_passes=True) * 255)
        assert (ours - torch.round(lr[i] * 255))[:, 3:-3, 3:-3].abs().max() <= 1
    with pytest.raises(BenchError, match="does not split"):
        sampler.batch(torch.Generator(), 5, rank=0, world=2)


def test_a_run_folder_is_never_mixed_up(tmp_path):
    train(SPEC, CONFIG, tmp_path, progress=False, stop_after=3)
    with pytest.raises(BenchError, match="another model or recipe"):
        train(SPEC, dataclasses.replace(CONFIG, learning_rate=5e-4), tmp_path, progress=False)
    with pytest.raises(BenchError, match="already holds a run"):
        train(SPEC, CONFIG, tmp_path, progress=False, resume=False)


def test_resume_accepts_another_reporting_cadence_and_older_checkpoints(tmp_path):
    train(SPEC, CONFIG, tmp_path, progress=False, stop_after=3)
    meta = tmp_path / "checkpoints" / "step-0000003.json"
    stored = json.loads(meta.read_text())
    del stored["config"]["loss_weights"]  # written before the field existed: it counts as its default
    meta.write_text(json.dumps(stored))
    resumed = train(SPEC, dataclasses.replace(CONFIG, val_every=2), tmp_path, progress=False)
    assert resumed["finished"] and resumed["steps"] == CONFIG.iterations


def test_trained_weights_evaluate_with_their_budget_label(tmp_path, capsys):
    from bench.__main__ import main

    config = smoke(CONFIG, iterations=2, train_sets=("samples-train",), val_set="samples", tier="ci")
    train(SPEC, config, tmp_path, progress=False)
    code = main(["evaluate", "tiny-sr", "--scale", "2", "--weights", str(tmp_path / "final.safetensors"), "--json",
                 "--quiet"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["budget"] == config.budget_record() and result["budget"]["tier"] == "ci"


def test_multi_output_loss_is_the_weighted_sum_against_resized_targets():
    torch.manual_seed(0)
    hr = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    full, half = torch.rand(2, 3, 16, 16, dtype=torch.float64), torch.rand(2, 3, 8, 8, dtype=torch.float64)
    config = dataclasses.replace(CONFIG, loss_weights=(0.25, 0.75))
    expected = 0.25 * (full - hr).abs().mean() + 0.75 * (half - imresize(hr, 0.5)).abs().mean()
    assert torch.equal(training_loss(config, (full, half), hr), expected)
    assert torch.equal(training_loss(CONFIG, [full, full], hr), (full - hr).abs().mean())  # default: the mean
    assert torch.equal(training_loss(CONFIG, full, hr), (full - hr).abs().mean())
    with pytest.raises(BenchError, match="2 outputs but the recipe has 3 loss weights"):
        training_loss(dataclasses.replace(CONFIG, loss_weights=(1, 1, 1)), (full, half), hr)
    with pytest.raises(BenchError, match="not a rescaled"):
        training_loss(CONFIG, torch.rand(2, 3, 8, 4), hr)


class TinyImplicit(nn.Module):
    """An arbitrary-scale model in miniature: a conv, read bilinearly at the query coordinates."""

    def __init__(self, scale: int):
        super().__init__()
        self.scale = scale
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.loaded: dict | None = None

    def forward(self, lr, coord=None, cell=None):
        feat = self.conv(lr) + lr
        if coord is None:
            return nn.functional.interpolate(feat, scale_factor=self.scale, mode="bilinear", align_corners=False)
        xy = coord.flip(-1).unsqueeze(1)
        return nn.functional.grid_sample(feat, xy, mode="bilinear", align_corners=False)[:, :, 0].transpose(1, 2)

    def load_pretrained(self, state):
        self.loaded = state
        self.load_state_dict(state)


if "tiny-implicit" not in [c.name for c in registry.list_models()]:
    registry.register("tiny-implicit", paper="test", scales=None)(lambda scale: TinyImplicit(scale))

IMPLICIT = {"name": "tiny-implicit", "args": {"scale": 2}}
ARBITRARY = dataclasses.replace(CONFIG, sampler="arbitrary", scale_range=(1.0, 3.0), scale_per="batch", queries=32,
                                ema_decay=0.0)


def test_arbitrary_scale_training_resumes_bit_exact(tmp_path):
    straight = train(IMPLICIT, ARBITRARY, tmp_path / "a", progress=False)
    train(IMPLICIT, ARBITRARY, tmp_path / "b", progress=False, stop_after=3)
    resumed = train(IMPLICIT, ARBITRARY, tmp_path / "b", progress=False)
    assert straight["finished"] and resumed["finished"]
    assert losses(tmp_path / "a") == losses(tmp_path / "b") and all(v == v for v in losses(tmp_path / "a"))
    a, b = load_file(str(tmp_path / "a" / "final.safetensors")), load_file(str(tmp_path / "b" / "final.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["conv.weight"], TinyImplicit(2).conv.weight)  # it trained


def test_init_from_goes_through_the_models_own_loader_else_loads_strictly(tmp_path):
    first = train(IMPLICIT, dataclasses.replace(ARBITRARY, iterations=2), tmp_path / "a", progress=False)
    model = TinyImplicit(2)
    _load_initial_weights(model, first["weights"])
    assert torch.equal(model.conv.weight, load_file(first["weights"])["conv.weight"])
    assert model.loaded is not None  # the hook was used
    with pytest.raises(BenchError, match="does not fit"):
        _load_initial_weights(registry.make(SPEC), first["weights"])  # no hook: strict, and the keys differ


class WeightedTwoOutputs(nn.Module):
    """Two outputs and a learnable weight on the second, applied by the model's own loss."""

    def __init__(self, scale: int):
        super().__init__()
        self.scale = scale
        self.body = TinySR(scale)
        self.log_weight = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        y = self.body(x)
        return (y, y) if self.training else y

    def training_loss(self, outputs, hr):
        first, second = ((o - hr).abs().mean() for o in outputs)
        return first + torch.exp(-self.log_weight) * second + self.log_weight


if "weighted-two" not in [c.name for c in registry.list_models()]:
    registry.register("weighted-two", paper="test", scales=(2,))(lambda scale: WeightedTwoOutputs(scale))


def test_a_model_loss_trains_its_own_weights(tmp_path):
    config = dataclasses.replace(CONFIG, loss="model", ema_decay=0.0, iterations=3)
    run = train({"name": "weighted-two", "args": {"scale": 2}}, config, tmp_path / "a", progress=False)
    assert load_file(run["weights"])["log_weight"].item() != 0.0  # the loss's parameter learned


@pytest.mark.parametrize("field", ["iterations", "batch_size", "lr_patch"])
def test_a_run_of_no_steps_is_refused_and_leaves_nothing(tmp_path, field):
    with pytest.raises(BenchError, match=f"{field} must be at least 1"):
        train(SPEC, dataclasses.replace(CONFIG, **{field: -5}), tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists() and not list(tmp_path.rglob("*.json"))


def test_retention_keeps_the_newest_and_the_best(tmp_path):
    config = dataclasses.replace(CONFIG, ema_decay=0.0, checkpoint_every=1, val_every=2, keep_last=2)
    train(SPEC, config, tmp_path, progress=False)
    rows = [row.split(",") for row in (tmp_path / "metrics.csv").read_text().splitlines()[1:]]
    validated = {int(r[0]): float(r[4]) for r in rows if r[4]}
    assert sorted(validated) == [2, 4, 6]
    best = max(validated, key=validated.get)
    folder = tmp_path / "checkpoints"
    kept = sorted(p.name for p in folder.glob("step-*.safetensors"))
    assert kept == sorted({f"step-{s:07d}.safetensors" for s in (5, 6, best)})
    pointer = json.loads((folder / "latest.json").read_text())
    assert pointer["step"] == 6 and pointer["best"]["step"] == best
    assert pointer["best"]["val_psnr"] == pytest.approx(validated[best], abs=1e-4)


def test_checkpoints_are_written_at_validated_steps_that_beat_the_best(tmp_path):
    # checkpoint_every 100 would write only the last step; a new best validation writes one too
    config = dataclasses.replace(CONFIG, ema_decay=0.0, checkpoint_every=100, val_every=3, keep_last=1)
    train(SPEC, config, tmp_path, progress=False, stop_after=3)
    assert json.loads((tmp_path / "checkpoints" / "latest.json").read_text())["best"]["step"] == 3


@pytest.mark.parametrize("tail", ["1", "11,0.1"])
def test_a_metrics_row_cut_short_by_a_kill_is_dropped_on_resume(tmp_path, tail):
    # killed while writing step 11's row, after the checkpoint of step 10: "1" looked like step 1's row
    config = dataclasses.replace(CONFIG, iterations=12, checkpoint_every=10)
    train(SPEC, config, tmp_path, progress=False, stop_after=10)
    with (tmp_path / "metrics.csv").open("a") as handle:
        handle.write(tail)  # no newline: the kill came mid-row
    train(SPEC, config, tmp_path, progress=False)
    assert [int(row.split(",")[0]) for row in (tmp_path / "metrics.csv").read_text().splitlines()[1:]] == \
        list(range(1, config.iterations + 1))
