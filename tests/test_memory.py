"""bench's process-wide allocator settings (bench/__init__.py): large tensors reuse freed heap memory."""

import os
import platform
import subprocess
import sys

import pytest

import bench

GLIBC = sys.platform == "linux" and platform.libc_ver()[0] == "glibc"

# Bytes that glibc's malloc holds in blocks mapped one by one (mallinfo2's hblkhd), after a 64 MB tensor.
PROBE = """
import ctypes, sys
import bench, torch

class MallInfo2(ctypes.Structure):
    _fields_ = [(f, ctypes.c_size_t) for f in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]

libc = ctypes.CDLL("libc.so.6")
if not hasattr(libc, "mallinfo2"):
    sys.exit(3)
libc.mallinfo2.restype = MallInfo2
before = libc.mallinfo2().hblkhd
x = torch.ones(64 << 20, dtype=torch.uint8)
print(libc.mallinfo2().hblkhd - before)
"""


def mapped_bytes_for_a_large_tensor(**env: str) -> int:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                            env={**os.environ, **env})
    if result.returncode == 3:
        pytest.skip("this glibc has no mallinfo2 (2.33+)")
    assert result.returncode == 0, result.stderr
    return int(result.stdout)


@pytest.mark.skipif(not GLIBC, reason="glibc's malloc only")
def test_a_large_tensor_comes_from_the_heap_not_from_a_mapping_of_its_own():
    assert mapped_bytes_for_a_large_tensor() == 0


@pytest.mark.skipif(not GLIBC, reason="glibc's malloc only")
def test_the_setting_can_be_turned_off():
    assert mapped_bytes_for_a_large_tensor(BENCH_KEEP_FREED_MEMORY="0") >= 64 << 20


def test_the_setting_says_when_it_does_not_apply(monkeypatch):
    monkeypatch.setenv("BENCH_KEEP_FREED_MEMORY", "0")
    assert bench.keep_freed_memory() is False
