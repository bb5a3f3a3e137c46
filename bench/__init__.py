"""A reproducibility harness for image super-resolution papers.

The harness knows no paper by name: papers register their models through the
``bench.reproductions`` entry-point group (see ``bench.registry``).
"""

__version__ = "0.1.0"


class BenchError(Exception):
    """A user-facing error: the CLI prints its message alone, without a traceback."""
