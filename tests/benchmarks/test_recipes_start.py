"""Every paper's `paper` recipe starts and steps (issue 19): each paper's Train steps, the recipe unchanged except
its iteration count (2), on a small synthetic data root laid out as DIV2K / Flickr2K (DF2K) / T91 + BSD200 (291),
on the CPU: the loss is finite and a checkpoint appears. The paper batches (up to 64 patches of 64 px) make this
minutes per model on a 2-core CPU: it runs in `nox -s bench` (the benchmark fixture keeps it out of the test suite),
which also reports the seconds of the two steps."""

import dataclasses
import json
import math

import numpy as np
import pytest
from PIL import Image

from bench import registry
from bench.paper import Train, papers
from bench.train import train

TRAININGS = [(paper.name, step) for paper in papers().values() for step in paper.steps
             if isinstance(step, Train) and not step.opt_in and not isinstance(step.at("paper"), str)]


@pytest.fixture(scope="module")
def paper_shaped_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("paper-data")
    rng = np.random.default_rng(0)
    for name, count, size in (("DIV2K-train", 2, 272), ("Flickr2K", 1, 272), ("T91", 2, 264), ("BSD200", 1, 264),
                              ("Set5", 1, 48)):
        folder = root / name / "HR"
        folder.mkdir(parents=True)
        for i in range(count):
            image = rng.integers(0, 256, (size, size + 8, 3), dtype=np.uint8)
            Image.fromarray(image).save(folder / f"{i:04d}.png")
    return root


@pytest.mark.slow
@pytest.mark.parametrize("paper, step", TRAININGS, ids=[f"{p}-{s.id}" for p, s in TRAININGS])
def test_the_paper_recipe_starts_and_steps(benchmark, paper, step, paper_shaped_root, tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    step = step.at("paper")
    card = registry.get(step.model)
    scale = step.scales[0]
    config = dataclasses.replace(card.build_recipe(scale), iterations=2)
    if step.init_from:  # stage B starts from stage A's weights: stage A's recipe, two steps too
        first = next(s for p, s in TRAININGS if p == paper and s.id == step.init_from).at("paper")
        a = train({"name": first.model, "args": {"scale": scale}},
                  dataclasses.replace(registry.get(first.model).build_recipe(scale), iterations=2),
                  tmp_path / "a", paper_shaped_root, progress=False)
        config = dataclasses.replace(config, init_from=a["weights"])
    summary = benchmark.pedantic(lambda: train({"name": card.name, "args": {"scale": scale}}, config,
                                                tmp_path / "run", paper_shaped_root, progress=False),
                                 rounds=1, iterations=1)
    assert summary["finished"] and summary["steps"] == 2
    losses = [float(row.split(",")[1]) for row in (tmp_path / "run" / "metrics.csv").read_text().splitlines()[1:]]
    assert len(losses) == 2 and all(math.isfinite(x) for x in losses)
    pointer = json.loads((tmp_path / "run" / "checkpoints" / "latest.json").read_text())
    assert pointer["step"] == 2 and (tmp_path / "run" / "checkpoints" / f"{pointer['stem']}.safetensors").is_file()
