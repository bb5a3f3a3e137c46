"""nox sessions: tests, lint, bench (and one reproduce-<paper> session per paper as they land)."""

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


@nox.session(name="reproduce-msra")
def reproduce_msra(session: nox.Session) -> None:
    """MSRA-SR: sizes of every model and Table 4 row vs the paper, MS-DWC reparameterisation proof and latency."""
    install(session)
    session.run("python", "-m", "reproductions.msra.reproduce", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Performance benchmarks (pytest-benchmark); they need the benchmark images (BENCH_DATA_ROOT)."""
    install(session)
    session.run("python", "-m", "pytest", "tests/benchmarks", "--benchmark-only", *session.posargs)
