"""A reproducibility harness for image super-resolution papers.

The harness knows no paper by name: papers register their models through the
``bench.reproductions`` entry-point group (see ``bench.registry``).
"""

import ctypes
import os
import platform
import sys

__version__ = "0.1.0"

# PyTorch's CPU allocator maps every large tensor to fresh 4 KiB pages; these models allocate score maps of
# 100-400 MB per layer, and the page faults took half of msra-light's CPU forward pass. Transparent huge pages
# for allocations of 2 MB and more (Linux; read once, at PyTorch's first allocation, so it takes effect only
# when bench is imported before torch allocates anything: the CLI, nox, `import bench` first).
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")


def keep_freed_memory() -> bool:
    """Make glibc's malloc keep freed memory for the next tensor instead of handing it back to the kernel.

    By default every block of 32 MB and more is its own mmap, unmapped when freed, so each new score map is
    faulted in and zeroed by the kernel again: 50 GB a pass for msra-light x2 at 512x384, a third of its CPU
    time spent in the kernel. With mmap off and trimming off, freed blocks are reused from the heap (a pass
    went from 10.5-12 s to 8.1-8.4 s on 2 threads; the price is a higher resident peak, 5.4 GB against 3.1 GB).
    Set BENCH_KEEP_FREED_MEMORY=0 to keep glibc's defaults. Returns whether the settings were applied."""
    if os.environ.get("BENCH_KEEP_FREED_MEMORY", "1") == "0":
        return False
    if sys.platform != "linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL("libc.so.6")
    m_trim_threshold, m_mmap_max = -1, -4  # glibc's malloc.h
    return bool(libc.mallopt(m_mmap_max, 0)) and bool(libc.mallopt(m_trim_threshold, 2**31 - 1))


keep_freed_memory()


def help_summary(doc: str) -> str:
    """A module docstring's first line, as --help shows it: without reStructuredText's double backticks."""
    return doc.split("\n")[0].replace("``", "")


class BenchError(Exception):
    """A user-facing error: the CLI prints its message alone, without a traceback."""
