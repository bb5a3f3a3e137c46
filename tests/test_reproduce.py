"""The runner: the local smoke budget never validates on its training images; a paper without a
reproduction is a clear error; skipped steps are said and kept."""

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
