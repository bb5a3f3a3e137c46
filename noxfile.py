"""nox sessions: tests, lint, bench, report, and one reproduce-<paper> session per paper."""

import nox

nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["tests"]

# The local CPU build; a GPU machine installs its CUDA build of torch (2.4 <= torch < 2.15) first.
TORCH = "torch==2.13.0"


def install(session: nox.Session) -> None:
    session.install(TORCH, "-e", ".[dev]")


@nox.session
def tests(session: nox.Session) -> None:
    install(session)
    session.run("python", "-m", "pytest", *session.posargs, success_codes=[0, 5])


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", "bench", "reproductions", "tests", "noxfile.py")


def reproduce(session: nox.Session, paper: str) -> None:
    """``python -m bench reproduce PAPER`` (options after ``--``, e.g. ``-- --budget paper``), then the report."""
    install(session)
    session.run("python", "-m", "bench", "reproduce", paper, *session.posargs)
    session.run("python", "-m", "bench.report", "--html", "--markdown")


@nox.session(name="reproduce-msra")
def reproduce_msra(session: nox.Session) -> None:
    """MSRA-SR: sizes of every model and Table 4 row, MS-DWC reparameterisation, smoke training, evaluation."""
    reproduce(session, "msra")


@nox.session(name="reproduce-msit")
def reproduce_msit(session: nox.Session) -> None:
    """MSIT: sizes of every Table III row, RIM merge and latency, two-stage smoke training, Set5 x2/x4."""
    reproduce(session, "msit")


@nox.session(name="reproduce-mstn")
def reproduce_mstn(session: nox.Session) -> None:
    """MSTN: sizes at x2/x4, one model trained at x4 and evaluated at x2 and x4 (slow on a CPU: see its docs)."""
    reproduce(session, "mstn")


@nox.session(name="reproduce-mesr")
def reproduce_mesr(session: nox.Session) -> None:
    """MESR: sizes of every Table 1/2 row, smoke training at x2 and x4, both stage outputs evaluated."""
    reproduce(session, "mesr")


@nox.session(name="reproduce-amms")
def reproduce_amms(session: nox.Session) -> None:
    """AMMS: sizes, non-local memory, Table 2's bicubic rows, smoke training at x2 and x4."""
    reproduce(session, "amms")


@nox.session(name="reproduce-baselines")
def reproduce_baselines(session: nox.Session) -> None:
    """Bicubic rows, IMDN's public checkpoints, baseline sizes, the SwinIR-light smoke training."""
    reproduce(session, "baselines")


@nox.session
def report(session: nox.Session) -> None:
    """Render reported vs measured from the results store: reports/out/index.html and report.md."""
    install(session)
    session.run("python", "-m", "bench.report", "--html", "--markdown", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Performance benchmarks (pytest-benchmark); they need the benchmark images (BENCH_DATA_ROOT)."""
    install(session)
    # pytest imports torch before bench, and PyTorch reads THP_MEM_ALLOC_ENABLE at its first allocation: set here.
    session.run("python", "-m", "pytest", "tests/benchmarks", "--benchmark-only", *session.posargs,
                env={"THP_MEM_ALLOC_ENABLE": "1"})
