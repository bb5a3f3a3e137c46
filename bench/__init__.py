"""A reproducibility harness for image super-resolution papers.

The harness knows no paper by name: papers register their models through the
``bench.reproductions`` entry-point group (see ``bench.registry``).
"""

import os

__version__ = "0.1.0"

# PyTorch's CPU allocator maps every large tensor to fresh 4 KiB pages; these models allocate score maps of
# 100-400 MB per layer, and the page faults took half of msra-light's CPU forward pass. Transparent huge pages
# for allocations of 2 MB and more (Linux; read once, at PyTorch's first allocation, so it takes effect only
# when bench is imported before torch allocates anything: the CLI, nox, `import bench` first).
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")


def help_summary(doc: str) -> str:
    """A module docstring's first line, as --help shows it: without reStructuredText's double backticks."""
    return doc.split("\n")[0].replace("``", "")


class BenchError(Exception):
    """A user-facing error: the CLI prints its message alone, without a traceback."""
