"""A new user's first hour, end to end, in one fresh folder and as typed: the README's main job on the embedded
images, then `reproduce all --budget ci` with the benchmark images, the everyday commands, the regression gate and
the report. Every command here is one the README prints (checked first), so the README cannot drift from what
works. It takes about eight minutes on 2 cores, and it is the run CI's regression gate reads."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()

MAIN_JOB = ["python -m bench reproduce baselines --budget ci", "python -m bench.report --html"]
# The everyday commands, run after `reproduce all --budget ci` (small ones: full-size counts of transformers take
# minutes and are checked in the benchmarks)
EVERYDAY = [
    "python -m bench list",
    "python -m bench evaluate bicubic --dataset Set5 --scale 2 --protocol matlab --json",
    "python -m bench evaluate bicubic --dataset Set14 --scale 3 --per-image",
    "python -m bench complexity imdn --scale 2 --hr 1280x720",
    "python -m bench time swinir-light --scale 4 --lr 128x96",
    "python -m bench data list",
    "python -m bench.regression --baseline reports/baselines/ci.json --results-dir DIR",
    "python -m bench.report --html --markdown",
]


def test_every_command_run_here_is_printed_in_the_readme():
    for command in [*MAIN_JOB, "python -m bench reproduce all --budget ci", *EVERYDAY]:
        assert command in README, command


def run(command: str, folder: Path, env: dict[str, str]) -> str:
    """``command`` as typed in ``folder``; the gate's DIR is the folder's results and its baseline the repository's."""
    paths = {"DIR": str(folder / "results"), "reports/baselines/ci.json": str(REPO / "reports/baselines/ci.json")}
    args = [paths.get(a, a) for a in command.replace("python", sys.executable, 1).split()]
    done = subprocess.run(args, cwd=folder, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, f"{command} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_the_readme_path_never_breaks(tmp_path, data_root, weights_root):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_")}  # a fresh machine: no data yet
    env["BENCH_CACHE_DIR"] = str(tmp_path / "cache")  # and no cached counts
    for command in MAIN_JOB:  # no benchmark images yet: the embedded ones
        run(command, tmp_path, env)
    assert (tmp_path / "reports" / "out" / "index.html").is_file()

    env.update(BENCH_DATA_ROOT=str(data_root), BENCH_WEIGHTS_DIR=str(weights_root))
    summary = json.loads(run("python -m bench reproduce all --budget ci --json", tmp_path, env))
    papers = {p["paper"]: p for p in summary["papers"]}
    assert {"baselines", "msra", "mstn", "mesr", "amms", "msit"} <= set(papers)
    assert not [name for name, p in papers.items() if p.get("error")], summary

    for command in EVERYDAY:
        run(command, tmp_path, env)
    pages = {p.name for p in (tmp_path / "reports" / "out").glob("*.html")}
    assert {"index.html", "msra.html", "mstn.html", "mesr.html", "amms.html", "msit.html"} <= pages
    assert "reported" in (tmp_path / "reports" / "out" / "report.md").read_text()
