"""The runner: the local smoke budget never validates on its training images; a paper without a
reproduction is a clear error; skipped steps are said and kept."""

from dataclasses import replace

from bench import registry
from bench.__main__ import main as cli
from bench.paper import Context
from bench.reproduce import local_smoke


def test_local_smoke_trains_on_b100_urban100_and_validates_on_set5(data_root):
    config = local_smoke(registry.get("swinir-light").build_recipe(2), data_root)
    assert (config.train_sets, config.val_set) == (("B100", "Urban100"), "Set5")
    assert config.budget.startswith("smoke:") and config.tier == "smoke"


def test_local_smoke_falls_back_to_the_embedded_samples(tmp_path):
    config = local_smoke(registry.get("swinir-light").build_recipe(2), tmp_path, tier="ci", iterations=10)
    assert (config.train_sets, config.val_set, config.iterations) == (("samples-train",), "samples", 10)
    assert config.budget_record()["tier"] == "ci" and config.budget_record()["overrides"]["iterations"] == 10


def test_skipped_steps_are_said_and_kept(capsys):
    ctx = Context("p", "ci")
    ctx.skip("evaluation on Manga109", "not downloaded")
    assert ctx.skipped == [{"step": "evaluation on Manga109", "why": "not downloaded"}]
    assert "skipped evaluation on Manga109: not downloaded" in capsys.readouterr().err


def test_unknown_paper_is_an_error_that_lists_the_papers(capsys):
    assert cli(["reproduce", "nope"]) == 2
    err = capsys.readouterr().err
    assert "no reproduction for 'nope'" in err and "msra" in err and "baselines" in err


def test_one_paper_failing_does_not_stop_the_others(monkeypatch, capsys):
    import json

    from bench import BenchError, reproduce
    from bench.paper import Paper, Probe

    def broken(ctx):
        raise BenchError("a step that cannot run")

    def fine(ctx):
        return [{"model": "bicubic", "value": 1}]

    monkeypatch.setattr(reproduce, "papers", lambda: {
        "a": Paper("a", "A paper that fails (venue not stated)", steps=(Probe(id="p", kind="probe", run=broken),)),
        "b": Paper("b", "A paper that runs (venue not stated)", steps=(Probe(id="p", kind="probe", run=fine),))})
    assert reproduce.main(["all", "--budget", "ci", "--json"]) == 1
    out, err = capsys.readouterr()
    summary = json.loads(out)  # one object for all papers
    assert [p["paper"] for p in summary["papers"]] == ["a", "b"]
    assert summary["papers"][0]["error"] == "a step that cannot run" and "p" in summary["papers"][1]["steps"]
    assert "error: a: a step that cannot run" in err


def test_an_ensemble_evaluate_step_runs_the_self_ensemble_and_says_so(tmp_path, monkeypatch):
    """``Evaluate(ensemble=True)`` (the papers' "+" rows) reaches bench.evaluate's x8 self-ensemble, for the
    models and the reference alike, and the stored records carry ``self_ensemble``, the flag that pairs them
    with reported rows tagged ``self-ensemble``."""
    from bench import evaluate, results
    from bench.measurements import flatten
    from bench.paper import Evaluate
    from bench.reproduce import run_evaluate

    calls = []
    original = evaluate.self_ensemble

    def counted(model, lr):
        calls.append(lr.shape)
        return original(model, lr)

    monkeypatch.setattr(evaluate, "self_ensemble", counted)
    step = Evaluate(id="e", models=("bicubic",), scales=(2,), against="bicubic", ensemble=True)
    stored = run_evaluate(step, Context("p", "ci", data_root=tmp_path))  # no sets there: the embedded samples
    evaluations = [r for r in stored if "reference" not in r]
    assert len(evaluations) == 2 and all(r["self_ensemble"] for r in evaluations)
    assert len(calls) == sum(r["n_images"] for r in evaluations)  # one ensemble per image, none skipped
    keys = [m.key for r in results.load_records(kind="evaluate") for m in flatten(r)]
    assert len(keys) == 4 and all(key.self_ensemble for key in keys)  # PSNR and SSIM of each
    plain = run_evaluate(replace(step, ensemble=False, against=""), Context("p", "ci", data_root=tmp_path))
    assert not plain[0]["self_ensemble"] and len(calls) == sum(r["n_images"] for r in evaluations)


def test_weights_are_never_evaluated_on_the_sets_they_trained_on(monkeypatch):
    """A short budget trains on B100 and Urban100 (no DIV2K here): its evaluation skips them, and says so."""
    from bench import reproduce
    from bench.paper import Evaluate

    evaluated = []
    monkeypatch.setattr(reproduce, "available_sets", lambda wanted, root: (["Set5", "B100", "Urban100"], []))
    monkeypatch.setattr(reproduce, "weights_budget",
                        lambda path: {"tier": "smoke", "overrides": {"train_sets": ("B100", "Urban100")}})
    monkeypatch.setattr(reproduce, "evaluate_models",
                        lambda name, scale, sets, *args, **kwargs: evaluated.append((name, sets)) or [])
    ctx = Context("p", "smoke")
    ctx.weights[("train", 2)] = "trained.pt"
    reproduce.run_evaluate(Evaluate(id="e", models=("swinir-light",), scales=(2,), weights="train"), ctx)
    assert evaluated == [("swinir-light", ["Set5"])]
    assert ctx.skipped[0]["step"] == "e x2 on B100, Urban100" and "trained on it" in ctx.skipped[0]["why"]
