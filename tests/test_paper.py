"""Paper manifests: one walk of the entry points that fails loudly, tiers as data, and an outside paper that
plugs in with no change to bench/ and gets its page in the report."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.paper import TIERS, Evaluate, Paper, Sizes, papers

OUTSIDE = '''
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from bench.paper import Paper, Sizes
from bench.registry import Variant, option, register


@dataclass(frozen=True)
class OutsideConfig:
    width: int = option(12, "an outside paper's Table 1")


class OutsideNet(nn.Module):
    def __init__(self, scale, width):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.Conv2d(width, 3 * scale * scale, 1),
                                  nn.PixelShuffle(scale))

    def forward(self, x):
        return self.body(x)


register("outside-net", paper="Outside (venue not stated)", scales=(2,), config=OutsideConfig,
         variants={"narrow": Variant({"width": 4}, "Table 1: the narrow row")})(OutsideNet)

PAPER = Paper(name="outside", title="An outside paper on tiny SR (venue not stated)",
              reported=Path(__file__).with_name("reported.csv"),
              steps=(Sizes(id="sizes", rows=(("outside-net", 2), ("outside-net.narrow", 2)), hr=(32, 32),
                           counter="meta"),))
'''
# Params as the outside paper would print them: 3*12*9+12 + 12*12+12 = 492 and 3*4*9+4 + 4*12+12 = 172.
REPORTED = """paper,table,model,variant,scale,dataset,metric,value,protocol,note
outside,Table 1,outside-net,,2,,params,492,,
outside,Table 1,outside-net,narrow,2,,params,172,,
"""


def _plugin(root, name, module_text, files=None):
    """A throwaway distribution on ``root``: a package and a dist-info naming it in bench's group."""
    package = root / name
    package.mkdir()
    (package / "__init__.py").write_text(module_text)
    for file, text in (files or {}).items():
        (package / file).write_text(text)
    info = root / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[bench.reproductions]\n{name.split('_')[0]} = {name}:PAPER\n")


def _run(root, *args):
    repo = Path(__file__).resolve().parents[1]  # this checkout's bench, whatever the installed one points at
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(repo), os.environ.get("PYTHONPATH", "")]),
           "BENCH_RESULTS_DIR": str(root / "results"), "BENCH_CACHE_DIR": str(root / "cache")}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=300, cwd=root)


def test_an_outside_paper_plugs_in_and_gets_its_page(tmp_path):
    _plugin(tmp_path, "outside_paper", OUTSIDE, {"reported.csv": REPORTED})
    done = _run(tmp_path, "-m", "bench", "reproduce", "outside", "--budget", "ci")
    assert done.returncode == 0, done.stderr
    assert "outside: 2 reported cells measured in this run: 2 match" in done.stderr
    done = _run(tmp_path, "-m", "bench.report", "--html", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "out" / "outside.html").read_text()
    assert "An outside paper on tiny SR (venue not stated)" in page and "match" in page
    assert "outside.html" in (tmp_path / "out" / "index.html").read_text()


def test_a_plugin_that_fails_to_load_is_named_in_one_error_line(tmp_path):
    _plugin(tmp_path, "broken_paper", "raise ImportError('a module it needs is missing')")
    done = _run(tmp_path, "-m", "bench", "list")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "the paper plug-in 'broken' (broken_paper:PAPER) failed to load: ImportError: a module it needs" \
           in done.stderr


def test_every_installed_paper_has_a_title_and_a_plan_for_every_tier():
    found = papers()
    assert set(found) >= {"baselines", "msra", "mstn", "mesr", "amms", "msit"}
    for paper in found.values():
        assert paper.title and "seed" not in paper.title.lower()
        for step in paper.steps:
            for tier in TIERS:
                plan = step.at(tier)
                assert isinstance(plan, str) or type(plan) is type(step)


def test_a_tier_overrides_fields_or_says_why_it_skips():
    step = Evaluate(id="e", models=("bicubic",), scales=(2,), tiers={"ci": {"sets": ("Set5",)}, "smoke": "too slow"})
    assert step.at("ci").sets == ("Set5",) and step.at("smoke") == "too slow"
    assert step.at("paper") == "not part of the paper budget"
    with pytest.raises(ValueError, match="step ids repeat"):
        Paper("p", "t", steps=(Sizes(id="s", rows=()), Sizes(id="s", rows=())))


def test_unknown_steps_are_refused_with_the_paper_s_steps(capsys):
    from bench.__main__ import main as cli

    assert cli(["reproduce", "msit", "--steps", "nope"]) == 2
    assert "msit has no step nope; its steps: sizes" in capsys.readouterr().err


def test_a_paper_s_reproduce_module_is_gone():
    """The manifests replaced the per-paper scripts: no paper folder holds a reproduce.py."""
    import reproductions

    assert not list(Path(reproductions.__file__).parent.glob("*/reproduce.py"))
